"""The polite fetcher and SSRF guard against real HTTP servers on loopback (testkit/http_server.py).

Nothing here opens a connection to a non-loopback address: the address-class tests are pure.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import random
import ssl
import time
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import brotli
import httpcore
import httpx
import pytest
import zstandard

from tasks.fetch.charset import decode_html
from tasks.fetch.client import FetchResult, PoliteFetcher
from tasks.fetch.net_guard import (
    AddressRefused,
    GuardedBackend,
    check_address,
    check_url,
    guarded_transport,
    parse_networks,
)
from tasks.fetch.requester import media_type_accepted, parse_content_type, parse_retry_after
from tasks.models import RobotsEntry
from tasks.retry import full_jitter
from tasks.settings import FetchSettings
from testkit.http_server import (
    Handler,
    Log,
    Server,
    free_port,
    page,
    redirect,
    self_signed,
    send,
    sequence,
    stream,
    zeros_compressed,
)

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.5, deadline=2.0, max_bytes=1_000_000,
                     max_redirects=3, max_retries=2, backoff_base=0.01, backoff_cap=0.05,
                     retry_after_cap=5.0, min_interval=0.0, allow_networks=LOOPBACK)
HTML = "<html><head><title>Truce</title></head><body><p>Ceasefire holds.</p></body></html>"
NO_ROBOTS = FAST.replace(respect_robots=False)


def fetch(url: str, settings: FetchSettings = FAST, store: Any = None, **kw: Any) -> FetchResult:
    """One fetch with a fresh fetcher."""
    async def go() -> FetchResult:
        async with PoliteFetcher(settings, store) as fetcher:
            return await fetcher.fetch(url, **kw)
    return asyncio.run(go())


def fetch_many(urls: list[str], settings: FetchSettings = FAST) -> tuple[list[FetchResult], PoliteFetcher]:
    """Concurrent fetches through one fetcher."""
    async def go() -> tuple[list[FetchResult], PoliteFetcher]:
        async with PoliteFetcher(settings) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(u) for u in urls))), fetcher
    return asyncio.run(go())


# --- SSRF guard: pure checks ---------------------------------------------------------------

@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("100.64.1.1", "cgnat"), ("100.127.255.254", "cgnat"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("2001:db8::1", "reserved"), ("4000::1", "reserved"),
    ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("::", "unspecified"),
    # IPv6 forms carrying a refused IPv4 address: mapped, compatible, translated, 6to4, NAT64.
    ("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:100.64.0.1", "cgnat"), ("::ffff:0.0.0.0", "unspecified"),
    ("::10.0.0.1", "private"), ("::ffff:0:10.0.0.1", "private"),
    ("2002:a00:1::1", "private"), ("2002:a9fe:a9fe::", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"), ("64:ff9b::7f00:1", "loopback"),
])
def test_check_address_refuses_every_internal_class(address: str, reason: str) -> None:
    assert check_address(ipaddress.ip_address(address), ()) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "151.101.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_check_address_allows_public_addresses(address: str) -> None:
    assert check_address(ipaddress.ip_address(address), ()) is None


def test_allow_list_overrides_only_what_it_names() -> None:
    allow = parse_networks("127.0.0.0/8, ::1/128")
    assert check_address(ipaddress.ip_address("127.0.0.2"), allow) is None
    assert check_address(ipaddress.ip_address("::ffff:127.0.0.1"), allow) is None
    assert check_address(ipaddress.ip_address("::1"), allow) is None
    assert check_address(ipaddress.ip_address("10.0.0.1"), allow) == "private"
    assert check_address(ipaddress.ip_address("169.254.169.254"), allow) == "metadata"


def test_allow_list_from_environment() -> None:
    env = {"CEASEFIRE_FETCH_ALLOW_NETWORKS": " 127.0.0.0/8 ,10.1.0.0/16,"}
    settings = FetchSettings.from_env(env)
    assert settings.allow_networks == (ipaddress.ip_network("127.0.0.0/8"),
                                       ipaddress.ip_network("10.1.0.0/16"))
    assert FetchSettings.from_env({}).allow_networks == ()
    with pytest.raises(ValueError, match="not a network"):
        FetchSettings.from_env({"CEASEFIRE_FETCH_ALLOW_NETWORKS": "localhost"})


@pytest.mark.parametrize(("url", "reason"), [
    ("file:///etc/passwd", "bad-scheme"), ("ftp://127.0.0.1/feed.xml", "bad-scheme"),
    ("gopher://127.0.0.1:70/", "bad-scheme"), ("javascript:alert(1)", "bad-scheme"),
    ("http://user:secret@127.0.0.1/", "credentials-in-url"), ("http:///path", "no-host"),
    ("https://example.com/news?id=1", None),
])
def test_check_url(url: str, reason: str | None) -> None:
    assert check_url(url) == reason


def test_guard_is_installed_in_the_transport() -> None:
    transport = guarded_transport(LOOPBACK)
    backend = transport._pool._network_backend  # type: ignore[attr-defined]
    assert isinstance(backend, GuardedBackend)
    assert backend.allow == LOOPBACK


class _RecordingBackend(httpcore.AnyIOBackend):
    """The real network backend, noting every address it is asked to connect to."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, **kw: Any) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        return await super().connect_tcp(host, port, **kw)


class _RebindingDNS(GuardedBackend):
    """A resolver that gives a new answer each time, as a rebinding attacker's DNS does."""

    def __init__(self, answers: list[list[str]], inner: httpcore.AsyncNetworkBackend) -> None:
        super().__init__(LOOPBACK, inner)
        self.answers = answers

    async def resolve(self, host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in self.answers.pop(0)]


def test_dns_rebinding_is_checked_at_every_connect() -> None:
    async def go() -> None:
        with Server({"/": page(HTML)}) as srv:
            port = srv.server_address[1]
            inner = _RecordingBackend()
            # First answer loopback (allowed here), then internal addresses.
            backend = _RebindingDNS([["127.0.0.1"], ["10.0.0.1"], ["127.0.0.1", "169.254.169.254"]],
                                    inner)
            conn = await backend.connect_tcp("news.rebind.test", port, timeout=1.0)
            await conn.aclose()
            with pytest.raises(AddressRefused) as first:
                await backend.connect_tcp("news.rebind.test", port, timeout=1.0)
            with pytest.raises(AddressRefused) as second:
                await backend.connect_tcp("news.rebind.test", port, timeout=1.0)
            assert (first.value.reason, second.value.reason) == ("private", "metadata")
            # Only the checked address was ever connected to: by IP, not by name.
            assert inner.connected == ["127.0.0.1"]
    asyncio.run(go())


def test_tls_still_verifies_the_url_hostname_when_connecting_by_ip(tmp_path: Path) -> None:
    server_tls, cert = self_signed("localhost", tmp_path)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: sni.append(name)  # type: ignore[assignment]

    async def go(url: str) -> httpx.Response:
        transport = guarded_transport(parse_networks("127.0.0.0/8,::1/128"),
                                      verify=ssl.create_default_context(cafile=str(cert)))
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url)

    with Server({"/": page(HTML)}, tls=server_tls) as srv:
        port = srv.server_address[1]
        # The guard connects to the checked IP; SNI and the certificate check use the name.
        assert asyncio.run(go(f"https://localhost:{port}/")).text == HTML
        assert sni == ["localhost"]
        with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|IP address mismatch"):
            asyncio.run(go(f"https://127.0.0.1:{port}/"))  # the certificate names localhost only


def test_localhost_by_name_is_refused_without_allow_list() -> None:
    with Server({"/": page(HTML)}) as srv:
        url = f"http://localhost:{srv.server_address[1]}/"
        result = fetch(url, FAST.replace(allow_networks=()))
        assert (result.ok, result.reason) == (False, "ssrf-refused:loopback")
        assert srv.log.requests == []
        allowed = parse_networks("127.0.0.0/8,::1/128")
        assert fetch(url, FAST.replace(allow_networks=allowed)).ok


# --- pure helpers --------------------------------------------------------------------------

def test_retry_after_parsing() -> None:
    now = datetime(2025, 10, 13, 6, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Mon, 13 Oct 2025 06:01:30 GMT", now) == 90.0
    assert parse_retry_after("Mon, 13 Oct 2025 05:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_is_capped_full_jitter() -> None:
    rng = random.Random(1)
    delays = [full_jitter(attempt, 0.5, 30.0, rng) for attempt in range(12) for _ in range(20)]
    assert all(0 <= d <= 30.0 for d in delays)
    assert max(full_jitter(0, 0.5, 30.0, rng) for _ in range(50)) <= 0.5
    assert max(delays) > 15  # late attempts reach towards the cap


def test_content_type_helpers() -> None:
    assert parse_content_type('text/HTML; Charset="ISO-8859-1"') == ("text/html", "iso-8859-1")
    assert parse_content_type("application/rss+xml") == ("application/rss+xml", None)
    assert parse_content_type(None) == (None, None)
    assert media_type_accepted("text/html", ("text/html",))
    assert media_type_accepted("text/plain", ("text/*",))
    assert not media_type_accepted("application/pdf", ("text/html", "application/xhtml+xml"))
    assert not media_type_accepted(None, ("text/html",))


FRENCH = ("Le cessez-le-feu a été annoncé à l'aube. Les négociateurs, réunis à Doha, ont salué "
          "une « étape décisive » vers la paix ; l'accord prévoit l'échange de prisonniers, "
          "l'entrée de l'aide humanitaire et le retrait progressif des troupes. ")


def test_decode_html_header_charset_wrong_meta_right() -> None:
    body = f'<meta charset="windows-1252"><p>{FRENCH} – “quoted”</p>'.encode("cp1252")
    assert FRENCH in decode_html(body, "utf-8")
    assert "“quoted”" in decode_html(body, "utf-8")


def test_decode_html_http_equiv_charset() -> None:
    text = "Перемирие вступило в силу в полночь."
    body = ('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
            f"<p>{text}</p>").encode("koi8-r")
    assert text in decode_html(body, None)


def test_decode_html_utf8_body_under_a_latin1_header() -> None:
    body = f"<p>{FRENCH} Київ</p>".encode()
    assert f"{FRENCH} Київ" in decode_html(body, "iso-8859-1")


def test_decode_html_missing_or_bogus_charset_falls_back_to_a_guess() -> None:
    body = ("<p>" + FRENCH * 3 + "</p>").encode("cp1252")
    for header in (None, "x-no-such-charset", "base64", '"utf-8"'):
        text = decode_html(body, header)
        assert "cessez-le-feu a été annoncé" in text and "\ufffd" not in text


def test_decode_html_never_raises() -> None:
    for body in (b"", b"\xff\xfe\x00\xd8", bytes(range(256)) * 3, b"\x81\x8d\x8f\x90\x9d" * 20):
        for header in (None, "utf-8", "cp1252", "utf-16", "rot13", "zlib", ""):
            assert isinstance(decode_html(body, header), str)
    assert decode_html(b"\xef\xbb\xbfcaf\xc3\xa9", "cp1252") == "café"  # the BOM wins


# --- fetching ------------------------------------------------------------------------------

def test_gzip_page_is_decoded_with_metadata_and_user_agent() -> None:
    routes = {"/story": page(gzip.compress(HTML.encode()), Content_Encoding="gzip",
                             ETag='"abc"', Last_Modified="Mon, 13 Oct 2025 06:00:00 GMT")}
    with Server(routes) as srv:
        result = fetch(srv.url("/story"), accept=("text/html",))
        assert result.ok and result.reason is None and result.status == 200
        assert result.body == HTML.encode()
        assert (result.content_type, result.charset) == ("text/html", "utf-8")
        assert (result.etag, result.last_modified) == ('"abc"', "Mon, 13 Oct 2025 06:00:00 GMT")
        assert result.final_url == srv.url("/story") and result.attempts == 1
        assert result.text() == HTML
        assert srv.log.paths() == ["/robots.txt", "/story"]
        for seen in srv.log.requests:
            assert seen.headers["user-agent"] == FAST.user_agent
        assert "gzip" in srv.log.requests[1].headers["accept-encoding"]


def _raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize(("encoding", "compress"), [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate),
    ("br", brotli.compress), ("zstd", zstandard.compress),
    ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
])
def test_every_offered_encoding_is_decoded(encoding: str, compress: Any) -> None:
    body = (HTML * 2000).encode()  # 170 KB: several network reads, several decoder steps
    with Server({"/p": page(compress(body), Content_Encoding=encoding)}) as srv:
        result = fetch(srv.url("/p"), NO_ROBOTS)
        assert result.ok and result.body == body
        assert srv.log.requests[0].headers["accept-encoding"] == "gzip, deflate, br, zstd"


def test_conditional_get_with_etag_and_last_modified() -> None:
    stamp = "Mon, 13 Oct 2025 06:00:00 GMT"

    def conditional(h: Handler) -> None:
        if h.headers.get("If-None-Match") == '"v1"' or h.headers.get("If-Modified-Since") == stamp:
            send(h, 304, b"", {"ETag": '"v1"'})
        else:
            send(h, 200, HTML.encode(), {"Content-Type": "text/html", "ETag": '"v1"',
                                         "Last-Modified": stamp})

    with Server({"/feed": conditional}) as srv:
        first = fetch(srv.url("/feed"), NO_ROBOTS)
        assert first.ok and not first.not_modified and first.body == HTML.encode()
        by_etag = fetch(srv.url("/feed"), NO_ROBOTS, etag=first.etag)
        by_date = fetch(srv.url("/feed"), NO_ROBOTS, last_modified=first.last_modified)
        for result in (by_etag, by_date):
            assert (result.ok, result.not_modified, result.status, result.body) == (True, True, 304, None)
            assert result.reason is None
        assert by_date.last_modified == stamp  # kept although the 304 did not repeat it
        sent = [r.headers for r in srv.log.requests]
        assert sent[1]["if-none-match"] == '"v1"' and "if-modified-since" not in sent[1]
        assert sent[2]["if-modified-since"] == stamp and "if-none-match" not in sent[2]


def test_429_retry_after_is_honoured() -> None:
    routes = {"/busy": sequence(page("slow down", status=429, Retry_After="1"), page(HTML))}
    with Server(routes) as srv:
        result = fetch(srv.url("/busy"), NO_ROBOTS)
        assert result.ok and result.attempts == 2
        first, second = srv.log.times("/busy")
        assert second - first >= 0.98


def test_retry_after_beyond_the_cap_ends_retries() -> None:
    routes = {"/busy": page("come back in an hour", status=503, Retry_After="3600")}
    with Server(routes) as srv:
        started = time.monotonic()
        result = fetch(srv.url("/busy"), NO_ROBOTS)
        assert (result.reason, result.status, result.attempts) == ("retries-exhausted", 503, 1)
        assert "Retry-After" in result.detail and time.monotonic() - started < 1
        assert srv.log.count("/busy") == 1


def test_503_then_success() -> None:
    routes = {"/flaky": sequence(page("down", status=503), page(HTML))}
    with Server(routes) as srv:
        result = fetch(srv.url("/flaky"), NO_ROBOTS)
        assert result.ok and result.attempts == 2 and result.body == HTML.encode()


def test_persistent_500_exhausts_retries() -> None:
    with Server({"/broken": page("oops", status=500)}) as srv:
        result = fetch(srv.url("/broken"), NO_ROBOTS)
        assert (result.ok, result.reason, result.status) == (False, "retries-exhausted", 500)
        assert result.attempts == FAST.max_retries + 1 == srv.log.count("/broken")


def test_final_client_error_is_named_and_not_retried() -> None:
    with Server({"/gone": page("gone", status=410)}) as srv:
        assert fetch(srv.url("/missing"), NO_ROBOTS).reason == "http-404"
        result = fetch(srv.url("/gone"), NO_ROBOTS)
        assert (result.reason, result.status, result.body) == ("http-410", 410, None)
        assert srv.log.count("/gone") == 1


def test_connect_error_is_retried_then_named() -> None:
    result = fetch(f"http://127.0.0.1:{free_port()}/", NO_ROBOTS)
    assert (result.ok, result.reason, result.attempts) == (False, "connect-error", FAST.max_retries + 1)


def test_redirect_chain_across_hosts_records_final_url() -> None:
    with Server({"/robots.txt": page("User-agent: *\nDisallow: /secret\n", "text/plain"),
                 "/c": page(HTML)}, host="127.0.0.3") as other:
        routes = {"/a": redirect("/b", 301), "/b": redirect(other.url("/c"), 307)}
        with Server(routes) as srv:
            result = fetch(srv.url("/a"))
            assert result.ok and result.final_url == other.url("/c") and result.url == srv.url("/a")
            assert srv.log.paths() == ["/robots.txt", "/a", "/b"]
            assert other.log.paths() == ["/robots.txt", "/c"]  # robots.txt of the new host first


def test_redirect_to_a_path_robots_disallows_is_not_followed() -> None:
    routes = {"/robots.txt": page("User-agent: *\nDisallow: /secret\n", "text/plain"),
              "/a": redirect("/secret/page")}
    with Server(routes) as srv:
        result = fetch(srv.url("/a"))
        assert result.reason == "robots-disallowed"
        assert "/secret/page" not in srv.log.paths()


def test_too_many_redirects() -> None:
    with Server({"/loop": redirect("/loop")}) as srv:
        result = fetch(srv.url("/loop"), NO_ROBOTS)
        assert (result.ok, result.reason, result.status) == (False, "too-many-redirects", 302)
        assert srv.log.count("/loop") == FAST.max_redirects + 1


def test_redirect_to_a_refused_address_never_reaches_it() -> None:
    internal = Server({"/": page(HTML)}, host="127.0.0.2")  # loopback, but not allowed here
    with internal, Server({"/go": redirect(internal.url("/"))}) as srv:
        settings = FAST.replace(allow_networks=parse_networks("127.0.0.1/32"))
        result = fetch(srv.url("/go"), settings)
        assert (result.ok, result.reason) == (False, "ssrf-refused:loopback")
        assert result.final_url == internal.url("/")
        assert internal.log.requests == []
        no_robots = fetch(srv.url("/go"), settings.replace(respect_robots=False))
        assert no_robots.reason == "ssrf-refused:loopback"
        assert internal.log.requests == []


def test_redirect_to_another_scheme_is_refused() -> None:
    with Server({"/go": redirect("file:///etc/passwd")}) as srv:
        result = fetch(srv.url("/go"), NO_ROBOTS)
        assert (result.ok, result.reason) == (False, "bad-scheme")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml"])
def test_bad_scheme_is_a_result_not_an_exception(url: str) -> None:
    result = fetch(url)
    assert (result.ok, result.reason, result.status, result.attempts) == (False, "bad-scheme", None, 0)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_decompression_bomb_costs_bounded_memory(encoding: str) -> None:
    # 1 GiB of zeros, compressed while sent in 64 MiB groups (about 64 KB of gzip each).
    def bomb(h: Handler) -> None:
        stream(h, 200, zeros_compressed(1 << 30, encoding),
               {"Content-Type": "text/html", "Content-Encoding": encoding})

    with Server({"/bomb": bomb}) as srv:
        tracemalloc.start()
        try:
            # Generous timeouts: compressing 64 MiB groups takes the server a moment.
            result = fetch(srv.url("/bomb"), NO_ROBOTS.replace(read_timeout=10, deadline=20))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (result.ok, result.reason, result.body) == (False, "too-large", None)
        assert peak < 20_000_000, f"peak {peak / 1e6:.1f} MB"


def test_identity_body_over_the_cap_is_refused_by_content_length() -> None:
    big = b"x" * (FAST.max_bytes + 1)
    with Server({"/big": page(big), "/fits": page(big[: FAST.max_bytes])}) as srv:
        result = fetch(srv.url("/big"), NO_ROBOTS)
        assert (result.reason, result.body) == ("too-large", None)
        assert "Content-Length" in result.detail
        assert len(fetch(srv.url("/fits"), NO_ROBOTS).body or b"") == FAST.max_bytes


def test_slow_response_times_out() -> None:
    def slow(h: Handler) -> None:
        time.sleep(1.2)  # past the 0.5 s read timeout
        send(h, 200, b"late", {"Content-Type": "text/html"})

    with Server({"/slow": slow}) as srv:
        result = fetch(srv.url("/slow"), NO_ROBOTS.replace(max_retries=1))
        assert (result.ok, result.reason, result.attempts) == (False, "timeout", 2)
        assert result.elapsed_s < 3.0  # two 0.5 s read timeouts, not the server's 2 x 1.2 s


def test_slow_drip_body_hits_the_deadline() -> None:
    def drip(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):  # each byte well within the read timeout, all far past the deadline
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.1)

    with Server({"/drip": drip}) as srv:
        result = fetch(srv.url("/drip"), NO_ROBOTS.replace(max_retries=0, deadline=1.0))
        assert (result.ok, result.reason, result.body) == (False, "timeout", None)
        assert 0.9 <= result.elapsed_s < 3.0  # the 1 s deadline, not the 100 s drip


def test_wrong_charset_header_end_to_end() -> None:
    body = f'<html><head><meta charset="windows-1252"></head><p>{FRENCH}</p>'.encode("cp1252")
    with Server({"/fr": page(body, "text/html; charset=utf-8"),
                 "/none": page(body, "text/html")}) as srv:
        for path, declared in (("/fr", "utf-8"), ("/none", None)):
            result = fetch(srv.url(path), NO_ROBOTS)
            assert result.ok and result.charset == declared
            assert FRENCH in decode_html(result.body or b"", result.charset)


def test_unsupported_content_type() -> None:
    with Server({"/doc.pdf": page(b"%PDF-1.7" + b"\0" * 200_000, "application/pdf"),
                 "/note": page("plain", "text/plain")}) as srv:
        result = fetch(srv.url("/doc.pdf"), NO_ROBOTS, accept=("text/html", "application/xhtml+xml"))
        assert (result.ok, result.reason, result.body) == (False, "unsupported-content-type", None)
        assert result.content_type == "application/pdf"
        assert fetch(srv.url("/note"), NO_ROBOTS, accept=("text/*",)).ok
        assert srv.log.requests[0].headers["accept"].startswith("text/html, application/xhtml+xml")


# --- robots.txt ----------------------------------------------------------------------------

def test_robots_disallow_blocks_before_any_request() -> None:
    robots = ("User-agent: *\nDisallow: /private\n\n"
              # Groups match our product token only, not words of the User-Agent comment.
              "User-agent: crawler\nDisallow: /\n")
    routes = {"/robots.txt": page(robots, "text/plain"), "/private/x": page(HTML), "/news": page(HTML)}
    with Server(routes) as srv:
        results, fetcher = fetch_many([srv.url("/private/x"), srv.url("/news"), srv.url("/news")])
        assert results[0].reason == "robots-disallowed" and not results[0].ok
        assert results[1].ok and results[2].ok
        assert "/private/x" not in srv.log.paths()
        assert srv.log.count("/robots.txt") == 1  # one fetch per host, however many wait on it
        assert fetcher.stats.robots_requests == 1


def test_robots_group_for_our_token() -> None:
    robots = "User-agent: *\nDisallow: /\n\nUser-agent: ceasefire-etl\nDisallow: /drafts\n"
    with Server({"/robots.txt": page(robots, "text/plain"), "/news": page(HTML)}) as srv:
        results, _ = fetch_many([srv.url("/news"), srv.url("/drafts/1")])
        assert results[0].ok and results[1].reason == "robots-disallowed"


def test_robots_404_allows_everything() -> None:
    with Server({"/news": page(HTML)}) as srv:
        result = fetch(srv.url("/news"))
        assert result.ok and srv.log.paths() == ["/robots.txt", "/news"]


def test_robots_503_disallows_everything() -> None:
    with Server({"/robots.txt": page("down", status=503), "/news": page(HTML)}) as srv:
        results, _ = fetch_many([srv.url("/news"), srv.url("/other")])
        assert [r.reason for r in results] == ["robots-unavailable"] * 2
        assert set(srv.log.paths()) == {"/robots.txt"}
        assert srv.log.count("/robots.txt") == FAST.max_retries + 1  # retried once, then cached


def test_robots_redirect_is_followed() -> None:
    routes = {"/robots.txt": redirect("/real-robots.txt", 301),
              "/real-robots.txt": page("User-agent: *\nDisallow: /x\n", "text/plain"),
              "/x": page(HTML), "/y": page(HTML)}
    with Server(routes) as srv:
        results, _ = fetch_many([srv.url("/x"), srv.url("/y")])
        assert results[0].reason == "robots-disallowed" and results[1].ok
        assert "/x" not in srv.log.paths()


def test_oversized_robots_is_truncated_not_refused() -> None:
    robots = "User-agent: *\nDisallow: /x\n" + "# padding\n" * 100_000  # 1 MB
    with Server({"/robots.txt": page(robots, "text/plain"), "/y": page(HTML)}) as srv:
        results, _ = fetch_many([srv.url("/x"), srv.url("/y")])
        assert results[0].reason == "robots-disallowed" and results[1].ok


def test_robots_store_is_used_and_stale_entries_refetched() -> None:
    routes = {"/robots.txt": page("User-agent: *\nDisallow: /b\n", "text/plain"),
              "/a": page(HTML), "/b": page(HTML)}
    with Server(routes) as srv:
        origin = f"http://127.0.0.1:{srv.server_address[1]}"
        fresh = {origin: RobotsEntry(200, "User-agent: *\nDisallow: /a\n", time.time() - 60)}
        assert fetch(srv.url("/a"), store=fresh).reason == "robots-disallowed"
        assert fetch(srv.url("/b"), store=fresh).ok
        assert srv.log.paths() == ["/b"]  # the stored copy answered: no robots.txt request

        stale = {origin: RobotsEntry(200, "User-agent: *\nDisallow: /a\n", time.time() - 2 * 86400)}
        assert fetch(srv.url("/a"), store=stale).ok
        assert fetch(srv.url("/b"), store=stale).reason == "robots-disallowed"
        assert srv.log.count("/robots.txt") == 1
        assert stale[origin].status == 200 and "Disallow: /b" in stale[origin].text
        assert time.time() - stale[origin].fetched_at < 60


def test_crawl_delay_spaces_request_starts() -> None:
    routes = {"/robots.txt": page("User-agent: *\nCrawl-delay: 0.4\n", "text/plain"),
              **{f"/p{i}": page(HTML) for i in range(3)}}
    with Server(routes) as srv:
        results, _ = fetch_many([srv.url(f"/p{i}") for i in range(3)])
        assert all(r.ok for r in results)
        starts = sorted(srv.log.times())
        assert len(starts) == 4
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= 0.35, gaps  # 0.4 s apart at the client, less a little jitter


def test_per_host_concurrency_limit() -> None:
    both = Log()  # in flight on the two hosts together

    def slow(h: Handler) -> None:
        with both.lock:
            both.in_flight += 1
            both.max_in_flight = max(both.max_in_flight, both.in_flight)
        time.sleep(0.25)
        with both.lock:
            both.in_flight -= 1
        send(h, 200, HTML.encode(), {"Content-Type": "text/html"})

    with Server({"/s": slow}) as one, Server({"/s": slow}, host="127.0.0.4") as two:
        urls = [one.url(f"/s?n={i}") for i in range(6)] + [two.url(f"/s?n={i}") for i in range(6)]
        results, fetcher = fetch_many(urls, NO_ROBOTS)
        assert all(r.ok for r in results)
        assert one.log.max_in_flight == 2 and two.log.max_in_flight == 2
        assert both.max_in_flight == 4  # the limit is per host, not shared
        assert fetcher.stats.requests == 12
        assert fetcher.stats.by_host == {"127.0.0.1": 6, "127.0.0.4": 6}
        assert fetcher.stats.by_status == {200: 12}


def test_counters_include_robots_and_every_status() -> None:
    routes = {"/robots.txt": page("User-agent: *\nDisallow: /no\n", "text/plain"),
              "/ok": page(HTML), "/r": redirect("/ok"), "/flaky": sequence(page("x", status=502), page(HTML))}
    with Server(routes) as srv:
        _, fetcher = fetch_many([srv.url(p) for p in ("/ok", "/r", "/no", "/missing", "/flaky")])
        stats = fetcher.stats
        assert stats.requests == fetcher.requests_sent == len(srv.log.requests) == 7
        assert stats.robots_requests == 1
        assert stats.by_status == {200: 4, 302: 1, 404: 1, 502: 1}
        assert stats.results == {"ok": 3, "robots-disallowed": 1, "http-404": 1}
        assert stats.as_dict()["by_status"]["200"] == 4
