"""Bulk indexing: idempotent writes, every per-item result inspected, rejections dead-lettered.

Each round re-reads what the index holds for the pending ids (one `mget`), then:
new id -> `create`; same id and same document hash -> nothing (unchanged); changed -> `index`
guarded by `if_seq_no`/`if_primary_term`, so concurrent writers never overwrite each other
blindly. Version conflicts are re-planned by a fresh round; any other rejection goes to the
dead-letter index with its reason.

Every bulk write here (articles, dead letters, cluster relabels) goes through `bulk_items`:
429, 5xx and transport failures are retried per item, and connection failures of the whole
request are retried for all of its items, with capped full-jitter backoff and a bounded number
of attempts (`Retry`). Reads (`mget`, scans, refreshes) are retried the same way (`call`).

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
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch.helpers import ScanError

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

T = TypeVar("T")
Ledger = dict[str, str]  # article id -> "created" | "updated": what this batch's writes did


@dataclass(frozen=True, slots=True)
class Retry:
    """How transient failures are retried: `attempts` tries in all, waiting a capped full
    jitter (`tasks.retry.full_jitter`) before each retry. Tests pass a tiny `base` or a
    recording `sleep`."""

    attempts: int = MAX_ATTEMPTS
    base: float = BACKOFF_BASE_S
    cap: float = BACKOFF_CAP_S
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def wait(self, retry: int) -> None:
        """Wait before retry number `retry` (1 for the first: up to 2 * base)."""
        self.sleep(full_jitter(retry, self.base, self.cap, self.rng))


class TransientError(RuntimeError):
    """A response that says "try again" without an HTTP error (e.g. a failed doc in `mget`)."""


def is_transient(exc: BaseException) -> bool:
    """429 and 5xx answers, dropped or refused connections and timeouts; not TLS failures."""
    if isinstance(exc, ApiError):
        status = exc.meta.status
        return status == 429 or status >= 500
    if isinstance(exc, TlsError):
        return False
    return isinstance(exc, TransportConnectionError | ConnectionTimeout | ScanError | TransientError)


def call(fn: Callable[[], T], retry: Retry | None = None, what: str = "request") -> T:
    """`fn()`, retried on transient failures; the last failure is raised when none is left."""
    retry = retry or Retry()
    for attempt in range(retry.attempts):
        if attempt:
            retry.wait(attempt)
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc) or attempt == retry.attempts - 1:
                raise
            LOGGER.info("%s failed (%s), retrying", what, _describe(exc))
    raise AssertionError("unreachable: attempts must be at least 1")


def refresh(es: Elasticsearch, index: str, retry: Retry | None = None) -> None:
    """Refresh `index`, retried on transient failures."""
    call(lambda: es.indices.refresh(index=index), retry, f"refresh of {index}")


def _describe(exc: BaseException) -> str:
    status = exc.meta.status if isinstance(exc, ApiError) else None
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__


# --- one retrying bulk ----------------------------------------------------------------------


@dataclass(slots=True)
class ItemResult:
    """The final result of one bulk action."""

    action: dict[str, Any]
    op: str
    status: int | None  # None: the request never got an answer (transport failure)
    result: dict[str, Any]  # the bulk response item, or one made up for a failed request
    exhausted: bool = False  # still retryable when the attempts ran out

    @property
    def id(self) -> str:
        return str(self.action.get("_id", self.result.get("_id", "")))

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def error_text(self) -> str:
        return json.dumps(self.result.get("error"), default=str)[:500]


@dataclass(slots=True)
class BulkOutcome:
    """What a `bulk_items` call did with each action."""

    succeeded: list[ItemResult] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)  # rejected, or exhausted retries
    retries: int = 0  # rounds that re-sent failed items

    def conflicts(self) -> list[ItemResult]:
        return [f for f in self.failed if f.status == 409]


def retryable_status(status: int | None) -> bool:
    """Per-item statuses worth re-sending as is: 429, 5xx, or no answer at all."""
    return status is None or status == 429 or status >= 500


def bulk_items(es: Elasticsearch, actions: Sequence[dict[str, Any]], retry: Retry | None = None,
               *, chunk_size: int = CHUNK_SIZE, max_chunk_bytes: int = MAX_CHUNK_BYTES,
               **params: Any) -> BulkOutcome:
    """Send `actions` (helpers-style dicts: `_op_type`, `_index`, `_id`, `_source`, ...) in
    chunks and inspect every item's result. Items failing with 429/5xx, and every item of a
    request that failed with 429/5xx or a dropped connection, are re-sent (only those) after a
    capped jittered wait, at most `retry.attempts` times in all. Everything else (4xx,
    including version conflicts) comes back in `failed` at once; so do items still failing
    when the attempts run out (`exhausted`). `params` go to every request (e.g. `refresh`)."""
    retry = retry or Retry()
    outcome = BulkOutcome()
    serializer = es.transport.serializers.get_serializer("application/json")
    lines: list[tuple[str, list[bytes]]] = []
    for action in actions:
        header, body = helpers.expand_action(dict(action))
        op = next(iter(header))
        encoded = [serializer.dumps(header)] + ([] if body is None else [serializer.dumps(body)])
        lines.append((op, [b if isinstance(b, bytes) else b.encode() for b in encoded]))
    pending = list(range(len(actions)))
    last: dict[int, ItemResult] = {}
    for attempt in range(retry.attempts):
        if not pending:
            break
        if attempt:
            outcome.retries += 1
            retry.wait(attempt)
        again: list[int] = []
        for chunk in _chunks(pending, lines, chunk_size, max_chunk_bytes):
            for i, item in zip(chunk, _send(es, chunk, actions, lines, params), strict=True):
                if item.ok:
                    outcome.succeeded.append(item)
                elif retryable_status(item.status):
                    last[i] = item
                    again.append(i)
                else:
                    outcome.failed.append(item)
        pending = again
    for i in pending:
        last[i].exhausted = True
        outcome.failed.append(last[i])
    return outcome


def _chunks(pending: list[int], lines: list[tuple[str, list[bytes]]], chunk_size: int,
            max_chunk_bytes: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    size = 0
    for i in pending:
        item_size = sum(len(b) + 1 for b in lines[i][1])
        if chunk and (len(chunk) == chunk_size or size + item_size > max_chunk_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += item_size
    if chunk:
        yield chunk


def _send(es: Elasticsearch, chunk: list[int], actions: Sequence[dict[str, Any]],
          lines: list[tuple[str, list[bytes]]], params: dict[str, Any]) -> list[ItemResult]:
    """One bulk request: a result per item, in order (made up when the whole request failed)."""
    operations = [b for i in chunk for b in lines[i][1]]
    try:
        resp = es.bulk(operations=operations, **params)  # type: ignore[arg-type]
    except ApiError as exc:
        status: int | None = exc.meta.status
        error = {"type": type(exc).__name__, "reason": str(exc)[:500]}
    except (TransportConnectionError, ConnectionTimeout) as exc:
        if isinstance(exc, TlsError):
            raise
        status, error = None, {"type": type(exc).__name__, "reason": str(exc)[:500]}
    else:
        items = resp.body.get("items", [])
        if len(items) != len(chunk):
            raise RuntimeError(f"bulk answered {len(items)} items for {len(chunk)} actions")
        results = []
        for i, item in zip(chunk, items, strict=True):
            op, result = next(iter(item.items()))
            code = result.get("status")
            results.append(ItemResult(actions[i], op, code if isinstance(code, int) else None, result))
        return results
    return [ItemResult(actions[i], lines[i][0], status,
                       {"_id": actions[i].get("_id"), "status": status, "error": error})
            for i in chunk]


# --- articles -------------------------------------------------------------------------------


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


def fetch_existing(es: Elasticsearch, index: str, ids: list[str],
                   retry: Retry | None = None) -> dict[str, Existing]:
    """Hash, first-ingest time and version of the given ids where the index has them
    (429/5xx, transport failures and per-document errors retried)."""
    if not ids:
        return {}

    def read() -> dict[str, Existing]:
        resp = es.mget(index=index, ids=ids, source_includes=["doc_hash", "ingested_at"])
        found = {}
        for doc in resp["docs"]:
            if "error" in doc:  # e.g. a shard not available: we cannot tell new from existing
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            if doc.get("found"):
                src = doc.get("_source", {})
                found[doc["_id"]] = Existing(src.get("doc_hash"), src.get("ingested_at"),
                                             doc["_seq_no"], doc["_primary_term"])
        return found

    return call(read, retry, f"mget of {len(ids)} ids")


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
