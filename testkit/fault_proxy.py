"""A loopback HTTP proxy in front of a real Elasticsearch node that injects faults on demand.

Requests are forwarded as they come (one upstream connection per request, bodies read whole);
queued faults change what the client sees, each bounded in count:

- `fail_requests`: the next N requests (optionally only paths matching a pattern, e.g.
  `_bulk`) get a whole-request error status (429, 503) and are not forwarded;
- `drop_connections`: the next N requests are answered by closing the connection, either
  before forwarding (nothing happened) or after (the node applied it, the answer is lost);
- `throttle_items`: the next N items of `_bulk` requests (optionally of one index, op or id
  set) come back as 429 inside a 200 response; they are removed from the forwarded request,
  so an item reported failed was never written;
- `reject_documents`: items with the given ids (optionally of one index) always come back as
  a 400 mapping error, never forwarded.

`injected` counts what fired and `faulted` lists the item ids per kind, so a test can check its
faults really happened. Used as a context manager (`testkit.http_server.Server`), the server
stops itself.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from testkit.http_server import Server

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "content-length", "host", "accept-encoding",
              "content-encoding"}
JSON_TYPE = "application/vnd.elasticsearch+json;compatible-with=8"
BULK_PATH = re.compile(r"(?:^|/)_bulk$")

REQUEST_ERRORS = {
    429: ("es_rejected_execution_exception", "rejected execution of request (fault proxy)"),
    503: ("unavailable_shards_exception", "primary shard is not active (fault proxy)"),
}


@dataclass(slots=True)
class _RequestFault:
    kind: str  # "status" or "drop"
    remaining: int
    path: re.Pattern[str] | None
    status: int = 0
    after_forward: bool = False


@dataclass(slots=True)
class _ItemFault:
    kind: str  # "item" (bounded) or "reject" (every matching item, for good)
    remaining: int | None
    status: int
    index: re.Pattern[str] | None = None
    op: str | None = None
    ids: frozenset[str] | None = None

    def matches(self, item: BulkItem) -> bool:
        return ((self.remaining is None or self.remaining > 0)
                and (self.index is None or bool(self.index.search(item.index)))
                and (self.op is None or item.op == self.op)
                and (self.ids is None or item.id in self.ids))


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One action of a `_bulk` body with its lines as sent."""

    op: str
    index: str
    id: str
    lines: tuple[bytes, ...]


@dataclass(slots=True)
class Verdict:
    kind: str
    status: int


def parse_bulk(body: bytes, default_index: str = "") -> list[BulkItem]:
    """The actions of an NDJSON `_bulk` body (delete has no source line)."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    items: list[BulkItem] = []
    i = 0
    while i < len(lines):
        header = json.loads(lines[i])
        op, meta = next(iter(header.items()))
        n = 1 if op == "delete" else 2
        items.append(BulkItem(op, str(meta.get("_index") or default_index),
                              str(meta.get("_id") or ""), tuple(lines[i:i + n])))
        i += n
    return items


def item_error(status: int, item: BulkItem) -> dict[str, Any]:
    """A bulk response item as Elasticsearch writes a failed one."""
    if status == 429:
        error: dict[str, Any] = {"type": "es_rejected_execution_exception",
                                 "reason": "rejected execution of bulk item (fault proxy)"}
    elif status == 400:
        error = {"type": "document_parsing_exception",
                 "reason": "[1:42] failed to parse field [relevance] of type [float] (fault proxy)",
                 "caused_by": {"type": "mapper_parsing_exception",
                               "reason": f"permanent rejection of [{item.id}] (fault proxy)"}}
    else:
        error = {"type": "fault_proxy_exception", "reason": f"injected {status}"}
    return {item.op: {"_index": item.index, "_id": item.id, "status": status, "error": error}}


class FaultProxy(Server):
    """A threaded proxy on 127.0.0.1 to `upstream` (an http:// URL), run in a daemon thread;
    clients use `base` as their URL."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the fault proxy forwards to http:// URLs only, not {upstream!r}")
        super().__init__({}, host)
        self.RequestHandlerClass = _Handler
        self.upstream = (parts.hostname, parts.port or 80)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path) as received
        self.injected: Counter[str] = Counter()  # "status", "drop", "item", "reject"
        self.faulted: dict[str, list[str]] = {"item": [], "reject": []}  # bulk item ids
        self._request_faults: list[_RequestFault] = []
        self._item_faults: list[_ItemFault] = []

    # --- faults -------------------------------------------------------------------------

    def fail_requests(self, count: int, status: int = 429, path: str | None = None) -> None:
        """The next `count` requests (whose path matches `path`) get `status`, unforwarded."""
        with self.lock:
            self._request_faults.append(_RequestFault("status", count, _re(path), status=status))

    def drop_connections(self, count: int, path: str | None = None,
                         after_forward: bool = False) -> None:
        """Close the connection without an answer for the next `count` matching requests;
        `after_forward`: only once the node has answered (its writes happened)."""
        with self.lock:
            self._request_faults.append(_RequestFault("drop", count, _re(path),
                                                      after_forward=after_forward))

    def throttle_items(self, count: int, index: str | None = None, op: str | None = None,
                       ids: Iterable[str] | None = None, status: int = 429) -> None:
        """The next `count` bulk items (of indices matching `index`, of `op`, among `ids`)
        fail with `status` inside a 200 answer; they are not forwarded."""
        with self.lock:
            self._item_faults.append(_ItemFault("item", count, status, _re(index), op,
                                                None if ids is None else frozenset(ids)))

    def reject_documents(self, ids: Iterable[str], index: str | None = None,
                         status: int = 400) -> None:
        """Bulk items with these ids (of indices matching `index`) always fail with a mapping
        error; they are never forwarded."""
        with self.lock:
            self._item_faults.append(_ItemFault("reject", None, status, _re(index), None,
                                                frozenset(ids)))

    def clear(self) -> None:
        """Forget every queued fault (what fired stays counted)."""
        with self.lock:
            self._request_faults.clear()
            self._item_faults.clear()

    def _take_request_fault(self, method: str, path: str) -> _RequestFault | None:
        with self.lock:
            self.requests.append((method, path))
            for fault in self._request_faults:
                if fault.remaining > 0 and (fault.path is None or fault.path.search(path)):
                    fault.remaining -= 1
                    self.injected[fault.kind] += 1
                    return fault
        return None

    def _judge(self, items: list[BulkItem]) -> list[Verdict | None]:
        verdicts: list[Verdict | None] = []
        with self.lock:
            for item in items:
                fault = next((f for f in self._item_faults if f.matches(item)), None)
                if fault is None:
                    verdicts.append(None)
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                self.injected[fault.kind] += 1
                self.faulted[fault.kind].append(item.id)
                verdicts.append(Verdict(fault.kind, fault.status))
        return verdicts

    def __enter__(self) -> FaultProxy:
        super().__enter__()
        return self


def _re(pattern: str | None) -> re.Pattern[str] | None:
    return None if pattern is None else re.compile(pattern)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self._read_body()
        fault = self.server._take_request_fault(self.command, self.path)
        if fault is not None and fault.kind == "drop" and not fault.after_forward:
            self._drop()
            return
        if fault is not None and fault.kind == "status":
            kind, reason = REQUEST_ERRORS.get(fault.status, ("fault_proxy_exception", "injected"))
            error = {"type": kind, "reason": reason}
            payload = json.dumps({"error": {"root_cause": [error], **error},
                                  "status": fault.status}).encode()
            self._reply(fault.status, [("Content-Type", JSON_TYPE)], payload)
            return
        route = self.path.split("?", 1)[0]
        if self.command in ("POST", "PUT") and BULK_PATH.search(route) and body:
            status, headers, payload = self._bulk(route, body)
        else:
            status, headers, payload = self._forward(body)
        if fault is not None:  # a drop after forwarding: the node did it, the client never hears
            self._drop()
            return
        self._reply(status, headers, payload)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body: bytes | None = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
        if body and self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        host, port = self.server.upstream
        headers["Host"] = f"{host}:{port}"
        if body is not None:
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command == "HEAD":
                kept.append(("Content-Length", resp.getheader("Content-Length") or "0"))
            return resp.status, kept, data
        finally:
            conn.close()

    def _bulk(self, route: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        default_index = route.strip("/").split("/")[0] if route.count("/") > 1 else ""
        items = parse_bulk(body, default_index)
        verdicts = self.server._judge(items)
        if not any(verdicts):
            return self._forward(body)
        kept = [item for item, verdict in zip(items, verdicts, strict=True) if verdict is None]
        answered: list[dict[str, Any]] = []
        took = 0
        headers = [("Content-Type", JSON_TYPE), ("X-elastic-product", "Elasticsearch")]
        if kept:
            status, headers, data = self._forward(b"".join(line + b"\n" for item in kept
                                                           for line in item.lines))
            if status != 200:  # the whole request failed: so did the items we held back
                return status, headers, data
            upstream = json.loads(data)
            answered, took = upstream["items"], upstream.get("took", 0)
        upstream_items = iter(answered)
        merged = [next(upstream_items) if verdict is None else item_error(verdict.status, item)
                  for item, verdict in zip(items, verdicts, strict=True)]
        return 200, headers, json.dumps({"errors": True, "took": took, "items": merged}).encode()

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for name, value in headers:
            if name.lower() != "content-length" or self.command == "HEAD":
                self.send_header(name, value)
        if "x-elastic-product" not in names:
            self.send_header("X-elastic-product", "Elasticsearch")
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
