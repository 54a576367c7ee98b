"""Ingest flows: sources (feeds, sitemaps, URL lists, folders) or files -> extract -> clean ->
identity -> enrich -> near-duplicate clusters -> bulk index, with a run summary.

The flows are the runs of `tasks/pipeline/runs.py` (read them as the table of contents of the
pipeline) with their steps as Prefect tasks (`flows/steps.py`); `flows/fanout.py` spreads
large inputs over a Dask cluster.
"""

from __future__ import annotations

from functools import partial

from prefect import flow

from flows.fanout import FILES_PER_SHARD, fan_out_paths
from flows.steps import PREFECT_STEPS
from tasks.pipeline import runs
from tasks.report import RunReport


@flow(name="ingest-files")
def ingest_files(paths: list[str], batch_size: int = 500, setup: bool = True, dask: bool = False,
                 files_per_shard: int = FILES_PER_SHARD) -> RunReport:
    """Ingest articles from local files and directories (plain text, HTML, JSONL, WARC/ARC);
    with `dask`, spread over a Dask cluster in shards of `files_per_shard` files."""
    fan_out = partial(fan_out_paths, files_per_shard=files_per_shard) if dask else None
    return runs.ingest_files(PREFECT_STEPS, paths, batch_size, setup, fan_out)


@flow(name="ingest-sources")
def ingest_sources(sources_file: str = "sources.yaml", only: list[str] | None = None,
                   batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest everything new from the source list: feeds, sitemaps, URL lists, directories."""
    return runs.ingest_sources(PREFECT_STEPS, sources_file, only, batch_size, setup)
