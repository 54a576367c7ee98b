"""Polite, bounded HTTP fetching of feeds, sitemaps and article pages.

`PoliteFetcher.fetch` never raises for network or HTTP trouble: every call ends in a
`FetchResult`, with a named `reason` when it is not ok. Politeness is per host (name, any
port): at most `per_host_concurrency` requests in flight, request starts at least
max(min_interval, Crawl-delay) apart, robots.txt (RFC 9309) obeyed, 429/5xx retried with
jittered backoff and Retry-After honoured host-wide. Safety: every connection goes through the
SSRF guard (tasks.fetch.net_guard), redirects are followed by hand so each hop is re-checked, and a
body is decoded here with bounded output, so neither a huge page nor a decompression bomb can
cost more than about `max_bytes` of memory.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import logging
import random
import re
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import brotli
import charset_normalizer
import httpx
import zstandard
from protego import Protego

from tasks.fetch.net_guard import (
    AddressRefused,
    IPNetwork,
    allow_networks_from_env,
    check_url,
    guarded_transport,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "ceasefire-etl/0.1 (news research crawler; +https://example.invalid/ceasefire-etl)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 500_000  # RFC 9309 2.5: parse at least 500 KiB; the rest is ignored
ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2
DECODE_CHUNK = 64 * 1024  # most decompressed output produced per decoder step
MAX_CODINGS = 3  # stacked Content-Encodings; more is an attack, not a server
CHARSET_SNIFF_BYTES = 4096

# brotli < 1.2 cannot bound its output per call, so br is only offered when it can.
_BROTLI_BOUNDED = hasattr(brotli.Decompressor, "can_accept_more_data")
ACCEPT_ENCODING = "gzip, deflate" + (", br" if _BROTLI_BOUNDED else "") + ", zstd"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How fast, how far and how much the fetcher may go (seconds and bytes)."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 15.0  # between two reads
    deadline: float = 30.0  # one whole attempt: connect, headers and body
    max_bytes: int = 5_000_000  # decoded body
    max_redirects: int = 5
    max_retries: int = 3  # retries after the first attempt
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0  # a longer Retry-After ends the retries instead
    per_host_concurrency: int = 2
    min_interval: float = 1.0  # between request starts on one host
    host_intervals: Mapping[str, float] = field(default_factory=dict)  # per-host min_interval
    crawl_delay_cap: float = 60.0
    respect_robots: bool = True
    robots_ttl: float = 24 * 3600.0
    robots_error_ttl: float = 600.0  # an unreachable robots.txt is asked again after this
    max_connections: int = 100  # in flight across all hosts
    allow_networks: tuple[IPNetwork, ...] = ()  # CEASEFIRE_FETCH_ALLOW_NETWORKS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> FetchSettings:
        """Defaults plus the SSRF allow-list from the environment (or the given mapping)."""
        return cls(**{"allow_networks": allow_networks_from_env(env), **overrides})


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


@dataclass(frozen=True, slots=True)
class RobotsEntry:
    """A robots.txt as fetched: HTTP status (None: unreachable), text, epoch seconds."""

    status: int | None
    text: str
    fetched_at: float


class RobotsLike(Protocol):
    """Anything stored in a robots store (tasks.state.StoredRobots has the same fields)."""

    @property
    def status(self) -> int | None: ...
    @property
    def text(self) -> str: ...
    @property
    def fetched_at(self) -> float: ...


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


# --- pure helpers ------------------------------------------------------------------------

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


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff before retry number `attempt` (0-based), capped."""
    return rng.uniform(0, min(cap, base * 2 ** attempt))


# WHATWG Encoding: these labels mean windows-1252 in practice.
_CP1252_LABELS = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                            "us-ascii", "ascii", "x-user-defined"})
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-z0-9._:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([a-z0-9._:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _CP1252_LABELS:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    # Refuse bytes-to-bytes "codecs" such as base64 or zlib that a page might name.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares in `<meta charset>`, `http-equiv` or `<?xml encoding>`."""
    head = body[:CHARSET_SNIFF_BYTES]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    label = match.group(1).decode("ascii", "replace").lower()
    # An HTML prescan that finds UTF-16 means UTF-8: the bytes it just read were ASCII.
    return "utf-8" if label.startswith("utf-16") else label


def _try_decode(body: bytes, label: str | None) -> str | None:
    codec = _codec(label)
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Text of an HTML or XML body: BOM, then header charset, `<meta>` charset, then a guess.

    Never raises. A body that is valid UTF-8 and not plain ASCII is read as UTF-8 whatever
    is declared: a legacy single-byte charset "decodes cleanly" from any bytes, and servers
    announcing ISO-8859-1 for UTF-8 pages are far more common than text that happens to be
    valid UTF-8 by accident.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    if not body.isascii():
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode("utf-8")
    for label in (header_charset, declared_charset(body)):
        text = _try_decode(body, label)
        if text is not None:
            return text
    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        with contextlib.suppress(UnicodeError, LookupError):
            return str(best)
    return body.decode("utf-8", errors="replace")


# --- bounded body decoding ---------------------------------------------------------------

class _TooLarge(Exception):
    """The decoded body went past its limit."""


class _Sink:
    """Collects decoded bytes; raises _TooLarge past `limit` (keeping the first `limit`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        room = self.limit - self.size
        self.size += len(data)
        if self.size > self.limit:
            self.parts.append(bytes(data[:room]))
            raise _TooLarge
        self.parts.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


Writer = Callable[[bytes], Any]


class _ZlibDecoder:
    """gzip or deflate (zlib-wrapped or raw), at most DECODE_CHUNK of output per step."""

    def __init__(self, out: Writer, gzip: bool) -> None:
        self._out = out
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._head: bytes | None = None if gzip else b""  # deflate: bytes before framing is known
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._head is not None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._head = None
            # "deflate" is sent both zlib-wrapped (per RFC) and raw (by old servers): a zlib
            # stream starts with a method byte and a check byte that make a multiple of 31.
            if not (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0):
                self._wbits = -zlib.MAX_WBITS
                self._d = zlib.decompressobj(self._wbits)
        self._drain(data)

    def _drain(self, data: bytes) -> None:
        while not self._done:
            # max_length bounds each step's output: one small chunk cannot inflate to gigabytes.
            chunk = self._d.decompress(data, DECODE_CHUNK)
            self._out(chunk)
            data = self._d.unconsumed_tail
            if self._d.eof:
                self._done = True  # bytes after the end of the stream are ignored, as by httpx
            elif not data and len(chunk) < DECODE_CHUNK:
                return

    def finish(self) -> None:
        if not self._done:
            self._out(self._d.flush())


class _BrotliDecoder:
    def __init__(self, out: Writer) -> None:
        self._out = out
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> None:
        if self._d.is_finished():
            return  # bytes after the end of the stream are ignored, as by httpx
        chunk = self._d.process(data, output_buffer_limit=DECODE_CHUNK)
        # Output held back by the limit is handed over only when asked for (with no input).
        while chunk:
            self._out(chunk)
            if self._d.is_finished():
                return
            chunk = self._d.process(b"", output_buffer_limit=DECODE_CHUNK)

    def finish(self) -> None:
        pass


class _ZstdDecoder:
    def __init__(self, out: Writer) -> None:
        # The writer hands over DECODE_CHUNK at a time; the sink's _TooLarge stops it there.
        self._w = zstandard.ZstdDecompressor().stream_writer(_WriterAdapter(out),
                                                              write_size=DECODE_CHUNK)

    def feed(self, data: bytes) -> None:
        self._w.write(data)

    def finish(self) -> None:
        self._w.flush()


class _WriterAdapter:
    def __init__(self, out: Writer) -> None:
        self.write = lambda data: out(data) or len(data)


class _Identity:
    def __init__(self, out: Writer) -> None:
        self.feed = out

    def finish(self) -> None:
        pass


_DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError)


def _decoders(content_encoding: str | None, sink: _Sink) -> list[Any]:
    """Decoder chain for a Content-Encoding header; the first one gets the raw bytes."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    if len(codings) > MAX_CODINGS:
        raise httpx.DecodingError(f"{len(codings)} content codings")
    chain: list[Any] = []
    out: Writer = sink.write
    # Codings are listed in the order applied, so the last one is undone first.
    for coding in codings:
        if coding in ("gzip", "x-gzip"):
            dec: Any = _ZlibDecoder(out, gzip=True)
        elif coding == "deflate":
            dec = _ZlibDecoder(out, gzip=False)
        elif coding == "br" and _BROTLI_BOUNDED:
            dec = _BrotliDecoder(out)
        elif coding == "zstd":
            dec = _ZstdDecoder(out)
        else:
            # Like httpx: unknown labels ("identity", "none", "utf-8") pass bytes through.
            continue
        chain.append(dec)
        out = dec.feed
    chain.reverse()
    return chain or [_Identity(sink.write)]


async def read_body(response: httpx.Response, limit: int, truncate: bool = False) -> bytes:
    """The decoded body; past `limit` decoded bytes, _TooLarge (or its start if `truncate`).

    httpx's own decoders (`aiter_bytes`) inflate each network chunk completely, so one 64 KiB
    chunk of a brotli or gzip bomb becomes hundreds of megabytes before we could count it;
    decoding the raw stream here bounds every step instead.
    """
    sink = _Sink(limit)
    chain = _decoders(response.headers.get("content-encoding"), sink)
    try:
        async for raw in response.aiter_raw():
            chain[0].feed(raw)
        for dec in chain:
            dec.finish()
    except _TooLarge:
        if not truncate:
            raise
    return sink.value()


# --- the fetcher -------------------------------------------------------------------------

@dataclass(slots=True)
class _HostGate:
    """Politeness state of one host."""

    slots: asyncio.Semaphore
    lock: asyncio.Lock
    interval: float
    last_start: float = float("-inf")
    not_before: float = 0.0  # set by Retry-After, for every request to the host


@dataclass(slots=True)
class _Outcome:
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


def _host_key(url: httpx.URL) -> str:
    return url.host.lower().rstrip(".")


def _origin(url: httpx.URL) -> str:
    """Robots.txt scope (RFC 9309 2.3: scheme, host and port)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.raw_host.decode("ascii").lower().rstrip(".")
    return f"{url.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class PoliteFetcher:
    """Async HTTP client for crawling: one per run, used as `async with PoliteFetcher(...)`."""

    def __init__(self, settings: FetchSettings | None = None,
                 robots_store: MutableMapping[str, RobotsLike] | None = None,
                 *, rng: random.Random | None = None) -> None:
        self.settings = settings or FetchSettings()
        # Keyed by origin ("https://example.com:443"), shared with whoever persists it.
        self.robots_store: MutableMapping[str, RobotsLike] = {} if robots_store is None else robots_store
        self.stats = FetchStats()
        self._rng = rng or random.Random()
        self._gates: dict[str, _HostGate] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._parsed: dict[str, tuple[float, Protego | bool]] = {}
        self._global = asyncio.Semaphore(self.settings.max_connections)
        self._client: httpx.AsyncClient | None = None
        # RFC 9309 2.2.1: groups match the product token, not the whole User-Agent (whose
        # comment would let "User-agent: crawler" apply to us).
        self._robots_token = self.settings.user_agent.split("/", 1)[0].split()[0].lower()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, robots.txt included."""
        return self.stats.requests

    async def __aenter__(self) -> PoliteFetcher:
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
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

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
            out = await self._request(current, headers, accept, self.settings.max_bytes)
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
            rules = self._rules(key, entry, _host_key(url))
        if rules is False:
            answer = "unreachable" if entry.status is None else f"HTTP {entry.status}"
            return "robots-unavailable", f"robots.txt of {key}: {answer}, so nothing may be fetched"
        if rules is not True and not rules.can_fetch(str(url), self._robots_token):
            return "robots-disallowed", f"robots.txt of {key} disallows {url.path}"
        return None

    def _fresh(self, entry: RobotsLike) -> bool:
        ok = entry.status is not None and entry.status < 500 and entry.status != 429
        ttl = self.settings.robots_ttl if ok else self.settings.robots_error_ttl
        return 0 <= time.time() - entry.fetched_at < ttl

    def _rules(self, key: str, entry: RobotsLike, host: str) -> Protego | bool:
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
        interval = max(self._min_interval(host), min(delay, self.settings.crawl_delay_cap))
        self._gate(host).interval = interval

    async def _fetch_robots(self, url: httpx.URL
                            ) -> tuple[RobotsEntry | None, tuple[str, str] | None]:
        """robots.txt of `url`'s origin, following up to five redirects; or why it was refused."""
        current = url.copy_with(path="/robots.txt", query=None, fragment=None)
        headers = {"Accept": "text/plain, */*;q=0.1"}
        for hop in range(ROBOTS_MAX_REDIRECTS + 1):
            out = await self._request(current, headers, None, ROBOTS_MAX_BYTES, robots=True)
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

    # --- requests ------------------------------------------------------------------------

    def _min_interval(self, host: str) -> float:
        return self.settings.host_intervals.get(host, self.settings.min_interval)

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(asyncio.Semaphore(self.settings.per_host_concurrency), asyncio.Lock(),
                             self._min_interval(host))
            self._gates[host] = gate
        return gate

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, starting no sooner than its interval allows."""
        gate = self._gate(host)
        async with gate.slots:
            async with gate.lock:
                wait = max(gate.last_start + gate.interval, gate.not_before) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                gate.last_start = time.monotonic()
            async with self._global:
                yield

    async def _request(self, url: httpx.URL, headers: dict[str, str], accept: tuple[str, ...] | None,
                       limit: int, robots: bool = False) -> _Outcome:
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
                gate = self._gate(_host_key(url))
                gate.not_before = max(gate.not_before, time.monotonic() + wait)
                if out.retry_after > s.retry_after_cap:
                    out.detail += f"; Retry-After {out.retry_after:.0f}s exceeds the cap"
                    break
            else:
                wait = backoff_delay(attempt, s.backoff_base, s.backoff_cap, self._rng)
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
                       limit: int, robots: bool) -> _Outcome:
        """One request and its body, within the per-attempt deadline."""
        assert self._client is not None, "use PoliteFetcher as an async context manager"
        host = _host_key(url)
        out = _Outcome(url)
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
            except _TooLarge:
                out.body = None
                out.reason, out.detail = "too-large", f"body exceeds {limit} bytes once decoded"
            except (httpx.DecodingError, *_DECODE_ERRORS) as exc:
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

    def _fail(self, out: _Outcome, host: str, robots: bool, reason: str, detail: str) -> None:
        if out.status is None:  # no response at all: count the request here
            self._count(host, robots, None)
        self.stats.errors[reason] += 1
        out.reason, out.detail = reason, detail

    async def _read(self, response: httpx.Response, out: _Outcome, accept: tuple[str, ...] | None,
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


def _redirect_target(current: httpx.URL, location: str) -> tuple[httpx.URL | None, str]:
    """The URL a Location header points to, or (None, reason) when it may not be followed."""
    try:
        target = current.join(location.strip())
    except (httpx.InvalidURL, ValueError):
        return None, "bad-redirect"
    why = check_url(str(target))
    return (None, why) if why else (target.copy_with(fragment=None), "")


def _result(url: str, out: _Outcome, attempts: int) -> FetchResult:
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
