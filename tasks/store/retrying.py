"""Requests to Elasticsearch that survive transient faults: reads retried whole (`call`),
bulk writes retried item by item (`bulk_items`).

429, 5xx, transport failures and the errors of a node or shard copy that went away (a node
killed mid-request, a replica being promoted) are retried per item, and connection failures
of the whole request are retried for all of its items, with capped full-jitter backoff and a
bounded number of attempts (`Retry`); any other failure is returned at once, for the caller to
dead-letter or raise. A Prefect task retry is then the last resort, not the mechanism.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch, helpers
from elasticsearch.helpers import ScanError

from tasks.retry import full_jitter

LOGGER = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
CHUNK_SIZE = 500
MAX_CHUNK_BYTES = 20 * 1024 * 1024

T = TypeVar("T")


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


# Errors of a node or shard copy that went away, whatever status they come with (a node that
# just lost its copy answers `shard_not_found_exception` with 404): a later try reaches the
# promoted primary. Most already come as 503 or 500; the names make the 4xx ones transient.
NODE_GONE_ERRORS = frozenset({
    "shard_not_found_exception", "no_shard_available_action_exception",
    "unavailable_shards_exception", "primary_missing_action_exception",
    "node_not_connected_exception", "node_disconnected_exception", "node_closed_exception",
    "connect_transport_exception", "master_not_discovered_exception",
})


class TransientError(RuntimeError):
    """A response that says "try again" without an HTTP error (e.g. a failed doc in `mget`)."""


def node_gone(error: Any, depth: int = 5) -> bool:
    """Whether an Elasticsearch error (or what caused it) says a node or shard copy is gone."""
    for _ in range(depth):
        if not isinstance(error, dict):
            return False
        if error.get("type") in NODE_GONE_ERRORS:
            return True
        error = error.get("caused_by")
    return False


def is_transient(exc: BaseException) -> bool:
    """429 and 5xx answers, a node or shard copy gone, dropped or refused connections and
    timeouts; not TLS failures."""
    if isinstance(exc, ApiError):
        status = exc.meta.status
        body = exc.body if isinstance(exc.body, dict) else {}
        return status == 429 or status >= 500 or node_gone(body.get("error"))
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

    @property
    def transient(self) -> bool:
        """Worth re-sending as is: 429, 5xx, no answer, or a node or shard copy gone."""
        return retryable_status(self.status) or node_gone(self.result.get("error"))

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
    chunks and inspect every item's result. Items failing with 429/5xx or a node gone, and
    every item of a request that failed so or whose connection dropped, are re-sent (only
    those) after a capped jittered wait, at most `retry.attempts` times in all. Everything else (4xx,
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
                elif item.transient:
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
        if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
            error["caused_by"] = exc.body["error"]  # what the cluster said: a node gone?
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
