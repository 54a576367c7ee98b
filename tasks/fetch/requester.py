"""Sending one GET politely: per-host slots and intervals, retries, bounded bodies.

Apart from client.py, which builds crawling on it (robots.txt, redirects, results), so each
part reads on its own. Politeness is per host (name, any port): at most `per_host_concurrency`
requests in flight, request starts at least the host's interval apart, 429/5xx retried with
jittered backoff and Retry-After honoured host-wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpx

from tasks.fetch.decoding import ACCEPT_ENCODING, DECODE_ERRORS, TooLarge, read_body
from tasks.fetch.net_guard import AddressRefused, guarded_transport
from tasks.retry import full_jitter
from tasks.settings import FetchSettings

if TYPE_CHECKING:
    from tasks.fetch.client import FetchStats

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type, charset) from a Content-Type header, lower case; None where absent."""
    if not value:
        return None, None
    media = value.split(";", 1)[0].strip().lower() or None
    match = re.search(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", value, re.IGNORECASE)
    return media, match.group(1).lower() if match else None


def media_type_accepted(media: str | None, accept: tuple[str, ...]) -> bool:
    """Whether `media` matches one of `accept` ("type/sub", "type/*" or "*/*")."""
    # RFC 9110 8.3: a recipient may treat a missing type as application/octet-stream.
    media = media or "application/octet-stream"
    major = media.split("/", 1)[0]
    return any(a.lower() in (media, f"{major}/*", "*/*") for a in accept)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(slots=True)
class HostGate:
    """Politeness state of one host."""

    slots: asyncio.Semaphore
    lock: asyncio.Lock
    interval: float
    last_start: float = float("-inf")
    not_before: float = 0.0  # set by Retry-After, for every request to the host


@dataclass(slots=True)
class Outcome:
    """One request's result after its retries (redirects are not followed here)."""

    url: httpx.URL
    status: int | None = None
    headers: httpx.Headers | None = None
    body: bytes | None = None
    reason: str | None = None
    detail: str = ""
    retryable: bool = False
    retry_after: float | None = None
    attempts: int = 0


def host_key(url: httpx.URL) -> str:
    return url.host.lower().rstrip(".")


class Requester:
    """The fetcher's HTTP side: one connection pool, the host gates, and `request`."""

    def __init__(self, settings: FetchSettings, stats: FetchStats, rng: random.Random) -> None:
        self.settings = settings
        self.stats = stats
        self._rng = rng
        self._gates: dict[str, HostGate] = {}
        self._global = asyncio.Semaphore(settings.max_connections)
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
        """Create the connection pool; every connection goes through the SSRF guard."""
        s = self.settings
        transport = guarded_transport(
            s.allow_networks, http2=False, retries=0, trust_env=False,
            limits=httpx.Limits(max_connections=s.max_connections,
                                max_keepalive_connections=min(s.max_connections, 50)))
        # No cookies: a crawler has no session to keep, and a jar shared by thousands of sites
        # would only grow and carry one site's state into another's requests.
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False, cookies=jar,
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout, pool=s.connect_timeout),
            headers={"User-Agent": s.user_agent, "Accept-Encoding": ACCEPT_ENCODING})

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def min_interval(self, host: str) -> float:
        return self.settings.host_intervals.get(host, self.settings.min_interval)

    def gate(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = HostGate(asyncio.Semaphore(self.settings.per_host_concurrency), asyncio.Lock(),
                            self.min_interval(host))
            self._gates[host] = gate
        return gate

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, starting no sooner than its interval allows."""
        gate = self.gate(host)
        async with gate.slots:
            async with gate.lock:
                wait = max(gate.last_start + gate.interval, gate.not_before) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                gate.last_start = time.monotonic()
            async with self._global:
                yield

    async def request(self, url: httpx.URL, headers: dict[str, str], accept: tuple[str, ...] | None,
                      limit: int, robots: bool = False) -> Outcome:
        """One GET with retries on 429/5xx, timeouts and connection failures."""
        s = self.settings
        for attempt in range(s.max_retries + 1):
            out = await self._attempt(url, headers, accept, limit, robots)
            out.attempts = attempt + 1
            if not out.retryable:
                return out
            if out.retry_after is not None:
                wait = min(out.retry_after, s.retry_after_cap)
                # The server asked the whole host to wait, not only this URL.
                gate = self.gate(host_key(url))
                gate.not_before = max(gate.not_before, time.monotonic() + wait)
                if out.retry_after > s.retry_after_cap:
                    out.detail += f"; Retry-After {out.retry_after:.0f}s exceeds the cap"
                    break
            else:
                wait = full_jitter(attempt, s.backoff_base, s.backoff_cap, self._rng)
            if attempt == s.max_retries:
                break
            await asyncio.sleep(wait)
        if out.reason is None:  # a retryable status every time
            out.reason = "retries-exhausted"
            out.detail = f"HTTP {out.status} after {out.attempts} attempts" + out.detail
        else:
            out.detail = f"{out.detail} (after {out.attempts} attempts)"
        return out

    async def _attempt(self, url: httpx.URL, headers: dict[str, str], accept: tuple[str, ...] | None,
                       limit: int, robots: bool) -> Outcome:
        """One request and its body, within the per-attempt deadline."""
        assert self._client is not None, "use PoliteFetcher as an async context manager"
        host = host_key(url)
        out = Outcome(url)
        async with self._slot(host):
            try:
                async with asyncio.timeout(self.settings.deadline):
                    request = self._client.build_request("GET", url, headers=headers)
                    response = await self._client.send(request, stream=True)
                    try:
                        self._count(host, robots, response.status_code)
                        await self._read(response, out, accept, limit, robots)
                    finally:
                        await response.aclose()
            except AddressRefused as exc:  # nothing was sent: not counted as a request
                self.stats.errors["ssrf-refused"] += 1
                out.reason, out.detail = f"ssrf-refused:{exc.reason}", str(exc)
            except (TimeoutError, httpx.TimeoutException) as exc:
                self._fail(out, host, robots, "timeout", f"{type(exc).__name__} {exc}".strip())
                out.detail = out.detail or f"no complete response within {self.settings.deadline}s"
                out.retryable = True
            except httpx.ConnectError as exc:
                self._fail(out, host, robots, "connect-error", str(exc))
                out.retryable = True
            except TooLarge:
                out.body = None
                out.reason, out.detail = "too-large", f"body exceeds {limit} bytes once decoded"
            except (httpx.DecodingError, *DECODE_ERRORS) as exc:
                out.reason, out.detail, out.body = "decoding-error", str(exc), None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                out.reason, out.detail = "bad-url", str(exc)
            except httpx.TransportError as exc:  # reset or broken response mid-way
                self._fail(out, host, robots, "network-error", f"{type(exc).__name__}: {exc}")
                out.retryable = True
        return out

    def _count(self, host: str, robots: bool, status: int | None) -> None:
        self.stats.requests += 1
        self.stats.robots_requests += int(robots)
        self.stats.by_host[host] += 1
        if status is not None:
            self.stats.by_status[status] += 1

    def _fail(self, out: Outcome, host: str, robots: bool, reason: str, detail: str) -> None:
        if out.status is None:  # no response at all: count the request here
            self._count(host, robots, None)
        self.stats.errors[reason] += 1
        out.reason, out.detail = reason, detail

    async def _read(self, response: httpx.Response, out: Outcome, accept: tuple[str, ...] | None,
                    limit: int, robots: bool) -> None:
        """Status, headers and (for 2xx only) the body into `out`."""
        out.status, out.headers = response.status_code, response.headers
        if out.status in RETRY_STATUSES:
            out.retryable = True
            out.retry_after = parse_retry_after(response.headers.get("retry-after"))
            return
        if not 200 <= out.status < 300:
            return  # error pages, redirects and 304s: the body is of no use
        media, _charset = parse_content_type(response.headers.get("content-type"))
        if accept and not media_type_accepted(media, accept):
            out.reason, out.detail = "unsupported-content-type", f"{media or 'none'} not in {accept}"
            return
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        length = response.headers.get("content-length", "")
        if not robots and encoding == "identity" and length.isdigit() and int(length) > limit:
            out.reason, out.detail = "too-large", f"Content-Length {length} exceeds {limit} bytes"
            return
        # RFC 9309 2.5 lets a crawler ignore what lies past the limit: robots.txt is truncated.
        out.body = await read_body(response, limit, truncate=robots)
        self.stats.bytes_received += len(out.body)
