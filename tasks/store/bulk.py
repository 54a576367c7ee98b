"""Bulk indexing: idempotent writes, every per-item result inspected, rejections dead-lettered.

Each round re-reads what the index holds for the pending ids (one `mget`), then:
new id -> `create`; same id and same document hash -> nothing (unchanged); changed -> `index`
guarded by `if_seq_no`/`if_primary_term`, so concurrent writers never overwrite each other
blindly. Version conflicts are re-planned by a fresh round; any other rejection goes to the
dead-letter index with its reason.

Every bulk write here (articles, dead letters) goes through `tasks.store.retrying.bulk_items`
(per-item retries of 429/5xx/transport failures); reads (`mget`) through `call`.

Counts stay exact when a batch is written again (a Prefect task retry, or a second
`write_batch` after one failed mid-way): the caller owns a ledger (id -> "created"/"updated")
for the batch. An outcome is recorded when its write is first sent, so a write whose response
was lost (a dropped connection after the node applied it) still counts; an id the ledger
holds that is later found unchanged is reported with its ledger outcome, not as "unchanged".
The first outcome recorded for an id wins (a batch that created a document and rewrites it
on a re-run still reports it created).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from tasks.models import Article, coverage_date
from tasks.store.retrying import ItemResult, Retry, TransientError, bulk_items, call

LOGGER = logging.getLogger(__name__)

# Fields that record when we saw a document, not what it says: they never make it "changed".
# `coverage_date` is derived: `published_at` (hashed itself) or a first-seen time (volatile).
VOLATILE_FIELDS = ("ingested_at", "updated_at", "fetched_at", "coverage_date", "doc_hash")
Ledger = dict[str, str]  # article id -> "created" | "updated": what this batch's writes did


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
    healed: int = 0  # indexed documents re-pointed because their representative was rejected
    settled: int = 0  # cluster pointers moved because another writer ran at the same time
    seconds: float = 0.0  # how long the write took (the last try, when retried)

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
    first_seen: str | None = None  # earliest time the stored document says we saw it


def first_seen(source: dict[str, Any]) -> str | None:
    """When a stored document was first seen: its fetch or first ingest, or the coverage
    date it already has when that was a first-seen date (it was undated), so an undated
    article keeps its place in time charts however often it is rewritten."""
    earlier = None if source.get("published_at") else source.get("coverage_date")
    return coverage_date(None, (source.get("fetched_at"), source.get("ingested_at"), earlier))


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
            set_coverage_date(doc)
            actions.append({"_op_type": "create", "_index": index, "_id": article.id, "_source": doc})
        elif old.doc_hash == doc["doc_hash"]:
            unchanged += 1
        else:
            doc["ingested_at"] = old.ingested_at or stamp
            doc["updated_at"] = stamp
            set_coverage_date(doc, old.first_seen)
            actions.append({"_op_type": "index", "_index": index, "_id": article.id,
                            "if_seq_no": old.seq_no, "if_primary_term": old.primary_term,
                            "_source": doc})
    return actions, unchanged


def set_coverage_date(doc: dict[str, Any], seen_before: str | None = None) -> dict[str, Any]:
    """`doc` with its `coverage_date` (outside its hash: see VOLATILE_FIELDS): the
    publication date, else the earliest time it (or an earlier version, `seen_before`) was
    seen."""
    date = coverage_date(doc.get("published_at"), (first_seen(doc), seen_before))
    if date:
        doc["coverage_date"] = date
    return doc


def _found(es: Elasticsearch, index: str, ids: list[str], fields: list[str] | None,
           retry: Retry | None) -> dict[str, dict[str, Any]]:
    """The mget docs of the ids the index holds (a per-document error is retried: without
    it we cannot tell new from existing)."""
    if not ids:
        return {}

    def read() -> dict[str, dict[str, Any]]:
        resp = es.mget(index=index, ids=ids, source_includes=fields) if fields else \
            es.mget(index=index, ids=ids)
        found = {}
        for doc in resp["docs"]:
            if "error" in doc:  # e.g. a shard not available
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            if doc.get("found"):
                found[doc["_id"]] = doc
        return found

    return call(read, retry, f"mget of {len(ids)} ids")


def fetch_existing(es: Elasticsearch, index: str, ids: list[str],
                   retry: Retry | None = None) -> dict[str, Existing]:
    """Hash, first-ingest and first-seen times and version of the given ids where the index
    has them (429/5xx, transport failures and per-document errors retried)."""
    found = _found(es, index, ids, ["doc_hash", "ingested_at", "published_at", "fetched_at",
                                    "coverage_date"], retry)
    return {id_: Existing(doc.get("_source", {}).get("doc_hash"),
                          doc.get("_source", {}).get("ingested_at"), doc["_seq_no"],
                          doc["_primary_term"], first_seen(doc.get("_source", {})))
            for id_, doc in found.items()}


def stored_articles(es: Elasticsearch, index: str, ids: list[str],
                    retry: Retry | None = None) -> dict[str, Article]:
    """The articles the index holds under the given ids, as `Article`s."""
    return {id_: Article.from_document(id_, doc.get("_source", {}))
            for id_, doc in _found(es, index, ids, None, retry).items()}


def outcome_of(op: str) -> str:
    """The ledger outcome of a successful write: `create` creates, anything else updates."""
    return "created" if op == "create" else "updated"


def index_articles(es: Elasticsearch, index: str, articles: list[Article],
                   now: Callable[[], datetime] = lambda: datetime.now(UTC),
                   sleep: Callable[[float], None] = time.sleep, *,
                   ledger: Ledger | None = None, retry: Retry | None = None) -> IndexReport:
    """Write the articles through alias `index`; every article ends created, updated,
    unchanged or rejected (raises if some are still failing after the retries).

    `ledger`, owned by the caller for one batch, survives a failed call: pass the same one
    when the batch is written again and ids this batch already wrote count as created or
    updated, not unchanged (see the module docstring). `retry` defaults to `MAX_ATTEMPTS`
    attempts waiting with `sleep`."""
    retry = retry or Retry(sleep=sleep)
    ledger = {} if ledger is None else ledger
    report = IndexReport()
    pending = {a.id: a for a in articles}
    for round_ in range(retry.attempts):
        if not pending:
            break
        if round_:  # version conflicts: someone (maybe our own lost write) changed the id
            report.retries += 1
            retry.wait(round_)
        existing = fetch_existing(es, index, list(pending), retry)
        actions, _ = plan_actions(list(pending.values()), existing, index, now())
        planned = {a["_id"] for a in actions}
        for article_id in pending:
            if article_id not in planned:
                _count(report, ledger.get(article_id, "unchanged"))
        for action in actions:
            ledger.setdefault(action["_id"], outcome_of(action["_op_type"]))
        outcome = bulk_items(es, actions, retry)
        report.retries += outcome.retries
        retry_ids: list[str] = []
        for item in outcome.succeeded:
            _count(report, ledger.setdefault(item.id, outcome_of(item.op)))
        exhausted = [item for item in outcome.failed if item.exhausted]
        if exhausted:
            sample = "; ".join(f"{i.id}: {i.error_text()}" for i in exhausted[:3])
            raise RuntimeError(f"{len(exhausted)} articles still failing after {retry.attempts} "
                               f"attempts (e.g. {sample})")
        for item in outcome.failed:
            if item.status == 409:  # changed since our mget (maybe by our own lost write)
                retry_ids.append(item.id)
            else:
                ledger.pop(item.id, None)  # not written: a re-run must not claim it
                report.rejections.append(_rejection(pending[item.id], item.result))
        pending = {i: pending[i] for i in retry_ids}
    if pending:
        raise RuntimeError(f"{len(pending)} articles still failing after {retry.attempts} "
                           f"attempts (version conflicts, e.g. {sorted(pending)[:3]})")
    return report


def _count(report: IndexReport, outcome: str) -> None:
    if outcome == "created":
        report.created += 1
    elif outcome == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


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


# --- dead letters ---------------------------------------------------------------------------


class DeadLetterError(RuntimeError):
    """Dead letters that could not be stored: the articles would be lost, so the batch fails
    (a retried batch rewrites them; with its ledger its counts stay exact)."""

    def __init__(self, failed: list[ItemResult]) -> None:
        self.failed = failed
        sample = "; ".join(f"{f.id}: {f.status} {f.error_text()}" for f in failed[:3])
        super().__init__(f"{len(failed)} dead letters could not be stored (e.g. {sample})")


def write_dead_letters(es: Elasticsearch, index: str, rejections: list[Rejection],
                       now: datetime | None = None, retry: Retry | None = None) -> int:
    """Store rejected documents with their reason (same id twice overwrites: re-runs stay
    clean), retrying 429/5xx per item; raise `DeadLetterError` for any that still fail.
    Returns how many were stored."""
    if not rejections:
        return 0
    stamp = (now or datetime.now(UTC)).isoformat()
    actions = [{"_op_type": "index", "_index": index, "_id": r.article_id, "_source": {
        "article_id": r.article_id, "origin": r.origin, "status": r.status,
        "error_type": r.error_type, "reason": r.reason, "at": stamp, "document": r.document,
    }} for r in rejections]
    outcome = bulk_items(es, actions, retry, refresh="wait_for")
    if outcome.failed:
        raise DeadLetterError(outcome.failed)
    LOGGER.warning("dead-lettered %d articles into %s", len(rejections), index)
    return len(outcome.succeeded)
