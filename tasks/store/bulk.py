"""Bulk indexing: idempotent writes, every per-item result inspected, rejections dead-lettered.

Each attempt re-reads what the index holds for the pending ids (one `mget`), then:
new id -> `create`; same id and same document hash -> nothing (unchanged); changed -> `index`
guarded by `if_seq_no`/`if_primary_term`, so concurrent writers never overwrite each other
blindly. 429/5xx and version conflicts are retried by a fresh attempt with capped, jittered
backoff; any other rejection goes to the dead-letter index with its reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from tasks.models import Article
from tasks.retry import full_jitter

LOGGER = logging.getLogger(__name__)

# Fields that record when we saw a document, not what it says: they never make it "changed".
VOLATILE_FIELDS = ("ingested_at", "updated_at", "fetched_at", "doc_hash")
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
CHUNK_SIZE = 500
MAX_CHUNK_BYTES = 20 * 1024 * 1024


@dataclass(slots=True)
class Rejection:
    """A document Elasticsearch would not take, and why."""

    article_id: str
    origin: str | None
    status: int | None
    error_type: str
    reason: str
    document: dict[str, Any]


@dataclass(slots=True)
class IndexReport:
    """What one indexing call did with each article it was given."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retries: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def dead_lettered(self) -> int:
        return len(self.rejections)

    @property
    def indexed(self) -> int:
        """Articles the index now holds as given: created, updated or already identical."""
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class Existing:
    """What the index holds for an id."""

    doc_hash: str | None
    ingested_at: str | None
    seq_no: int
    primary_term: int


def document_hash(doc: dict[str, Any]) -> str:
    """Stable hash of a document's content, ignoring volatile timestamps."""
    stable = {k: v for k, v in doc.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def plan_actions(articles: list[Article], existing: dict[str, Existing], index: str,
                 now: datetime) -> tuple[list[dict[str, Any]], int]:
    """Bulk actions for the articles that are new or changed, and how many are unchanged."""
    actions: list[dict[str, Any]] = []
    unchanged = 0
    stamp = now.isoformat()
    for article in articles:
        doc = article.to_document()
        doc["doc_hash"] = document_hash(doc)
        old = existing.get(article.id)
        if old is None:
            doc["ingested_at"] = stamp
            actions.append({"_op_type": "create", "_index": index, "_id": article.id, "_source": doc})
        elif old.doc_hash == doc["doc_hash"]:
            unchanged += 1
        else:
            doc["ingested_at"] = old.ingested_at or stamp
            doc["updated_at"] = stamp
            actions.append({"_op_type": "index", "_index": index, "_id": article.id,
                            "if_seq_no": old.seq_no, "if_primary_term": old.primary_term,
                            "_source": doc})
    return actions, unchanged


def fetch_existing(es: Elasticsearch, index: str, ids: list[str]) -> dict[str, Existing]:
    """Hash, first-ingest time and version of the given ids where the index has them."""
    if not ids:
        return {}
    resp = es.mget(index=index, ids=ids, source_includes=["doc_hash", "ingested_at"])
    found = {}
    for doc in resp["docs"]:
        if doc.get("found"):
            src = doc.get("_source", {})
            found[doc["_id"]] = Existing(src.get("doc_hash"), src.get("ingested_at"),
                                         doc["_seq_no"], doc["_primary_term"])
    return found


def _is_retryable(status: Any, op: str) -> bool:
    """429, 5xx, transport failures, and version conflicts of guarded updates are transient."""
    if not isinstance(status, int):
        return True
    return status == 429 or status >= 500 or (status == 409 and op == "index")


def index_articles(es: Elasticsearch, index: str, articles: list[Article],
                   now: Callable[[], datetime] = lambda: datetime.now(UTC),
                   sleep: Callable[[float], None] = time.sleep) -> IndexReport:
    """Write the articles through alias `index`; every article ends created, updated,
    unchanged or rejected (raises if some are still failing after MAX_ATTEMPTS)."""
    report = IndexReport()
    pending = {a.id: a for a in articles}
    rng = random.Random()
    last_errors: dict[str, str] = {}
    for attempt in range(MAX_ATTEMPTS):
        if not pending:
            break
        if attempt:
            report.retries += 1
            # `attempt` is 1 on the first retry here, so that one waits up to 2 * BACKOFF_BASE_S.
            sleep(full_jitter(attempt, BACKOFF_BASE_S, BACKOFF_CAP_S, rng))
        existing = fetch_existing(es, index, list(pending))
        actions, unchanged = plan_actions(list(pending.values()), existing, index, now())
        report.unchanged += unchanged
        retry: dict[str, Article] = {}
        for ok, item in helpers.streaming_bulk(
            es, actions, chunk_size=CHUNK_SIZE, max_chunk_bytes=MAX_CHUNK_BYTES,
            raise_on_error=False, raise_on_exception=False, max_retries=0,
        ):
            op, result = next(iter(item.items()))
            article = pending[result["_id"]]
            status = result.get("status")
            if ok:
                if op == "create":
                    report.created += 1
                else:
                    report.updated += 1
            elif status == 409 and op == "create":
                # Another writer created the same id since our mget: re-check it next attempt.
                retry[article.id] = article
            elif _is_retryable(status, op):
                retry[article.id] = article
                last_errors[article.id] = json.dumps(result.get("error"), default=str)[:500]
            else:
                report.rejections.append(_rejection(article, result))
        pending = retry
    if pending:
        sample = "; ".join(f"{i}: {last_errors.get(i, 'conflict')}" for i in list(pending)[:3])
        raise RuntimeError(f"{len(pending)} articles still failing after {MAX_ATTEMPTS} "
                           f"attempts (e.g. {sample})")
    return report


def _rejection(article: Article, result: dict[str, Any]) -> Rejection:
    error = result.get("error") or {}
    if not isinstance(error, dict):
        error = {"type": "unknown", "reason": str(error)}
    reason = error.get("reason") or ""
    cause = error.get("caused_by") or {}
    if cause.get("reason"):
        reason = f"{reason} (caused by {cause.get('type')}: {cause['reason']})"
    return Rejection(article.id, article.origin, result.get("status"),
                     error.get("type", "unknown"), reason, article.to_document())


def write_dead_letters(es: Elasticsearch, index: str, rejections: list[Rejection],
                       now: datetime | None = None) -> None:
    """Store rejected documents with their reason (same id twice overwrites: re-runs stay clean)."""
    if not rejections:
        return
    stamp = (now or datetime.now(UTC)).isoformat()
    actions = [{"_op_type": "index", "_index": index, "_id": r.article_id, "_source": {
        "article_id": r.article_id, "origin": r.origin, "status": r.status,
        "error_type": r.error_type, "reason": r.reason, "at": stamp, "document": r.document,
    }} for r in rejections]
    # Losing a rejection silently would lose the article: let errors here fail the run.
    helpers.bulk(es, actions, refresh="wait_for")
    LOGGER.warning("dead-lettered %d articles into %s", len(rejections), index)
