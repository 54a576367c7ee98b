"""The pipeline's steps as Prefect tasks: thin wrappers that add retries and observability.

Each wrapper calls functions from `tasks/` with the run's clients (opened once by the flow)
and owns no logic. Retried steps are idempotent: writes are keyed by deterministic ids.
Callers pass large arguments and clients `quoted`: otherwise Prefect walks every field of
every Article looking for futures before each task (measured: 1.7 s per 500 articles).
"""

from __future__ import annotations

from functools import partial
from typing import TypeVar, cast

from elasticsearch import Elasticsearch
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from tasks.dedupe.clusters import DedupeResult, dedupe_batch
from tasks.enrich.enricher import enrich_or_skip, enricher_for
from tasks.fetch.session import FetchSession
from tasks.fetch.web import Discovery, discover, extraction_pool, fetch_articles
from tasks.models import Article, Link, Skip, split_skips
from tasks.prepare import prepare_articles
from tasks.rebuild import rebuild_hits
from tasks.settings import Settings
from tasks.sources import Source
from tasks.store.bulk import IndexReport
from tasks.store.reindex import ReindexResult, reindex
from tasks.store.setup import setup_indices
from tasks.store.state import (
    UrlState,
    due_links,
    load_feed_states,
    record_outcomes,
    record_skips,
    save_feed_states,
    save_robots,
)
from tasks.store.write import write_batch

T = TypeVar("T")


def quoted(value: T) -> T:
    """`value` passed to a task as is: Prefect does not walk it looking for futures."""
    return cast(T, quote(value))


# --- files and preparation --------------------------------------------------------------


@task(cache_policy=NO_CACHE)
def prepare(articles: list[Article], seen: dict[str, str]) -> tuple[list[Article], list[Skip]]:
    """Clean, identify, sign, and drop copies of an id already in the run (`seen`)."""
    return prepare_articles(articles, seen)


# --- index ----------------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def ensure_indices(es: Elasticsearch, settings: Settings) -> str:
    """Create or update templates, index and aliases; return the concrete index."""
    return setup_indices(es, settings).index


@task(cache_policy=NO_CACHE)
def enrich_batch(articles: list[Article], settings: Settings) -> tuple[list[Article], list[Skip]]:
    """Language, canonical entities, topics, conflicts and relevance for one batch; articles
    the enricher fails on become skips."""
    return enrich_or_skip(enricher_for(settings), articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def cluster_batch(articles: list[Article], es: Elasticsearch, settings: Settings) -> DedupeResult:
    """Assign near-duplicate clusters against everything indexed so far."""
    return dedupe_batch(es, settings.read_alias, articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def index_batch(articles: list[Article], relabel: dict[str, str], es: Elasticsearch,
                settings: Settings, ledger: dict[str, str] | None = None) -> IndexReport:
    """Bulk-write one batch, dead-letter what Elasticsearch rejects, relabel merged clusters.

    Pass one `ledger` (an empty dict, `quoted`) per batch, made outside the task: a retry of
    the task then reports the ids its failed try already wrote as created/updated, not
    unchanged."""
    return write_batch(es, settings, articles, relabel, ledger)


# --- the web ----------------------------------------------------------------------------


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, retry_jitter_factor=0.5)
def discover_links(sources: list[Source], fetching: FetchSession, es: Elasticsearch, settings: Settings,
                   conditional: bool = True) -> Discovery:
    """Fetch feeds and sitemaps and list their article links.

    `conditional` sends the stored validators (304 when nothing changed) and stores the new
    ones; a backfill lists everything and leaves the validators of the hourly runs alone.
    """
    states = load_feed_states(es, settings.state_index) if conditional else {}
    found = fetching.call(discover, sources, states)
    if conditional:
        save_feed_states(es, settings.state_index, found.feed_states)
    save_robots(es, settings.state_index, fetching.robots)
    return found


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def select_new_links(links: list[Link], es: Elasticsearch, settings: Settings,
                     skip_indexed: bool = True, retry_schedule: bool = True,
                     ) -> tuple[list[Link], dict[str, UrlState], int]:
    """Drop links already indexed (unless not `skip_indexed`) or already tried (unless
    `retry_schedule` is off, or a transient failure is due again): the links to fetch, the
    stored outcomes of those tried before, and how many were dropped as seen before."""
    return due_links(es, settings, links, skip_indexed=skip_indexed, retry_schedule=retry_schedule)


@task(cache_policy=NO_CACHE)
def fetch_pages(links: list[Link], fetching: FetchSession, es: Elasticsearch,
                settings: Settings) -> tuple[list[Article], list[Skip], int]:
    """Download and extract article pages: (articles, skips, pages downloaded)."""
    with extraction_pool(len(links)) as pool:
        items, downloaded = fetching.call(fetch_articles, links, executor=pool)
    save_robots(es, settings.state_index, fetching.robots)
    articles, skips = split_skips(items)
    return articles, skips, downloaded


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def keep_skips(skips: list[Skip], run_id: str, es: Elasticsearch, settings: Settings) -> int:
    """Store every skipped input of the batch with its source in the state index."""
    return record_skips(es, settings.state_index, run_id, skips)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def remember_outcomes(outcomes: dict[str, str], previous: dict[str, UrlState],
                      es: Elasticsearch, settings: Settings) -> None:
    """Store what happened to every URL tried, for the next runs."""
    record_outcomes(es, settings.state_index, outcomes, previous)


# --- reindex ----------------------------------------------------------------------------


@task(cache_policy=NO_CACHE)  # not retried: a half-done copy is rolled back, rerun the flow
def reindex_step(es: Elasticsearch, settings: Settings, rebuild: bool) -> ReindexResult:
    """Copy (through the current pipeline if `rebuild`), verify, swap."""
    setup_indices(es, settings)  # the target is created from the current template
    transform = partial(rebuild_hits, enrich=enricher_for(settings).enrich) if rebuild else None
    return reindex(es, settings, transform=transform)
