"""The frame of every ingesting run and its batch loop: open the cluster once, read inputs
lazily, and take every batch through prepare -> enrich -> cluster -> index, counting every
input once. The flows (`flows/ingest.py`, `flows/backfill.py`, `flows/fanout.py`) are
assembled from these steps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture

from flows.runtime import current_run_id, runtime_settings
from flows.steps import (
    cluster_batch,
    discover_links,
    enrich_batch,
    ensure_indices,
    fetch_pages,
    index_batch,
    keep_skips,
    prepare,
    quoted,
    remember_outcomes,
    select_new_links,
)
from tasks import progress
from tasks.batches import batched
from tasks.extract.read_files import iter_inputs
from tasks.fetch.session import open_fetch_session
from tasks.fetch.web import fetch_settings_for
from tasks.models import Article, Skip, split_skips
from tasks.report import RunReport
from tasks.settings import ConfigError, Settings
from tasks.sources import Source
from tasks.store.bulk import IndexReport, Rejection
from tasks.store.client import open_cluster
from tasks.store.state import UrlState, load_robots, outcomes_of
from tasks.window import DateWindow, articles_in_window, links_in_window

ALL_TIME = DateWindow()


@dataclass(slots=True)
class IngestRun:
    """One ingesting run: its settings and clients (opened once), its report and batch size,
    and what it must remember across batches."""

    settings: Settings
    es: Elasticsearch
    batch_size: int
    run_id: str
    report: RunReport = field(default_factory=RunReport)
    seen: dict[str, str] = field(default_factory=dict)  # article ids of this run -> origin
    previous: dict[str, UrlState] = field(default_factory=dict)  # URLs tried in earlier runs
    done: int = 0  # inputs whose batch is finished


class InputNotFound(ConfigError, ValueError):
    """A file or directory given to a run does not exist."""


# --- the frame of every ingest flow ------------------------------------------------------------


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


def check_paths(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Every given path exists: a typo fails at once, not as an empty run. (A dangling link
    exists: it is read, and skipped with its reason.)"""
    missing = [str(p) for p in paths if not os.path.lexists(p)]
    if missing:
        raise InputNotFound(f"input not found: {', '.join(missing)}")


def finish_run(report: RunReport, started: float) -> RunReport:
    """Check the accounting, publish the summary artifact, log it."""
    logger = get_run_logger()
    report.duration_s = time.monotonic() - started
    for example in report.skip_examples:
        logger.warning("skipped %s", example)
    if not report.balanced:
        raise RuntimeError(f"run does not balance, articles went missing: {report.to_dict(full=False)}")
    create_markdown_artifact(report.to_markdown(), key="ingest-summary",
                             description="ceasefire-etl ingest run summary")
    logger.info("ingest summary: %s", json.dumps(report.to_dict(full=False)))
    return report


@contextmanager
def ingest_run(batch_size: int, setup: bool) -> Iterator[IngestRun]:
    """Check the batch size, open the cluster (once), set up the indices; on success, finish
    the report. Runs may overlap: every batch's clusters are settled against other writers."""
    check_batch_size(batch_size)
    started = time.monotonic()
    settings = runtime_settings()
    with open_cluster(settings) as es:
        run = IngestRun(settings, es, batch_size, current_run_id())
        if setup:
            ensure_indices(es, settings)
        yield run
        finish_run(run.report, started)


# --- inputs, read lazily -----------------------------------------------------------------------


def web_inputs(run: IngestRun, web: list[Source], *, backfill: bool = False,
               refetch: bool = False, window: DateWindow = ALL_TIME) -> Iterator[Article | Skip]:
    """Discover links, keep the new ones, then fetch and extract their pages a batch at a
    time, with one fetcher for the run."""
    settings, es, report = run.settings, run.es, run.report
    robots = load_robots(es, settings.state_index)
    with open_fetch_session(fetch_settings_for(settings, web), robots) as fetching:
        found = discover_links(quoted(web), quoted(fetching), quoted(es), settings,
                               conditional=not backfill)
        report.discovered = len(found.links)
        report.feeds_not_modified = found.not_modified
        report.add_listing_skips(found.skips)
        links, report.outside_window = links_in_window(found.links, window)
        new, run.previous, report.seen_before = select_new_links(
            quoted(links), quoted(es), settings, skip_indexed=not refetch, retry_schedule=not backfill)
        for chunk in batched(new, run.batch_size):
            articles, skips, fetched = fetch_pages(quoted(chunk), quoted(fetching), quoted(es), settings)
            report.fetched += fetched
            yield from articles
            yield from skips
        report.http_requests = fetching.requests_sent


def gather_inputs(run: IngestRun, web: list[Source], folders: list[str], *,
                  backfill: bool = False, refetch: bool = False,
                  window: DateWindow = ALL_TIME) -> Iterator[Article | Skip]:
    """The web sources' new pages, then the folders' files, as one lazy stream. A backfill
    ignores feed validators and retry times; `refetch` fetches pages already indexed too."""
    if web:
        yield from web_inputs(run, web, backfill=backfill, refetch=refetch, window=window)
    if folders:
        yield from iter_inputs(folders)


# --- each batch through the pipeline ----------------------------------------------------------


@dataclass(slots=True)
class Staged:
    """A batch read, prepared and enriched, waiting for its write."""

    inputs: int  # how many inputs the batch held
    ready: list[Article]  # prepared and enriched, to cluster and index
    skipped: list[Skip]  # counted as skipped, remembered as tried (web runs)
    outside: list[Skip]  # outside a backfill's window: counted, not remembered
    write: PrefectFuture[IndexReport] | None = None


def stage(run: IngestRun, batch: list[Article | Skip], window: DateWindow) -> Staged:
    """Account for a batch of inputs, prepare and enrich it (CPU work that overlaps the
    previous batch's write)."""
    report = run.report
    articles, skips = split_skips(batch)
    articles, outside = articles_in_window(articles, window)
    report.add_inputs(len(articles), skips + outside)
    report.add_notes(articles)
    ready, dropped = prepare(quoted(articles), quoted(run.seen))
    report.add_skips(dropped)
    enriched, failed = enrich_batch(quoted(ready), run.settings) if ready else ([], [])
    report.add_skips(failed)
    return Staged(len(batch), enriched, skips + dropped + failed, outside)


def write(run: IngestRun, staged: Staged) -> Staged:
    """Cluster the batch against everything written so far, then start its write in the
    background. The batch's ledger is made here, outside the task: if Prefect retries the
    task, writes of the failed try still count as created/updated, not as "unchanged"."""
    if staged.ready:
        settings, es, report = run.settings, run.es, run.report
        clusters = cluster_batch(quoted(staged.ready), quoted(es), settings)
        report.near_duplicates += clusters.near_duplicates
        report.clusters_relabelled += len(clusters.plan.relabel)
        ledger: dict[str, str] = {}
        staged.write = index_batch.submit(quoted(staged.ready), quoted(clusters.plan.relabel),
                                          quoted(es), settings, quoted(ledger))
    return staged


def finish(run: IngestRun, staged: Staged, remember: bool) -> None:
    """Wait for the batch's write; count it, keep its skips, remember its URLs' outcomes."""
    rejected: list[Rejection] = []
    if staged.write is not None:
        result = staged.write.result()
        run.report.add_index(result)
        rejected = result.rejections
    if staged.skipped or staged.outside:
        keep_skips(quoted(staged.skipped + staged.outside), run.run_id, quoted(run.es), run.settings)
    if remember:
        outcomes = outcomes_of(staged.ready, staged.skipped, {r.article_id for r in rejected})
        if outcomes:
            remember_outcomes(quoted(outcomes), quoted(run.previous), quoted(run.es), run.settings)
    run.done += staged.inputs
    progress.advance("enrich, cluster, index", run.done, 0)  # a stream: no total


def ingest_stream(run: IngestRun, items: Iterable[Article | Skip], *, window: DateWindow = ALL_TIME,
                  remember: bool = False) -> None:
    """Every input through the pipeline in bounded batches, read lazily: memory follows the
    batch size, not the size of the input. While a batch is written, the next one is read,
    prepared and enriched; it is clustered only once the previous write is done, so it sees
    every earlier copy."""
    writing: Staged | None = None
    for batch in batched(items, run.batch_size):
        staged = stage(run, batch, window)
        if writing is not None:
            finish(run, writing, remember)
        writing = write(run, staged)
    if writing is not None:
        finish(run, writing, remember)
