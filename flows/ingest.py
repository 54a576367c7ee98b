"""Ingest flows: sources (feeds, sitemaps, URL lists, folders) or files -> extract -> clean ->
identity -> enrich -> near-duplicate clusters -> bulk index, with a run summary.

Read a flow top to bottom as the table of contents of the pipeline; each step is a task in
`flows/steps.py` over functions of `tasks/`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.runtime import one_ingest_at_a_time, runtime_settings
from flows.steps import (
    cluster_batch,
    discover_links,
    enrich_batch,
    ensure_indices,
    fetch_pages,
    index_batch,
    prepare,
    quoted,
    read_inputs,
    remember_outcomes,
    select_new_links,
)
from tasks import progress
from tasks.fetch.session import open_fetch_session
from tasks.fetch.web import fetch_settings_for
from tasks.models import Article, Skip
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.sources import Source, enabled_sources
from tasks.store.bulk import Rejection
from tasks.store.client import open_cluster
from tasks.store.state import UrlState, load_robots, outcomes_of
from tasks.window import DateWindow, links_in_window

ALL_TIME = DateWindow()


@dataclass(slots=True)
class IngestRun:
    """One ingesting run: its settings and clients (opened once), its report, its batch size."""

    settings: Settings
    es: Elasticsearch
    batch_size: int
    report: RunReport = field(default_factory=RunReport)


@dataclass(slots=True)
class Gathered:
    """What a run read: articles, skips, and the stored outcomes of URLs tried before."""

    articles: list[Article] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    previous: dict[str, UrlState] = field(default_factory=dict)


# --- the frame of every ingest flow ------------------------------------------------------------


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


def finish_run(report: RunReport, started: float) -> RunReport:
    """Check the accounting, publish the summary artifact, log it."""
    logger = get_run_logger()
    report.duration_s = time.monotonic() - started
    for example in report.skip_examples:
        logger.warning("skipped %s", example)
    if not report.balanced:
        raise RuntimeError(f"run does not balance, articles went missing: {report.to_dict()}")
    create_markdown_artifact(report.to_markdown(), key="ingest-summary",
                             description="ceasefire-etl ingest run summary")
    logger.info("ingest summary: %s", report.to_dict())
    return report


@contextmanager
def ingest_run(batch_size: int, setup: bool) -> Iterator[IngestRun]:
    """Check the batch size, open the cluster (once), take the ingest slot, set up the
    indices; on success, finish the report."""
    check_batch_size(batch_size)
    started = time.monotonic()
    settings = runtime_settings()
    with open_cluster(settings) as es:
        run = IngestRun(settings, es, batch_size)
        with one_ingest_at_a_time():
            if setup:
                ensure_indices(es, settings)
            yield run
        finish_run(run.report, started)


# --- the steps, in pipeline order ------------------------------------------------------------


def fetch_web(run: IngestRun, web: list[Source], *, backfill: bool = False,
              refetch: bool = False, window: DateWindow = ALL_TIME) -> Gathered:
    """Discover links, keep the new ones, fetch and extract their pages, with one fetcher."""
    settings, es, report = run.settings, run.es, run.report
    robots = load_robots(es, settings.state_index)
    with open_fetch_session(fetch_settings_for(settings, web), robots) as fetching:
        found = discover_links(quoted(web), quoted(fetching), quoted(es), settings,
                               conditional=not backfill)
        report.discovered = len(found.links)
        report.feeds_not_modified = found.not_modified
        report.add_listing_skips(found.skips)
        links, report.outside_window = links_in_window(found.links, window)
        new, previous, report.seen_before = select_new_links(
            quoted(links), quoted(es), settings, skip_indexed=not refetch, retry_schedule=not backfill)
        articles, skips, report.fetched = fetch_pages(quoted(new), quoted(fetching), quoted(es), settings)
        report.http_requests = fetching.requests_sent
    return Gathered(articles, skips, previous)


def gather_inputs(run: IngestRun, web: list[Source], folders: list[str], *,
                  backfill: bool = False, refetch: bool = False,
                  window: DateWindow = ALL_TIME) -> Gathered:
    """The web sources' new pages, then the folders' files. A backfill ignores feed
    validators and retry times; `refetch` fetches pages already indexed too (they are
    updated if they changed)."""
    gathered = Gathered()
    if web:
        gathered = fetch_web(run, web, backfill=backfill, refetch=refetch, window=window)
    if folders:
        articles, skips = read_inputs(folders)
        gathered.articles += articles
        gathered.skips += skips
    return gathered


def index_prepared(run: IngestRun, ready: list[Article]) -> list[Rejection]:
    """Enrich, cluster and index prepared articles batch by batch; return what was
    dead-lettered."""
    settings, es, report = run.settings, run.es, run.report
    rejected: list[Rejection] = []
    for start in range(0, len(ready), run.batch_size):
        batch = enrich_batch(quoted(ready[start:start + run.batch_size]), settings)
        clusters = cluster_batch(quoted(batch), quoted(es), settings)
        report.near_duplicates += clusters.near_duplicates
        report.clusters_relabelled += len(clusters.plan.relabel)
        result = index_batch(quoted(batch), quoted(clusters.plan.relabel), quoted(es), settings)
        report.add_index(result)
        rejected += result.rejections
        progress.advance("enrich, cluster, index", start + len(batch), len(ready))
    return rejected


def index_inputs(run: IngestRun, articles: list[Article], skips: list[Skip],
                 passed_over: list[Skip] | None = None,
                 ) -> tuple[list[Article], list[Skip], list[Rejection]]:
    """Account for every input, prepare, enrich, cluster and index. `passed_over` inputs count
    as skipped but are not returned among the skips. Returns (prepared articles, skips
    including those dropped while preparing, dead-lettered)."""
    passed_over = passed_over or []
    run.report.inputs = len(articles) + len(skips) + len(passed_over)
    run.report.add_skips(skips + passed_over)
    ready, dropped = prepare(quoted(articles))
    run.report.add_skips(dropped)
    return ready, skips + dropped, index_prepared(run, ready)


def index_gathered(run: IngestRun, gathered: Gathered, passed_over: list[Skip] | None = None) -> None:
    """`index_inputs`, then remember every URL's outcome. `passed_over` inputs (outside a
    backfill's window) are not remembered as tried, so later runs still take them."""
    ready, skipped, rejected = index_inputs(run, gathered.articles, gathered.skips, passed_over)
    outcomes = outcomes_of(ready, skipped, {r.article_id for r in rejected})
    if outcomes:
        remember_outcomes(quoted(outcomes), quoted(gathered.previous), quoted(run.es), run.settings)


# --- the flows -----------------------------------------------------------------------------


@flow(name="ingest-files")
def ingest_files(paths: list[str], batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest articles from local files and directories (plain text, HTML, JSONL)."""
    with ingest_run(batch_size, setup) as run:
        articles, skips = read_inputs(paths)
        index_inputs(run, articles, skips)
    return run.report


@flow(name="ingest-sources")
def ingest_sources(sources_file: str = "sources.yaml", only: list[str] | None = None,
                   batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest everything new from the source list: feeds, sitemaps, URL lists, directories."""
    sources = enabled_sources(sources_file, only)
    web = [s for s in sources if s.kind != "directory"]
    folders = [s.path for s in sources if s.kind == "directory" and s.path]
    with ingest_run(batch_size, setup) as run:
        gathered = gather_inputs(run, web, folders)
        index_gathered(run, gathered)
    return run.report
