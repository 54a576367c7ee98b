"""`ceasefire`: the command line for ops and researchers (Typer; `ceasefire --help`).

Modules by what they do: `app` (the application, global options, `main`), `errors`
(exceptions as one or two plain lines and an exit code, secrets redacted), `output`
(consoles, tables, JSON), `ops` (es, setup, ingest, run, backfill, reindex, sources, demo),
`research` (search, facets, export, timeline, report, serve), `deadletter`.

Only the standard library and Typer are imported at start: `--help` and argument errors
answer at once; Elasticsearch, Prefect and the settings load inside the commands.
"""

from ceasefire.cli.app import app, main

__all__ = ["app", "main"]
