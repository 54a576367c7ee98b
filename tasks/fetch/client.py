"""Polite, bounded HTTP fetching of feeds, sitemaps and article pages.

`PoliteFetcher.fetch` never raises for network or HTTP trouble: every call ends in a
`FetchResult`, with a named `reason` when it is not ok. This module is what crawling adds to a
single polite request (tasks.fetch.requester): robots.txt (RFC 9309) obeyed, and redirects
followed by hand so that the SSRF guard (tasks.fetch.net_guard) re-checks each hop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from protego import Protego

from tasks.fetch.charset import decode_html
from tasks.fetch.net_guard import check_url
from tasks.fetch.requester import Outcome, Requester, host_key, parse_content_type
from tasks.models import RobotsEntry
from tasks.settings import FetchSettings

LOGGER = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 500_000  # RFC 9309 2.5: parse at least 500 KiB; the rest is ignored
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2


@dataclass(slots=True)
class FetchResult:
    """What one fetch produced; `reason` names the failure when not ok."""

    url: str
    final_url: str
    status: int | None = None
    ok: bool = False
    not_modified: bool = False
    body: bytes | None = None
    content_type: str | None = None  # media type only, lower case
    charset: str | None = None  # as declared by the Content-Type header
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    detail: str = ""
    attempts: int = 0
    elapsed_s: float = 0.0

    def text(self) -> str:
        """The body as text (see `decode_html`); empty when there is none."""
        return decode_html(self.body, self.charset) if self.body else ""


@dataclass(slots=True)
class FetchStats:
    """Counters for run reports and benchmarks."""

    requests: int = 0  # requests sent, robots.txt included
    robots_requests: int = 0
    bytes_received: int = 0  # decoded body bytes kept
    by_host: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # attempts that got no response
    results: Counter[str] = field(default_factory=Counter)  # "ok", "not-modified" or a reason

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON reports."""
        return {"requests": self.requests, "robots_requests": self.robots_requests,
                "bytes_received": self.bytes_received, "by_host": dict(self.by_host),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "errors": dict(self.errors), "results": dict(self.results)}


def _origin(url: httpx.URL) -> str:
    """Robots.txt scope (RFC 9309 2.3: scheme, host and port)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.raw_host.decode("ascii").lower().rstrip(".")
    return f"{url.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class PoliteFetcher:
    """Async HTTP client for crawling: one per run, used as `async with PoliteFetcher(...)`."""

    def __init__(self, settings: FetchSettings | None = None,
                 robots_store: MutableMapping[str, RobotsEntry] | None = None,
                 *, rng: random.Random | None = None) -> None:
        self.settings = settings or FetchSettings()
        # Keyed by origin ("https://example.com:443"), shared with whoever persists it.
        self.robots_store: MutableMapping[str, RobotsEntry] = {} if robots_store is None else robots_store
        self.stats = FetchStats()
        self._requests = Requester(self.settings, self.stats, rng or random.Random())
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._parsed: dict[str, tuple[float, Protego | bool]] = {}
        # RFC 9309 2.2.1: groups match the product token, not the whole User-Agent (whose
        # comment would let "User-agent: crawler" apply to us).
        self._robots_token = self.settings.user_agent.split("/", 1)[0].split()[0].lower()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, robots.txt included."""
        return self.stats.requests

    async def __aenter__(self) -> PoliteFetcher:
        self._requests.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._requests.close()

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    accept: tuple[str, ...] | None = None) -> FetchResult:
        """GET `url` politely, following redirects; never raises for network or HTTP trouble."""
        started = time.monotonic()
        result = await self._fetch(url, etag, last_modified, accept)
        result.elapsed_s = round(time.monotonic() - started, 3)
        self.stats.results[result.reason or ("not-modified" if result.not_modified else "ok")] += 1
        if not result.ok:
            LOGGER.info("fetch %s: %s %s", url, result.reason, result.detail)
        return result

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None,
                     accept: tuple[str, ...] | None) -> FetchResult:
        why = check_url(url)
        if why:
            return FetchResult(url, url, reason=why, detail=f"cannot fetch {url[:200]!r}")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = ", ".join((*accept, "*/*;q=0.1"))
        current = httpx.URL(url)
        attempts = 0
        for hop in range(self.settings.max_redirects + 1):
            if self.settings.respect_robots:
                refusal = await self._robots_refusal(current)
                if refusal:
                    return FetchResult(url, str(current), reason=refusal[0], detail=refusal[1],
                                       attempts=attempts)
            out = await self._requests.request(current, headers, accept, self.settings.max_bytes)
            attempts += out.attempts
            location = out.headers.get("location") if out.headers is not None else None
            if out.reason is None and out.status in REDIRECT_STATUSES and location:
                if hop == self.settings.max_redirects:
                    return FetchResult(url, str(current), out.status, reason="too-many-redirects",
                                       detail=f"more than {hop} redirects", attempts=attempts)
                target, why = _redirect_target(current, location)
                if target is None:
                    return FetchResult(url, str(current), out.status, reason=why,
                                       detail=f"redirect to {location[:200]!r}", attempts=attempts)
                current = target
                continue
            result = _result(url, out, attempts)
            if result.not_modified:
                # A 304 need not repeat the validators; the caller still wants them kept.
                result.etag = result.etag or etag
                result.last_modified = result.last_modified or last_modified
            return result
        raise AssertionError("unreachable")  # the loop returns on its last hop

    # --- robots.txt ----------------------------------------------------------------------

    async def _robots_refusal(self, url: httpx.URL) -> tuple[str, str] | None:
        """(reason, detail) when robots.txt forbids `url`, else None."""
        if url.path == "/robots.txt":
            return None
        key = _origin(url)
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:  # one robots.txt request per origin, however many fetches wait
            entry = self.robots_store.get(key)
            if entry is None or not self._fresh(entry):
                fetched, refused = await self._fetch_robots(url)
                if fetched is None:
                    return refused
                entry = self.robots_store[key] = fetched
            rules = self._rules(key, entry, host_key(url))
        if rules is False:
            answer = "unreachable" if entry.status is None else f"HTTP {entry.status}"
            return "robots-unavailable", f"robots.txt of {key}: {answer}, so nothing may be fetched"
        if rules is not True and not rules.can_fetch(str(url), self._robots_token):
            return "robots-disallowed", f"robots.txt of {key} disallows {url.path}"
        return None

    def _fresh(self, entry: RobotsEntry) -> bool:
        ok = entry.status is not None and entry.status < 500 and entry.status != 429
        ttl = self.settings.robots_ttl if ok else self.settings.robots_error_ttl
        return 0 <= time.time() - entry.fetched_at < ttl

    def _rules(self, key: str, entry: RobotsEntry, host: str) -> Protego | bool:
        """Parsed rules: True allows all, False disallows all (cached per fetched copy)."""
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == entry.fetched_at:
            return cached[1]
        status = entry.status
        rules: Protego | bool
        if status is not None and 200 <= status < 300:
            rules = Protego.parse(entry.text)
            self._apply_crawl_delay(host, rules)
        else:
            # RFC 9309 2.3.1.3-4: 4xx means no robots.txt, so all allowed; 5xx or no answer
            # means complete disallow. 429 counts as the latter: it is no permission to crawl.
            rules = status is not None and 400 <= status < 500 and status != 429
        self._parsed[key] = (entry.fetched_at, rules)
        return rules

    def _apply_crawl_delay(self, host: str, rules: Protego) -> None:
        ua = self._robots_token
        delay = rules.crawl_delay(ua) or 0.0
        rate = rules.request_rate(ua)
        if rate is not None and rate.requests:
            delay = max(delay, rate.seconds / rate.requests)
        interval = max(self._requests.min_interval(host), min(delay, self.settings.crawl_delay_cap))
        self._requests.gate(host).interval = interval

    async def _fetch_robots(self, url: httpx.URL
                            ) -> tuple[RobotsEntry | None, tuple[str, str] | None]:
        """robots.txt of `url`'s origin, following up to five redirects; or why it was refused."""
        current = url.copy_with(path="/robots.txt", query=None, fragment=None)
        headers = {"Accept": "text/plain, */*;q=0.1"}
        for hop in range(ROBOTS_MAX_REDIRECTS + 1):
            out = await self._requests.request(current, headers, None, ROBOTS_MAX_BYTES, robots=True)
            if hop == 0 and out.reason and out.reason.startswith("ssrf-refused"):
                # The page's own host is refused: say so, rather than "robots-unavailable".
                return None, (out.reason, out.detail)
            location = out.headers.get("location") if out.headers is not None else None
            if out.reason is None and out.status in REDIRECT_STATUSES and location:
                target, _why = _redirect_target(current, location)
                if target is None:
                    break
                current = target
                continue
            if out.reason not in (None, "retries-exhausted"):
                break  # no usable answer (timeout, refused redirect, undecodable): unreachable
            ok = out.status is not None and 200 <= out.status < 300
            text = (out.body or b"").decode("utf-8", errors="replace") if ok else ""
            return RobotsEntry(out.status, text, time.time()), None
        LOGGER.info("robots.txt of %s unreachable", _origin(url))
        return RobotsEntry(None, "", time.time()), None


def _redirect_target(current: httpx.URL, location: str) -> tuple[httpx.URL | None, str]:
    """The URL a Location header points to, or (None, reason) when it may not be followed."""
    try:
        target = current.join(location.strip())
    except (httpx.InvalidURL, ValueError):
        return None, "bad-redirect"
    why = check_url(str(target))
    return (None, why) if why else (target.copy_with(fragment=None), "")


def _result(url: str, out: Outcome, attempts: int) -> FetchResult:
    """The FetchResult for a request's final outcome."""
    headers = out.headers if out.headers is not None else httpx.Headers()
    media, charset = parse_content_type(headers.get("content-type"))
    result = FetchResult(url, str(out.url), out.status, reason=out.reason, detail=out.detail,
                         attempts=attempts, content_type=media, charset=charset,
                         etag=headers.get("etag"), last_modified=headers.get("last-modified"))
    if out.reason is not None:
        return result
    if out.status == 304:
        result.ok = result.not_modified = True
    elif out.status is not None and 200 <= out.status < 300:
        result.ok, result.body = True, out.body if out.body is not None else b""
    else:
        result.reason, result.detail = f"http-{out.status}", f"HTTP {out.status} from {out.url}"
    return result
