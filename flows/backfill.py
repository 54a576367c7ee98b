"""Backfill flow: ingest a directory, WARC/ARC files, a URL list or the source list's archives
over a date window, on demand. Same pipeline and index as the hourly runs; the hourly runs' feed
validators and retry schedule are left alone."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from prefect import flow

from flows.fanout import FILES_PER_SHARD, fan_out_paths
from flows.stream import check_paths, gather_inputs, ingest_run, ingest_stream
from tasks.extract.read_files import iter_archives
from tasks.report import RunReport
from tasks.sources import Source, enabled_sources
from tasks.window import DateWindow

MAX_BACKFILL_URLS = 100_000


def backfill_sources(paths: list[str], url_list: str | None, urls: list[str],
                     sources_file: str | None, only: list[str] | None,
                     has_warcs: bool = False) -> tuple[list[Source], list[str]]:
    """The web sources and local folders a backfill reads, checked before anything runs."""
    if not (paths or url_list or urls or sources_file or has_warcs):
        raise ValueError("nothing to backfill: give paths, warcs, url_list, urls or sources_file")
    check_paths([*paths, *([url_list] if url_list else [])])
    if only and not sources_file:
        raise ValueError("`only` selects sources of a sources_file; give sources_file too")
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


@flow(name="backfill")
def backfill(paths: list[str] | None = None, url_list: str | None = None,
             urls: list[str] | None = None, sources_file: str | None = None,
             only: list[str] | None = None, since: date | datetime | None = None,
             until: date | datetime | None = None, refetch: bool = False,
             batch_size: int = 500, setup: bool = True, warcs: list[str] | None = None,
             dask: bool = False, files_per_shard: int = FILES_PER_SHARD) -> RunReport:
    """Ingest folders (`paths`), a file of URLs (`url_list`), `urls`, or the feeds and
    sitemaps of `sources_file`, keeping articles published in [since, until] (a bare date as
    `until` includes that day; naive times are UTC), and the pages of the WARC/ARC files
    `warcs`. Pages already indexed are not fetched again unless `refetch`; URLs that failed
    before are tried again. With `dask`, folders and archives are read in shards on a Dask
    cluster (`flows/fanout.py`); web pages are still fetched here, by the run's one polite
    fetcher."""
    window = DateWindow.of(since, until)
    check_paths(warcs or [])
    web, folders = backfill_sources(paths or [], url_list, urls or [], sources_file, only,
                                    has_warcs=bool(warcs))
    with ingest_run(batch_size, setup) as run:
        if dask:
            if web:
                ingest_stream(run, gather_inputs(run, web, [], backfill=True, refetch=refetch,
                                                 window=window), window=window, remember=True)
            fan_out_paths(run, folders, warcs or [], window, files_per_shard)
            return run.report
        inputs = itertools.chain(
            gather_inputs(run, web, folders, backfill=True, refetch=refetch, window=window),
            iter_archives(warcs or []))
        ingest_stream(run, inputs, window=window, remember=True)
    return run.report
