"""Canonical URLs under any input: IPv6 literals keep their brackets (and stay fetchable),
odd URLs never raise, canonicalising twice changes nothing."""

from __future__ import annotations

import asyncio
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.dedupe.identity import canonical_url, dedupe_links, url_id
from tasks.fetch.client import PoliteFetcher
from tasks.models import Link
from tasks.settings import FetchSettings


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://[::1]:9212/x", "http://[::1]:9212/x"),
    ("http://[2001:DB8::1]/a?utm_source=feed&id=3#top", "http://[2001:db8::1]/a?id=3"),
    ("http://[::ffff:127.0.0.1]:80/", "http://[::ffff:127.0.0.1]/"),
    ("HTTPS://Example.com:443/News/a.amp?amp=1", "https://example.com/News/a"),
    ("http://[::1", "http://[::1"),  # unbalanced: kept, not an exception
    ("http://example.com:99999/a", "http://example.com:99999/a"),
])
def test_canonical_urls(url, canonical):
    assert canonical_url(url) == canonical


@given(st.text(max_size=200))
def test_canonical_url_never_raises_and_is_stable(text):
    once = canonical_url(text)
    assert canonical_url(once) == once
    assert url_id(once).startswith("u")  # hashes even lone surrogates


@given(st.from_regex(r"https?://\[[0-9a-f:]{2,20}\](:[1-9][0-9]{0,3})?/[a-z0-9/]{0,20}", fullmatch=True))
def test_ipv6_literals_keep_brackets(url):
    assert "[" in canonical_url(url) and "]" in canonical_url(url)


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_an_ipv6_link_is_fetched_after_canonicalisation():
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body><p>ok</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    try:
        server = Server6(("::1", 0), Page)
    except OSError:
        pytest.skip("cannot bind [::1]")
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        [link] = dedupe_links([Link(f"http://[::1]:{port}/story?utm_source=x", "test")])
        assert link.url == f"http://[::1]:{port}/story"
        settings = FetchSettings.from_env({}, allow_networks="::1/128", respect_robots=False,
                                          min_interval=0.0)

        async def fetch() -> bool:
            async with PoliteFetcher(settings) as fetcher:
                return (await fetcher.fetch(link.url)).ok

        assert asyncio.run(fetch())
    finally:
        server.shutdown()
        server.server_close()
