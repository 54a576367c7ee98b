"""Ingest flows: sources (feeds, sitemaps, URL lists, folders) or files -> extract -> clean ->
identity -> near-duplicate clusters -> bulk index, with a run summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.runtime import one_ingest_at_a_time, runtime_settings
from tasks import progress
from tasks.clean import clean_article
from tasks.dedupe.clusters import DedupeResult, dedupe_batch, relabel_clusters
from tasks.dedupe.identity import assign_identity, drop_batch_duplicates
from tasks.enrich.enricher import enricher_for
from tasks.extract.read_files import discover_files, read_file
from tasks.fetch.client import PoliteFetcher
from tasks.fetch.discover import Link, dedupe_links
from tasks.fetch.web import Discovery, discover, extraction_pool, fetch_articles, fetch_settings_for
from tasks.models import Article, Skip
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.sources import Source, load_sources
from tasks.store.bulk import IndexReport, Rejection, index_articles, write_dead_letters
from tasks.store.client import connect
from tasks.store.setup import setup_indices
from tasks.store.state import (
    UrlState,
    already_indexed,
    load_feed_states,
    load_robots,
    load_url_states,
    record_outcomes,
    save_feed_states,
    save_robots,
)
from tasks.window import DateWindow, links_in_window

ALL_TIME = DateWindow()


def prepare_articles(articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Clean, identify and drop in-batch exact duplicates (pure)."""
    ready: list[Article] = []
    skips: list[Skip] = []
    for article in articles:
        clean_article(article)
        if not article.body:
            skips.append(Skip(article.origin or "?", "empty-after-cleaning"))
            continue
        ready.append(assign_identity(article))
    kept, dups = drop_batch_duplicates(ready)
    return kept, skips + dups


@task(cache_policy=NO_CACHE)
def read_inputs(paths: list[str]) -> tuple[list[Article], list[Skip]]:
    """Read every supported file under `paths`."""
    files, skips = discover_files(paths)
    articles: list[Article] = []
    for done, path in enumerate(files, 1):
        for item in read_file(path):
            (skips if isinstance(item, Skip) else articles).append(item)
        progress.advance("read files", done, len(files))
    return articles, skips


@task(cache_policy=NO_CACHE)
def prepare(articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Task wrapper around `prepare_articles`."""
    return prepare_articles(articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def ensure_indices(settings: Settings) -> str:
    """Create or update templates, index and aliases; return the concrete index."""
    return setup_indices(connect(settings), settings).index


@task(cache_policy=NO_CACHE)
def enrich_batch(articles: list[Article], settings: Settings) -> list[Article]:
    """Language, canonical entities, topics, conflicts and relevance for one batch."""
    return enricher_for(settings).enrich(articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def cluster_batch(articles: list[Article], settings: Settings) -> DedupeResult:
    """Assign near-duplicate clusters against everything indexed so far."""
    return dedupe_batch(connect(settings), settings.read_alias, articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def index_batch(articles: list[Article], relabel: dict[str, str], settings: Settings) -> IndexReport:
    """Bulk-write one batch, dead-letter what Elasticsearch rejects, relabel merged clusters."""
    es = connect(settings)
    result = index_articles(es, settings.write_alias, articles)
    write_dead_letters(es, settings.deadletter_index, result.rejections)
    relabel_clusters(es, settings.write_alias, relabel)
    es.indices.refresh(index=settings.write_alias)
    return result


def _index_all(ready: list[Article], settings: Settings, batch_size: int,
               report: RunReport) -> list[Rejection]:
    """Cluster and index prepared articles batch by batch; return what was dead-lettered.

    Large arguments are `quote`d throughout the flows: otherwise Prefect walks every field of
    every Article looking for futures before each task (measured: 1.7 s per 500 articles).
    """
    rejected: list[Rejection] = []
    for start in range(0, len(ready), batch_size):
        batch = enrich_batch(quote(ready[start:start + batch_size]), settings)
        clusters = cluster_batch(quote(batch), settings)
        report.near_duplicates += clusters.near_duplicates
        report.clusters_relabelled += len(clusters.plan.relabel)
        result = index_batch(quote(batch), quote(clusters.plan.relabel), settings)
        report.add_index(result)
        rejected += result.rejections
        progress.advance("enrich, cluster, index", start + len(batch), len(ready))
    return rejected


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


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")


@contextmanager
def ingest_run(batch_size: int, setup: bool) -> Iterator[tuple[Settings, RunReport]]:
    """The frame of every ingest flow: check the batch size, take the ingest slot, set up the
    indices, hand out the settings and an empty report; on success, finish the report."""
    check_batch_size(batch_size)
    started = time.monotonic()
    settings = runtime_settings()
    report = RunReport()
    with one_ingest_at_a_time():
        if setup:
            ensure_indices(settings)
        yield settings, report
    finish_run(report, started)


@flow(name="ingest-files")
def ingest_files(paths: list[str], batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest articles from local files and directories (plain text, HTML, JSONL)."""
    with ingest_run(batch_size, setup) as (settings, report):
        articles, skips = read_inputs(paths)
        index_inputs(articles, skips, settings, batch_size, report)
    return report


# --- web sources -------------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, retry_jitter_factor=0.5)
def discover_links(sources: list[Source], settings: Settings,
                   conditional: bool = True) -> tuple[Discovery, int]:
    """Fetch feeds and sitemaps and list their article links.

    `conditional` sends the stored validators (304 when nothing changed) and stores the new
    ones; a backfill lists everything and leaves the validators of the hourly runs alone.
    """
    es = connect(settings)
    states = load_feed_states(es, settings.state_index) if conditional else {}
    robots = load_robots(es, settings.state_index)

    async def run() -> tuple[Discovery, int]:
        async with PoliteFetcher(fetch_settings_for(sources), robots_store=robots) as fetcher:
            found = await discover(fetcher, sources, states)
            return found, fetcher.requests_sent

    found, requests = asyncio.run(run())
    if conditional:
        save_feed_states(es, settings.state_index, found.feed_states)
    save_robots(es, settings.state_index, robots)
    return found, requests


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def select_new_links(links: list[Link], settings: Settings, skip_indexed: bool = True,
                     retry_schedule: bool = True) -> tuple[list[Link], dict[str, UrlState], int]:
    """Drop links already indexed (unless not `skip_indexed`) or already tried (unless
    `retry_schedule` is off, or a transient failure is due again).

    Returns the links to fetch, the stored outcomes of those tried before, and how many
    distinct links were dropped as seen before.
    """
    es = connect(settings)
    links = dedupe_links(links)
    urls = [link.url for link in links]
    indexed = already_indexed(es, settings.read_alias, urls) if skip_indexed else set()
    states = load_url_states(es, settings.state_index, [u for u in urls if u not in indexed])
    now = datetime.now(UTC)
    new = [link for link in links if link.url not in indexed
           and (not retry_schedule or link.url not in states or states[link.url].due(now))]
    return new, states, len(links) - len(new)


@task(cache_policy=NO_CACHE)
def fetch_pages(links: list[Link], sources: list[Source],
                settings: Settings) -> tuple[list[Article], list[Skip], int, int]:
    """Download and extract article pages: (articles, skips, pages downloaded, requests)."""
    es = connect(settings)
    robots = load_robots(es, settings.state_index)

    async def run(pool: Executor | None) -> tuple[list[Article | Skip], int, int]:
        async with PoliteFetcher(fetch_settings_for(sources), robots_store=robots) as fetcher:
            items, downloaded = await fetch_articles(fetcher, links, executor=pool)
            return items, downloaded, fetcher.requests_sent

    with extraction_pool(len(links)) as pool:
        items, downloaded, requests = asyncio.run(run(pool))
    save_robots(es, settings.state_index, robots)
    articles = [i for i in items if isinstance(i, Article)]
    return articles, [i for i in items if isinstance(i, Skip)], downloaded, requests


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def remember_outcomes(outcomes: dict[str, str], previous: dict[str, UrlState],
                      settings: Settings) -> None:
    """Store what happened to every URL tried, for the next runs."""
    record_outcomes(connect(settings), settings.state_index, outcomes, previous)


def _outcomes(articles: list[Article], skips: list[Skip], rejected: list[Rejection]) -> dict[str, str]:
    dead = {r.article_id for r in rejected}
    out = {s.origin: s.reason for s in skips}
    out.update({a.url: "dead-lettered" if a.id in dead else "indexed" for a in articles if a.url})
    return out


def gather_inputs(web: list[Source], folders: list[str], settings: Settings, report: RunReport,
                  *, backfill: bool = False, refetch: bool = False, window: DateWindow = ALL_TIME,
                  ) -> tuple[list[Article], list[Skip], dict[str, UrlState]]:
    """Discover, select and fetch the web sources, then read the folders: the articles and
    skips, and the stored outcomes of the URLs tried before. A backfill ignores feed
    validators and retry times; `refetch` fetches pages already indexed too (they are
    updated if they changed)."""
    articles: list[Article] = []
    skips: list[Skip] = []
    previous: dict[str, UrlState] = {}
    if web:
        found, requests = discover_links(web, settings, conditional=not backfill)
        report.discovered = len(found.links)
        report.feeds_not_modified = found.not_modified
        report.add_listing_skips(found.skips)
        links, report.outside_window = links_in_window(found.links, window)
        new, previous, report.seen_before = select_new_links(
            quote(links), settings, skip_indexed=not refetch, retry_schedule=not backfill)
        articles, skips, report.fetched, page_requests = fetch_pages(quote(new), web, settings)
        report.http_requests = requests + page_requests
    if folders:
        file_articles, file_skips = read_inputs(folders)
        articles, skips = articles + file_articles, skips + file_skips
    return articles, skips, previous


def index_inputs(articles: list[Article], skips: list[Skip], settings: Settings, batch_size: int,
                 report: RunReport, passed_over: list[Skip] | None = None,
                 ) -> tuple[list[Article], list[Skip], list[Rejection]]:
    """Account for every input, prepare, enrich, cluster and index. `passed_over` inputs count
    as skipped but are not returned among the skips. Returns (prepared articles, skips
    including those dropped while preparing, dead-lettered)."""
    passed_over = passed_over or []
    report.inputs = len(articles) + len(skips) + len(passed_over)
    report.add_skips(skips + passed_over)
    ready, dropped = prepare(quote(articles))
    report.add_skips(dropped)
    return ready, skips + dropped, _index_all(ready, settings, batch_size, report)


def index_gathered(articles: list[Article], skips: list[Skip], previous: dict[str, UrlState],
                   settings: Settings, batch_size: int, report: RunReport,
                   passed_over: list[Skip] | None = None) -> None:
    """`index_inputs`, then remember every URL's outcome. `passed_over` inputs (outside a
    backfill's window) are not remembered as tried, so later runs still take them."""
    ready, skipped, rejected = index_inputs(articles, skips, settings, batch_size, report,
                                            passed_over)
    outcomes = _outcomes([a for a in ready if a.url], skipped, rejected)
    if outcomes:
        remember_outcomes(quote(outcomes), quote(previous), settings)


def enabled_sources(sources_file: str, only: list[str] | None) -> list[Source]:
    """The enabled sources of the file (or just those named in `only`, which must exist)."""
    sources = [s for s in load_sources(sources_file) if s.enabled and (not only or s.name in only)]
    if only and (missing := set(only) - {s.name for s in sources}):
        raise ValueError(f"no enabled source named {', '.join(sorted(missing))} in {sources_file}")
    return sources


@flow(name="ingest-sources")
def ingest_sources(sources_file: str = "sources.yaml", only: list[str] | None = None,
                   batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest everything new from the source list: feeds, sitemaps, URL lists, directories."""
    sources = enabled_sources(sources_file, only)
    with ingest_run(batch_size, setup) as (settings, report):
        articles, skips, previous = gather_inputs(
            [s for s in sources if s.kind != "directory"],
            [s.path for s in sources if s.kind == "directory" and s.path], settings, report)
        index_gathered(articles, skips, previous, settings, batch_size, report)
    return report
