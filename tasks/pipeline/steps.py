"""The pipeline's steps as plain functions, and `Steps`: how a run calls them.

A run calls its steps through a `Steps`: `local_steps` calls these functions in this process
(the CLI's default: no Prefect import, no API, no server), and `flows.steps.PREFECT_STEPS`
calls the same functions as Prefect tasks (deployments, `--prefect`). Both retry the same
steps with the same policy (`RETRIED`); retried steps are idempotent (writes are keyed by
deterministic ids, and a batch's ledger is made outside the step).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial, wraps
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, Protocol, TypeVar

from elasticsearch import Elasticsearch

from tasks.dedupe.clusters import DedupeResult, dedupe_batch
from tasks.enrich.enricher import enrich_or_skip, enricher_for
from tasks.enrich.reuse import split_reusable
from tasks.models import Article, Link, Skip, split_skips
from tasks.prepare import prepare_articles
from tasks.rebuild import rebuild_hits
from tasks.report import RunReport
from tasks.settings import ConfigError, Settings
from tasks.sources import Source
from tasks.store.bulk import IndexReport, stored_articles
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

if TYPE_CHECKING:  # the HTTP stack and trafilatura (1.2 s): imported by runs that fetch
    from tasks.fetch.session import FetchSession
    from tasks.fetch.web import Discovery

LOGGER = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a step is tried again after an exception, and how long it waits."""

    retries: int
    delay_s: float
    jitter: float  # the wait varies by up to this share of `delay_s`


RETRIED = RetryPolicy(retries=2, delay_s=5.0, jitter=0.5)  # reads and idempotent writes
RETRIED_ONCE = RetryPolicy(retries=1, delay_s=10.0, jitter=0.5)  # listings: slow, on the network


# --- files and preparation --------------------------------------------------------------


def prepare(articles: list[Article], seen: dict[str, str]) -> tuple[list[Article], list[Skip]]:
    """Clean, identify, sign, and drop copies of an id already in the run (`seen`)."""
    return prepare_articles(articles, seen)


# --- index ----------------------------------------------------------------------------------


def ensure_indices(es: Elasticsearch, settings: Settings) -> str:
    """Create or update templates, index and aliases; return the concrete index."""
    result = setup_indices(es, settings)
    for notice in result.notices:
        LOGGER.warning("%s", notice)
    return result.index


class Enriched(NamedTuple):
    articles: list[Article]  # enriched now or before, in input order
    skips: list[Skip]  # articles the enricher failed on
    kept: int  # of `articles`, how many kept the enrichment stored with them


def enrich_batch(articles: list[Article], es: Elasticsearch, settings: Settings) -> Enriched:
    """Language, canonical entities, topics, conflicts and relevance for one batch; articles
    the index holds unchanged, enriched by the same versions, keep their stored enrichment
    (`tasks.enrich.reuse`); articles the enricher fails on become skips."""
    enricher = enricher_for(settings)
    stored = stored_articles(es, settings.write_alias, [a.id for a in articles])
    kept, todo = split_reusable(articles, stored, enricher.version)
    enriched, failed = enrich_or_skip(enricher, todo) if todo else ([], [])
    order = {a.id: i for i, a in enumerate(articles)}
    return Enriched(sorted(kept + enriched, key=lambda a: order[a.id]), failed, len(kept))


def cluster_batch(articles: list[Article], es: Elasticsearch, settings: Settings) -> DedupeResult:
    """Assign near-duplicate clusters against everything indexed so far."""
    return dedupe_batch(es, settings.read_alias, articles)


def index_batch(articles: list[Article], relabel: dict[str, str], es: Elasticsearch,
                settings: Settings, ledger: dict[str, str] | None = None) -> IndexReport:
    """Bulk-write one batch, dead-letter what Elasticsearch rejects, relabel merged clusters.

    Pass one `ledger` (an empty dict) per batch, made outside the step: a retry then reports
    the ids its failed try already wrote as created/updated, not unchanged."""
    return write_batch(es, settings, articles, relabel, ledger)


# --- the web ----------------------------------------------------------------------------


def discover_links(sources: list[Source], fetching: FetchSession, es: Elasticsearch,
                   settings: Settings, conditional: bool = True) -> Discovery:
    """Fetch feeds and sitemaps and list their article links.

    `conditional` sends the stored validators (304 when nothing changed) and stores the new
    ones; a backfill lists everything and leaves the validators of the hourly runs alone.
    """
    from tasks.fetch.web import discover

    states = load_feed_states(es, settings.state_index) if conditional else {}
    found = fetching.call(discover, sources, states)
    if conditional:
        save_feed_states(es, settings.state_index, found.feed_states)
    save_robots(es, settings.state_index, fetching.robots)
    return found


def select_new_links(links: list[Link], es: Elasticsearch, settings: Settings,
                     skip_indexed: bool = True, retry_schedule: bool = True,
                     ) -> tuple[list[Link], dict[str, UrlState], int]:
    """Drop links already indexed (unless not `skip_indexed`) or already tried (unless
    `retry_schedule` is off, or a transient failure is due again): the links to fetch, the
    stored outcomes of those tried before, and how many were dropped as seen before."""
    return due_links(es, settings, links, skip_indexed=skip_indexed, retry_schedule=retry_schedule)


def fetch_pages(links: list[Link], fetching: FetchSession, es: Elasticsearch,
                settings: Settings) -> tuple[list[Article], list[Skip], int]:
    """Download and extract article pages: (articles, skips, pages downloaded)."""
    from tasks.fetch.web import extraction_pool, fetch_articles

    with extraction_pool(len(links)) as pool:
        items, downloaded = fetching.call(fetch_articles, links, executor=pool)
    save_robots(es, settings.state_index, fetching.robots)
    articles, skips = split_skips(items)
    return articles, skips, downloaded


def keep_skips(skips: list[Skip], run_id: str, es: Elasticsearch, settings: Settings) -> int:
    """Store every skipped input of the batch with its source in the state index."""
    return record_skips(es, settings.state_index, run_id, skips)


def remember_outcomes(outcomes: dict[str, str], previous: dict[str, UrlState],
                      es: Elasticsearch, settings: Settings) -> None:
    """Store what happened to every URL tried, for the next runs."""
    record_outcomes(es, settings.state_index, outcomes, previous)


# --- reindex ----------------------------------------------------------------------------


def reindex_step(es: Elasticsearch, settings: Settings, rebuild: bool) -> ReindexResult:
    """Copy (through the current pipeline if `rebuild`), verify, swap. Not retried: a half-done
    copy is rolled back; run it again."""
    setup_indices(es, settings)  # the target is created from the current template
    transform = partial(rebuild_hits, enrich=enricher_for(settings).enrich) if rebuild else None
    return reindex(es, settings, transform=transform)


# --- how a run calls them ---------------------------------------------------------------


# Each step's retry policy, the one table for both ways of calling it (None: not retried).
POLICIES: dict[Callable[..., Any], RetryPolicy | None] = {
    prepare: None,
    ensure_indices: RETRIED,
    enrich_batch: RETRIED,
    cluster_batch: RETRIED,
    index_batch: RETRIED,
    discover_links: RETRIED_ONCE,
    select_new_links: RETRIED,
    fetch_pages: None,  # retries each request itself
    keep_skips: RETRIED,
    remember_outcomes: RETRIED,
    reindex_step: None,  # a half-done copy is rolled back; run it again
}


class Pending(Protocol[T_co]):
    """A step running in the background: a `concurrent.futures.Future` or a Prefect future."""

    def result(self) -> T_co: ...


@dataclass(frozen=True, slots=True)
class Steps:
    """The steps as a run calls them, plus what differs between a plain run and a flow run:
    where settings come from (Secret blocks in a flow run), the run's id, and where the
    summary goes (the log, or also a Prefect artifact)."""

    prepare: Callable[..., tuple[list[Article], list[Skip]]]
    enrich_batch: Callable[..., Enriched]
    cluster_batch: Callable[..., DedupeResult]
    start_index: Callable[..., Pending[IndexReport]]  # index_batch in the background
    ensure_indices: Callable[..., str]
    discover_links: Callable[..., Discovery]
    select_new_links: Callable[..., tuple[list[Link], dict[str, UrlState], int]]
    fetch_pages: Callable[..., tuple[list[Article], list[Skip], int]]
    keep_skips: Callable[..., int]
    remember_outcomes: Callable[..., None]
    settings: Callable[[], Settings]
    run_id: Callable[[], str]
    publish: Callable[[RunReport], None]


def retried(step: Callable[P, T], policy: RetryPolicy = RETRIED) -> Callable[P, T]:
    """`step`, tried again on an exception as a Prefect task with the same policy would be.
    Configuration errors are not retried: they will not go away."""

    @wraps(step)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(policy.retries + 1):
            try:
                return step(*args, **kwargs)
            except ConfigError:
                raise
            except Exception as exc:
                if attempt == policy.retries:
                    raise
                wait = policy.delay_s * (1 + random.uniform(-policy.jitter, policy.jitter))
                LOGGER.warning("%s failed (%s: %s); trying again in %.1f s", step.__name__,
                               type(exc).__name__, exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    return call


def in_background(step: Callable[..., T], *args: Any) -> Future[T]:
    """Run `step(*args)` on a thread of its own; the future holds its result or exception."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(step(*args))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=f"{step.__name__}-background", daemon=True).start()
    return future


def log_summary(report: RunReport) -> None:
    """The run's skips and counts in the log (a plain run has no Prefect artifact)."""
    for example in report.skip_examples:
        LOGGER.info("skipped %s", example)
    LOGGER.info("ingest summary: %s", "; ".join(f"{label} {value}" for label, value in report.rows()))


def _local(step: Callable[P, T]) -> Callable[P, T]:
    """`step` as this process calls it: retried by its policy in `POLICIES`."""
    policy = POLICIES[step]
    return step if policy is None else retried(step, policy)


def local_steps(settings: Settings) -> Steps:
    """The steps called in this process with `settings`: the CLI's short runs pay no Prefect
    import or server start, and nothing is tracked in a Prefect API."""
    return Steps(
        prepare=_local(prepare),
        enrich_batch=_local(enrich_batch),
        cluster_batch=_local(cluster_batch),
        start_index=partial(in_background, _local(index_batch)),
        ensure_indices=_local(ensure_indices),
        discover_links=_local(discover_links),
        select_new_links=_local(select_new_links),
        fetch_pages=_local(fetch_pages),
        keep_skips=_local(keep_skips),
        remember_outcomes=_local(remember_outcomes),
        settings=lambda: settings,
        run_id=lambda: str(uuid.uuid4()),
        publish=log_summary,
    )
