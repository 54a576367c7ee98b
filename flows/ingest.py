"""Ingest flows: sources (feeds, sitemaps, URL lists, folders) or files -> extract -> clean ->
identity -> enrich -> near-duplicate clusters -> bulk index, with a run summary.

Read a flow top to bottom as the table of contents of the pipeline; the run frame and batch
loop are in `flows/stream.py`, each step is a task in `flows/steps.py` over functions of
`tasks/`, and `flows/fanout.py` spreads large inputs over a Dask cluster.
"""

from __future__ import annotations

from prefect import flow

from flows.fanout import FILES_PER_SHARD, fan_out_paths
from flows.stream import check_paths, gather_inputs, ingest_run, ingest_stream
from tasks.extract.read_files import iter_inputs
from tasks.report import RunReport
from tasks.sources import enabled_sources


@flow(name="ingest-files")
def ingest_files(paths: list[str], batch_size: int = 500, setup: bool = True, dask: bool = False,
                 files_per_shard: int = FILES_PER_SHARD) -> RunReport:
    """Ingest articles from local files and directories (plain text, HTML, JSONL, WARC/ARC);
    with `dask`, spread over a Dask cluster in shards of `files_per_shard` files."""
    check_paths(paths)
    with ingest_run(batch_size, setup) as run:
        if dask:
            fan_out_paths(run, paths, [], files_per_shard=files_per_shard)
        else:
            ingest_stream(run, iter_inputs(paths))
    return run.report


@flow(name="ingest-sources")
def ingest_sources(sources_file: str = "sources.yaml", only: list[str] | None = None,
                   batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest everything new from the source list: feeds, sitemaps, URL lists, directories."""
    sources = enabled_sources(sources_file, only)
    web = [s for s in sources if s.kind != "directory"]
    folders = [s.path for s in sources if s.kind == "directory" and s.path]
    with ingest_run(batch_size, setup) as run:
        ingest_stream(run, gather_inputs(run, web, folders), remember=True)
    return run.report
