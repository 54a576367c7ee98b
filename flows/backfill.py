"""Backfill flow: ingest a directory, WARC/ARC files, a URL list or the source list's archives
over a date window, on demand. Same pipeline and index as the hourly runs; the hourly runs' feed
validators and retry schedule are left alone."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial

from prefect import flow

from flows.fanout import FILES_PER_SHARD, fan_out_paths
from flows.steps import PREFECT_STEPS
from tasks.pipeline import runs
from tasks.report import RunReport


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
    fan_out = partial(fan_out_paths, files_per_shard=files_per_shard) if dask else None
    return runs.backfill(PREFECT_STEPS, paths, url_list, urls, sources_file, only, since, until,
                         refetch, batch_size, setup, warcs, fan_out)
