"""Crawl state shared through Elasticsearch, so any worker on any machine sees the same:
feed validators (ETag / Last-Modified), URLs already seen and why, robots.txt per host."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers

from tasks.dedupe.identity import dedupe_links, url_id
from tasks.models import Article, Link, RobotsEntry, Skip
from tasks.settings import Settings
from tasks.store.retrying import bulk_items

LOGGER = logging.getLogger(__name__)

MGET_CHUNK = 1000
MAX_ATTEMPTS = 3  # runs in which a transiently failing URL is tried
RETRY_BASE = timedelta(hours=1)  # then 2 h, 4 h ... before the next try
# Outcomes worth another try in a later run; anything else is final for that URL.
TRANSIENT = ("timeout", "connect-error", "network-error", "retries-exhausted", "robots-unavailable",
             "http-5", "http-429")


def _doc_id(kind: str, key: str) -> str:
    return f"{kind}:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class FeedState:
    """Validators from the last fetch of a feed or sitemap."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    status: int | None = None
    links: int = 0


@dataclass(frozen=True, slots=True)
class UrlState:
    """What happened the last time an article URL was tried."""

    url: str
    outcome: str  # "indexed" or the named skip reason
    attempts: int
    retry_after: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Whether a later run should try this URL again."""
        transient = self.outcome.startswith(TRANSIENT)
        return transient and self.attempts < MAX_ATTEMPTS and (
            self.retry_after is None or self.retry_after <= now)


def is_transient(reason: str) -> bool:
    return reason.startswith(TRANSIENT)


def load_feed_states(es: Elasticsearch, index: str) -> dict[str, FeedState]:
    """Stored validators of every feed and sitemap (child sitemaps included)."""
    out = {}
    for hit in helpers.scan(es, index=index, query={"query": {"term": {"kind": "feed"}}}):
        src = hit["_source"]
        out[src["url"]] = FeedState(src["url"], src.get("etag"), src.get("last_modified"),
                                    src.get("status"), src.get("links", 0))
    return out


def save_feed_states(es: Elasticsearch, index: str, states: list[FeedState],
                     now: datetime | None = None) -> None:
    """Store validators for the next conditional request."""
    stamp = (now or datetime.now(UTC)).isoformat()
    # refresh: the next task (maybe on another worker) scans for these right away.
    _store(es, ({"_index": index, "_id": _doc_id("feed", s.url), "_source": {
        "kind": "feed", "url": s.url, "etag": s.etag, "last_modified": s.last_modified,
        "status": s.status, "links": s.links, "fetched_at": stamp}} for s in states), refresh=True)


def _store(es: Elasticsearch, actions: Iterable[dict[str, Any]], refresh: bool = False) -> int:
    """Write state documents, 429/5xx retried per item (`bulk_items`); any other failure
    raises (the task may then be retried: ids are deterministic). Returns how many."""
    actions = list(actions)
    if not actions:
        return 0
    params: dict[str, Any] = {"refresh": True} if refresh else {}
    outcome = bulk_items(es, actions, None, **params)
    if outcome.failed:
        first = outcome.failed[0]
        raise RuntimeError(f"storing {len(outcome.failed)} of {len(actions)} crawl-state documents "
                           f"failed, e.g. {first.id}: {first.error_text()}")
    return len(actions)


def _mget(es: Elasticsearch, index: str, ids: list[str], **kwargs: Any) -> list[dict[str, Any]]:
    """Found documents for many ids, in chunks of MGET_CHUNK."""
    found = []
    for start in range(0, len(ids), MGET_CHUNK):
        docs = es.mget(index=index, ids=ids[start:start + MGET_CHUNK], **kwargs)["docs"]
        found += [d for d in docs if d.get("found")]
    return found


def load_url_states(es: Elasticsearch, index: str, urls: list[str]) -> dict[str, UrlState]:
    """Stored outcomes for these canonical article URLs."""
    out = {}
    for doc in _mget(es, index, [_doc_id("url", u) for u in urls]):
        src = doc["_source"]
        retry = src.get("retry_after")
        out[src["url"]] = UrlState(src["url"], src["outcome"], src.get("attempts", 1),
                                   datetime.fromisoformat(retry) if retry else None)
    return out


def already_indexed(es: Elasticsearch, read_alias: str, urls: list[str]) -> set[str]:
    """The canonical URLs whose article is in the index (the id derives from the URL)."""
    ids = {url_id(u): u for u in urls}
    return {ids[d["_id"]] for d in _mget(es, read_alias, list(ids), source=False)}


def record_outcomes(es: Elasticsearch, index: str, outcomes: dict[str, str],
                    previous: dict[str, UrlState], now: datetime | None = None) -> None:
    """Remember what happened to each URL tried this run (`url -> "indexed" | reason`)."""
    now = now or datetime.now(UTC)
    actions = []
    for url, outcome in outcomes.items():
        attempts = (previous[url].attempts + 1) if url in previous else 1
        retry = now + RETRY_BASE * 2 ** (attempts - 1) if is_transient(outcome) else None
        actions.append({"_index": index, "_id": _doc_id("url", url), "_source": {
            "kind": "url", "url": url, "outcome": outcome, "reason": outcome.split(":")[0],
            "attempts": attempts, "fetched_at": now.isoformat(),
            "retry_after": retry.isoformat() if retry else None}})
    _store(es, actions, refresh=True)


def load_robots(es: Elasticsearch, index: str) -> dict[str, RobotsEntry]:
    """Every stored robots.txt, by host."""
    out = {}
    for hit in helpers.scan(es, index=index, query={"query": {"term": {"kind": "robots"}}}):
        src = hit["_source"]
        out[src["host"]] = RobotsEntry(src.get("status"), src.get("robots_txt") or "",
                                       datetime.fromisoformat(src["fetched_at"]).timestamp())
    return out


def save_robots(es: Elasticsearch, index: str, entries: Mapping[str, RobotsEntry]) -> None:
    """Store robots.txt entries by origin."""
    _store(es, ({"_index": index, "_id": _doc_id("robots", host), "_source": {
        "kind": "robots", "host": host, "status": e.status, "robots_txt": e.text[:500_000],
        "fetched_at": datetime.fromtimestamp(e.fetched_at, UTC).isoformat()}}
        for host, e in entries.items()), refresh=True)


def outcomes_of(articles: Iterable[Article], skips: Iterable[Skip],
                dead_ids: set[str]) -> dict[str, str]:
    """What happened to each URL tried in a run: "indexed", "dead-lettered" or a skip reason."""
    out = {s.origin: s.reason for s in skips}
    out.update({a.url: "dead-lettered" if a.id in dead_ids else "indexed" for a in articles if a.url})
    return out


def due_links(es: Elasticsearch, settings: Settings, links: list[Link], *, skip_indexed: bool = True,
              retry_schedule: bool = True) -> tuple[list[Link], dict[str, UrlState], int]:
    """Links worth fetching now: not indexed yet (unless not `skip_indexed`) and never tried,
    or due again after a transient failure (unless `retry_schedule` is off). Returns them, the
    stored outcomes of those tried before, and how many distinct links were dropped."""
    links = dedupe_links(links)
    urls = [link.url for link in links]
    indexed = already_indexed(es, settings.read_alias, urls) if skip_indexed else set()
    states = load_url_states(es, settings.state_index, [u for u in urls if u not in indexed])
    now = datetime.now(UTC)
    new = [link for link in links if link.url not in indexed
           and (not retry_schedule or link.url not in states or states[link.url].due(now))]
    return new, states, len(links) - len(new)


def record_skips(es: Elasticsearch, index: str, run_id: str, skips: Iterable[Skip],
                 now: datetime | None = None) -> int:
    """Keep every input a run skipped, with its source and reason (kind `skip`), so none is
    known only from a summary's first examples. Ids derive from run and origin: a retried
    write stores each once."""
    stamp = (now or datetime.now(UTC)).isoformat()
    actions = [{"_index": index, "_id": _doc_id("skip", f"{run_id}\n{s.origin}\n{s.reason}"), "_source": {
        "kind": "skip", "run_id": run_id, "origin": s.origin[:4096], "reason": s.reason,
        "detail": s.detail[:2000], "at": stamp}} for s in skips]
    return _store(es, actions)
