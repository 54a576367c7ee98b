"""The ingesting runs, read top to bottom as the table of contents of the pipeline: files,
the source list, a backfill. The same functions run in this process (`local_steps`) and as
the bodies of the Prefect flows (`flows/ingest.py`, `flows/backfill.py`), which add a flow
run, task runs, Secret blocks and the Dask fan-out (passed in as `fan_out`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime

from tasks.extract.read_files import iter_archives, iter_inputs
from tasks.pipeline.checks import check_paths
from tasks.pipeline.inputs import gather_inputs
from tasks.pipeline.run import IngestRun, ingest_run, ingest_stream
from tasks.pipeline.steps import Steps
from tasks.report import RunReport
from tasks.settings import ConfigError
from tasks.sources import Source, enabled_sources
from tasks.window import DateWindow

MAX_BACKFILL_URLS = 100_000
# Spreads folders and archives over other processes: (run, folders, archives, window).
FanOut = Callable[[IngestRun, list[str], list[str], DateWindow], None]


class NothingToDo(ConfigError, ValueError):
    """A run was given no input, or options that select nothing."""


def ingest_files(steps: Steps, paths: list[str], batch_size: int = 500, setup: bool = True,
                 fan_out: FanOut | None = None) -> RunReport:
    """Articles from local files and directories (plain text, HTML, JSONL, WARC/ARC)."""
    check_paths(paths)
    with ingest_run(steps, batch_size, setup) as run:
        if fan_out:
            fan_out(run, paths, [], DateWindow())
        else:
            ingest_stream(run, iter_inputs(paths))
    return run.report


def ingest_sources(steps: Steps, sources_file: str = "sources.yaml", only: list[str] | None = None,
                   batch_size: int = 500, setup: bool = True) -> RunReport:
    """Everything new from the source list: feeds, sitemaps, URL lists, directories."""
    sources = enabled_sources(sources_file, only)
    web = [s for s in sources if s.kind != "directory"]
    folders = [s.path for s in sources if s.kind == "directory" and s.path]
    with ingest_run(steps, batch_size, setup) as run:
        ingest_stream(run, gather_inputs(run, web, folders), remember=True)
    return run.report


def backfill_sources(paths: list[str], url_list: str | None, urls: list[str],
                     sources_file: str | None, only: list[str] | None,
                     has_warcs: bool = False) -> tuple[list[Source], list[str]]:
    """The web sources and local folders a backfill reads, checked before anything runs."""
    if not (paths or url_list or urls or sources_file or has_warcs):
        raise NothingToDo("nothing to backfill: give paths, warcs, url_list, urls or sources_file")
    check_paths([*paths, *([url_list] if url_list else [])])
    if only and not sources_file:
        raise NothingToDo("`only` selects sources of a sources_file; give sources_file too")
    web: list[Source] = []
    folders = list(paths)
    if url_list or urls:
        web.append(Source(name="backfill-urls", kind="urls", path=url_list, urls=urls,
                          max_items=MAX_BACKFILL_URLS))
    if sources_file:
        listed = enabled_sources(sources_file, only)
        web += [s for s in listed if s.kind != "directory"]
        folders += [s.path for s in listed if s.kind == "directory" and s.path]
    return web, folders


def backfill(steps: Steps, paths: list[str] | None = None, url_list: str | None = None,
             urls: list[str] | None = None, sources_file: str | None = None,
             only: list[str] | None = None, since: date | datetime | None = None,
             until: date | datetime | None = None, refetch: bool = False,
             batch_size: int = 500, setup: bool = True, warcs: list[str] | None = None,
             fan_out: FanOut | None = None) -> RunReport:
    """Folders (`paths`), a file of URLs (`url_list`), `urls`, the feeds and sitemaps of
    `sources_file`, and the pages of the WARC/ARC files `warcs`, keeping articles published
    in [since, until] (a bare date as `until` includes that day; naive times are UTC). Pages
    already indexed are not fetched again unless `refetch`; URLs that failed before are tried
    again. With `fan_out`, folders and archives are read elsewhere; web pages are still
    fetched here, by the run's one polite fetcher."""
    window = DateWindow.of(since, until)
    check_paths(warcs or [])
    web, folders = backfill_sources(paths or [], url_list, urls or [], sources_file, only,
                                    has_warcs=bool(warcs))
    with ingest_run(steps, batch_size, setup) as run:
        if fan_out:
            if web:
                ingest_stream(run, gather_inputs(run, web, [], backfill=True, refetch=refetch,
                                                 window=window), window=window, remember=True)
            fan_out(run, folders, warcs or [], window)
            return run.report
        inputs = itertools.chain(
            gather_inputs(run, web, folders, backfill=True, refetch=refetch, window=window),
            iter_archives(warcs or []))
        ingest_stream(run, inputs, window=window, remember=True)
    return run.report
