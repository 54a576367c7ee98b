"""A small real news site on a loopback address: RSS feed, news sitemap, article pages and
robots.txt, with ETag/Last-Modified validators and a request log. For end-to-end tests and
benchmarks of web ingestion (no mocks: real sockets, real HTTP)."""

from __future__ import annotations

import hashlib
import html
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(slots=True)
class Page:
    slug: str
    title: str
    body: str
    published_at: datetime
    author: str = "Staff Reporter"


@dataclass(slots=True)
class NewsSite:
    """Serves `pages` on http://<host>:<port>/ until `close()`."""

    name: str
    pages: list[Page]
    host: str = "127.0.0.1"
    robots: str = "User-agent: *\nAllow: /\n"
    requests: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    _server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def feed_url(self) -> str:
        return f"{self.base}/rss.xml"

    @property
    def sitemap_url(self) -> str:
        return f"{self.base}/news-sitemap.xml"

    def page_url(self, page: Page) -> str:
        return f"{self.base}/news/{page.slug}"

    def rss(self) -> bytes:
        items = "".join(
            f"<item><title>{html.escape(p.title)}</title><link>{self.page_url(p)}?utm_source=rss</link>"
            f"<pubDate>{format_datetime(p.published_at)}</pubDate></item>" for p in self.pages)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>{html.escape(self.name)}</title><link>{self.base}/</link>"
                f"<language>en</language>{items}</channel></rss>").encode()

    def sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.page_url(p)}</loc><news:news><news:publication><news:name>"
            f"{html.escape(self.name)}</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{p.published_at.isoformat()}"
            f"</news:publication_date><news:title>{html.escape(p.title)}</news:title>"
            f"</news:news></url>" for p in self.pages)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset '
                'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
                ).encode()

    def article(self, page: Page) -> bytes:
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in page.body.split("\n\n"))
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(page.title)} | {html.escape(self.name)}</title>"
                f'<meta property="og:title" content="{html.escape(page.title)}">'
                f'<meta property="og:site_name" content="{html.escape(self.name)}">'
                f'<meta name="author" content="{html.escape(page.author)}">'
                f'<meta property="article:published_time" content="{page.published_at.isoformat()}">'
                f'</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
                f"<article><h1>{html.escape(page.title)}</h1>{paragraphs}</article>"
                f"<footer>© {html.escape(self.name)}</footer></body></html>").encode()

    def routes(self) -> dict[str, tuple[str, bytes]]:
        out = {"/robots.txt": ("text/plain", self.robots.encode()),
               "/rss.xml": ("application/rss+xml", self.rss()),
               "/news-sitemap.xml": ("application/xml", self.sitemap())}
        for page in self.pages:
            out[f"/news/{page.slug}"] = ("text/html; charset=utf-8", self.article(page))
        return out

    def start(self) -> NewsSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.requests.append(path)
                route = site.routes().get(path)
                if route is None:
                    return self._send(404, "text/plain", b"not found")
                ctype, body = route
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, ctype, b"", etag)
                return self._send(200, ctype, body, etag)

            def _send(self, status: int, ctype: str, body: bytes, etag: str | None = None) -> None:
                site.statuses[status] += 1
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
