"""WARC/ARC archives: pages captured from the loopback news site and the extraction corpus,
written by warcio, come out as the HTML path makes them; every other record is a named skip or
no input; damaged and hostile archives never raise and lose no intact record before the
damage; a backfill of an archive balances in the real Elasticsearch."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tracemalloc
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows.backfill import backfill
from flows.ingest import ingest_files
from tasks.extract import warc
from tasks.extract.dates import sane_date
from tasks.extract.html import extract_html
from tasks.extract.read_files import discover_files, iter_archives, read_file
from tasks.models import Article, Skip
from testkit.news_site import NewsSite, Page
from testkit.syndication import load_stories

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "benchmarks" / "extraction_corpus"
STORIES = load_stories()
CAPTURED = datetime(2025, 11, 3, 8, 30, tzinfo=UTC)
PUBLISHED = datetime(2025, 10, 1, 12, tzinfo=UTC)
# What the HTML path decides about a page; a WARC record of it must come out the same.
SAME_AS_HTML = ("title", "body", "url", "authors", "source", "source_domain", "dateline", "lead",
                "language_hint", "extractor")
HTML_REASONS = {"html-unparseable", "no-article-text", "body-too-short", "no-title"}
PROPERTY = hypothesis_settings(max_examples=150, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])


def warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def story_page(i: int, *, title: str | None = None) -> bytes:
    """A news page (the loopback site's markup) for story `i`."""
    story = STORIES[i]
    site = NewsSite("Archive Times", [])
    return site.article(Page(story["id"], title or story["title"], story["body"], PUBLISHED))


def response(writer: WARCWriter, uri: str, body: bytes, *, status: str = "200 OK",
             ctype: str | None = "text/html; charset=utf-8", headers: tuple = (),
             date: datetime = CAPTURED, warc_headers: dict | None = None) -> None:
    """Write one response record as a crawler stores it."""
    http_headers = [("Content-Type", ctype)] if ctype else []
    http = StatusAndHeaders(status, [*http_headers, *headers], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        uri, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": warc_date(date), **(warc_headers or {})})
    writer.write_record(record)


def other(writer: WARCWriter, uri: str, kind: str, body: bytes = b"a: b\r\n",
          ctype: str = "application/warc-fields", date: datetime = CAPTURED) -> None:
    record = writer.create_warc_record(uri, kind, payload=io.BytesIO(body), warc_content_type=ctype,
                                       warc_headers_dict={"WARC-Date": warc_date(date)})
    writer.write_record(record)


def items_of(data: bytes, origin: str = "f") -> list[Article | Skip]:
    return list(warc.read_archive(io.BytesIO(data), origin))


def offset(item: Article | Skip) -> int:
    origin = item.origin or ""
    return int(origin.rsplit("@", 1)[1])


def same_as_html(article: Article, html: bytes, url: str, captured: datetime = CAPTURED) -> None:
    expected = extract_html(html, url=url)
    for name in SAME_AS_HTML:
        assert getattr(article, name) == getattr(expected, name), name
    assert article.published_at == sane_date(expected.published_at, captured)
    assert article.fetched_at == captured


# --- (a) the loopback news site, captured over real HTTP ------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    pages = [Page(s["id"], s["title"], s["body"], PUBLISHED + timedelta(days=i))
             for i, s in enumerate(STORIES[40:44])]
    news = NewsSite("Archive Times", pages, host="127.0.0.4").start()
    yield news
    news.close()


def capture_site(site: NewsSite, path: Path, gzip_records: bool) -> list[str]:
    """Fetch the site's robots.txt, feed, pages and a missing page over loopback HTTP with a
    warcio-recording client (request and response records, as a crawler writes them)."""
    urls = [f"{site.base}/robots.txt", site.feed_url, *(site.page_url(p) for p in site.pages),
            f"{site.base}/news/gone"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gzip_records)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        with capture_http(writer):
            for url in urls:
                try:
                    opener.open(url, timeout=10).read()
                except urllib.error.HTTPError as exc:
                    assert exc.code == 404
    return urls


@pytest.mark.parametrize("name", ["site.warc.gz", "site.warc"])
def test_pages_captured_from_the_news_site_come_out_as_the_html_path_makes_them(site, tmp_path, name):
    path = tmp_path / name
    started = datetime.now(UTC).replace(microsecond=0)
    capture_site(site, path, gzip_records=name.endswith(".gz"))
    items = list(read_file(path))  # found by its name, like any file in a folder
    articles = [i for i in items if isinstance(i, Article)]
    skips = [i for i in items if isinstance(i, Skip)]
    # warcinfo and the seven requests are no inputs; robots.txt, the feed and the 404 are named.
    assert [a.url for a in articles] == [site.page_url(p) for p in site.pages]
    assert [(s.reason, s.detail) for s in skips] == [
        ("warc-not-html", f"{site.base}/robots.txt: text/plain"),
        ("warc-not-html", f"{site.feed_url}: application/rss+xml"),
        ("warc-http-404", f"{site.base}/news/gone")]
    routes = site.routes()
    for article, page in zip(articles, site.pages, strict=True):
        assert article.published_at == page.published_at
        assert article.fetched_at is not None and started <= article.fetched_at <= datetime.now(UTC)
        same_as_html(article, routes[f"/news/{page.slug}"][1], site.page_url(page), article.fetched_at)
        assert article.origin.startswith(f"{path}@")
    assert len({i.origin for i in items}) == len(items)  # origins name one record each


# --- (b) the extraction corpus ----------------------------------------------------------------


def corpus() -> list[tuple[str, str, bytes]]:
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").read_text().splitlines()]
    return [(r["id"], r["url"] or f"https://corpus.example/{r['id']}",
             (CORPUS / "pages" / f"{r['id']}.html").read_bytes()) for r in rows]


@pytest.mark.parametrize(("gzip_records", "every"), [(True, 1), (False, 6)])
def test_extraction_corpus_pages_read_from_a_warc_match_the_html_path(tmp_path, gzip_records, every):
    pages = corpus()[::every]
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip_records)
    for i, (_, url, html) in enumerate(pages):
        other(writer, url, "request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "application/http; msgtype=request")
        response(writer, url, html, date=CAPTURED + timedelta(minutes=i))
    items = items_of(buffer.getvalue())
    assert len(items) == len(pages)
    for i, (item, (page_id, url, html)) in enumerate(zip(items, pages, strict=True)):
        assert isinstance(item, Article), (page_id, item)
        same_as_html(item, html, url, CAPTURED + timedelta(minutes=i))


# --- what is an input, what is skipped and why ------------------------------------------------


def test_every_kind_of_record_is_an_article_a_named_skip_or_no_input(monkeypatch):
    monkeypatch.setattr(warc, "MAX_RECORD_BYTES", 60_000)
    page = story_page(1)
    buffer = io.BytesIO()
    w = WARCWriter(buffer, gzip=True)
    w.write_record(w.create_warcinfo_record("x.warc.gz", {"software": "tests"}))
    response(w, "https://e.example/ok", page)
    other(w, "https://e.example/ok", "request", b"GET /ok HTTP/1.1\r\nHost: e.example\r\n\r\n",
          "application/http; msgtype=request")
    other(w, "https://e.example/ok", "metadata")
    other(w, "https://e.example/resource", "resource", page, "text/html")
    response(w, "https://e.example/moved", b"", status="301 Moved Permanently",
             headers=(("Location", "/ok"),))
    response(w, "https://e.example/gone", b"<html>gone</html>", status="404 Not Found")
    response(w, "https://e.example/odd", b"x", status="abc")
    response(w, "https://e.example/logo.png", b"\x89PNG....", ctype="image/png")
    response(w, "https://e.example/untyped", page, ctype=None)
    response(w, "https://e.example/huge", page + b" " * 60_000)
    response(w, "https://e.example/bomb", gzip.compress(b" " * 1_000_000),
             headers=(("Content-Encoding", "gzip"),))
    response(w, "https://e.example/broken", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20,
             headers=(("Content-Encoding", "gzip"),))
    response(w, "https://e.example/part", page, warc_headers={"WARC-Segment-Number": "1"})
    w.write_record(w.create_revisit_record("https://e.example/ok", "sha1:AAAA", "https://e.example/ok",
                                           warc_date(CAPTURED)))
    response(w, "https://e.example/menu", b"<html><body><p>Home</p></body></html>")
    response(w, "https://e.example/cut", page, warc_headers={"WARC-Truncated": "length"})
    items = items_of(buffer.getvalue())
    got = [(i.url, "article") if isinstance(i, Article) else (i.detail.split(": ")[0], i.reason)
           for i in items]
    assert got == [
        ("https://e.example/ok", "article"),
        ("https://e.example/resource", "article"),
        ("https://e.example/moved", "warc-http-301"),
        ("https://e.example/gone", "warc-http-404"),
        ("https://e.example/odd", "warc-bad-http-status"),
        ("https://e.example/logo.png", "warc-not-html"),
        ("https://e.example/untyped", "warc-not-html"),
        ("https://e.example/huge", "warc-too-large"),
        ("https://e.example/bomb", "warc-too-large"),
        ("https://e.example/broken", "warc-undecodable"),
        ("https://e.example/part", "warc-segmented"),
        ("https://e.example/ok", "warc-revisit"),
        ("4 characters", "body-too-short"),  # as the HTML path names it
        ("https://e.example/cut", "article"),
    ]
    assert items[-1].notes == [warc.TRUNCATED_NOTE]  # kept, and counted as cut by the crawler
    assert items[0].notes == []


def test_charset_chunking_and_compression_are_undone_as_the_fetcher_does():
    russian = story_page(2, title="Переговоры о прекращении огня возобновились в Эр-Рияде")
    body = russian.replace(b'<meta charset="utf-8">', b"")  # only the HTTP header names it
    cp1251 = body.decode("utf-8").encode("cp1251")
    packed = gzip.compress(body)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                       for part in (packed[:100], packed[100:])) + b"0\r\n\r\n"
    buffer = io.BytesIO()
    w = WARCWriter(buffer, gzip=False)
    response(w, "https://e.example/ru", cp1251, ctype="text/html; charset=windows-1251")
    response(w, "https://e.example/gz", chunked, headers=(("Transfer-Encoding", "chunked"),
                                                           ("Content-Encoding", "gzip")))
    one, two = items_of(buffer.getvalue())
    assert one.title.startswith("Переговоры")
    same_as_html(one, body, "https://e.example/ru")
    same_as_html(two, body, "https://e.example/gz")


def test_capture_time_bounds_the_page_date_and_bad_capture_dates_are_left_empty():
    buffer = io.BytesIO()
    w = WARCWriter(buffer, gzip=True)
    response(w, "https://e.example/a", story_page(3), date=PUBLISHED - timedelta(days=30))
    response(w, "https://e.example/b", story_page(4), warc_headers={"WARC-Date": "yesterday"})
    response(w, "https://e.example/c", story_page(5), warc_headers={"WARC-Date": "2999-01-01T00:00:00Z"})
    early, undated, future = items_of(buffer.getvalue())
    # Captured a month before the page says it was published: that date cannot be right.
    assert (early.fetched_at, early.published_at) == (PUBLISHED - timedelta(days=30), None)
    assert (undated.fetched_at, undated.published_at) == (None, PUBLISHED)
    assert (future.fetched_at, future.published_at) == (None, PUBLISHED)


def arc_file(pages: list[tuple[str, bytes]], gzip_records: bool) -> bytes:
    """An ARC (version 1) file: the file header, then `<url> <ip> <date> <type> <length>` records."""
    spec = b"1 0 Tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [b"filedesc://t.arc 0.0.0.0 20251103083000 text/plain %d\n%s\n" % (len(spec), spec)]
    for url, http in pages:
        records.append(b"%s 127.0.0.1 20251103083000 text/html %d\n%s\n" % (url.encode(), len(http), http))
    return b"".join(gzip.compress(r) for r in records) if gzip_records else b"".join(records)


@pytest.mark.parametrize("gzip_records", [True, False])
def test_arc_files_are_read_like_warc_files(gzip_records):
    page = story_page(6)
    data = arc_file([("https://e.example/a", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page),
                     ("https://e.example/b", b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\nno")],
                    gzip_records)
    article, missing = items_of(data)
    same_as_html(article, page, "https://e.example/a", CAPTURED)
    assert missing.reason == "warc-http-404"


def test_archives_in_folders_are_found_by_name_and_named_files_read_whatever_their_name(tmp_path):
    buffer = io.BytesIO()
    response(WARCWriter(buffer, gzip=True), "https://e.example/a", story_page(7))
    for name in ("a.warc.gz", "b.WARC", "c.arc.gz", "d.gz", "e.warc.bz2"):
        (tmp_path / name).write_bytes(buffer.getvalue())
    files, skips = discover_files([tmp_path])
    assert [f.name for f in files] == ["a.warc.gz", "b.WARC", "c.arc.gz"]
    assert [(Path(s.origin).name, s.reason) for s in skips] == [
        ("d.gz", "unsupported-file-type"), ("e.warc.bz2", "unsupported-file-type")]
    named = list(iter_archives([tmp_path / "d.gz", tmp_path / "missing.warc", tmp_path]))
    assert isinstance(named[0], Article) and named[0].origin == f"{tmp_path / 'd.gz'}@0"
    assert [s.reason for s in named[1:]] == ["not-found", "not-a-regular-file"]


# --- damage: named, and nothing before it lost ------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A small archive, and where each of its records lies."""

    data: bytes
    spans: list[tuple[int, int, str | None]]  # (offset, end, url of a page record) per record
    gzip_records: bool


def build_sample(gzip_records: bool) -> Sample:
    buffer = io.BytesIO()
    w = WARCWriter(buffer, gzip=gzip_records)
    w.write_record(w.create_warcinfo_record("s.warc", {"software": "tests"}))
    for i in range(4):
        other(w, f"https://e.example/{i}", "request", b"GET / HTTP/1.1\r\nHost: e\r\n\r\n",
              "application/http; msgtype=request")
        response(w, f"https://e.example/{i}", story_page(10 + i), date=CAPTURED + timedelta(hours=i))
    response(w, "https://e.example/gone", b"no", status="404 Not Found")
    data = buffer.getvalue()
    spans = []
    records = ArchiveIterator(io.BytesIO(data))
    for record in records:
        page = record.rec_type == "response" and record.http_headers.get_statuscode() == "200"
        url = record.rec_headers.get_header("WARC-Target-URI") if page else None
        spans.append((records.get_record_offset(), records.get_record_offset()
                      + records.get_record_length(), url))
    return Sample(data, spans, gzip_records)


SAMPLES = {True: build_sample(True), False: build_sample(False)}
INTACT = {flag: {offset(i): i for i in items_of(sample.data)} for flag, sample in SAMPLES.items()}
ALLOWED = set(warc.WARC_REASONS) | HTML_REASONS | {"warc-http-404"}


def check_items(items: list, data: bytes) -> None:
    """The invariants of any archive: Articles and named Skips, origins that increase."""
    offsets = []
    for item in items:
        assert isinstance(item, Article | Skip)
        if isinstance(item, Skip):
            assert item.reason in ALLOWED or item.reason.startswith(("warc-http-", "record-error:")), item
        else:
            assert item.title and item.body
        offsets.append(offset(item))
    assert offsets == sorted(set(offsets))
    assert all(0 <= o <= len(data) for o in offsets)


def intact_before(sample: Sample, items: list, damage: int) -> None:
    """Every page record that ends before `damage` comes out exactly as from the whole file."""
    got = {offset(i): i for i in items}
    for start, end, url in sample.spans:
        if url and end <= damage:
            assert got.get(start) == INTACT[sample.gzip_records][start], (start, url)


@pytest.mark.parametrize("gzip_records", [True, False])
def test_a_file_cut_short_keeps_every_record_before_the_cut(gzip_records):
    sample = SAMPLES[gzip_records]
    start, end, _ = sample.spans[-2]  # the last page
    in_payload = items_of(sample.data[: (start + end) // 2])
    intact_before(sample, in_payload, start)
    assert (offset(in_payload[-1]), in_payload[-1].reason) == (start, "warc-truncated")
    in_headers = items_of(sample.data[: start + 120])
    intact_before(sample, in_headers, start)
    assert (offset(in_headers[-1]), in_headers[-1].reason) == (start, "warc-corrupt")
    assert len(in_headers) == len(in_payload)


@pytest.mark.parametrize("gzip_records", [True, False])
def test_garbage_in_the_middle_is_one_named_skip_and_reading_resumes_after_it(gzip_records):
    sample = SAMPLES[gzip_records]
    cut = sample.spans[4][0]  # before the third request
    garbage = b"\x00\xffnot a record\n" * 200
    items = items_of(sample.data[:cut] + garbage + sample.data[cut:])
    pages = [i.url for i in items if isinstance(i, Article)]
    assert pages == [f"https://e.example/{i}" for i in range(4)]  # nothing lost, before or after
    assert [(offset(s), s.reason) for s in items if isinstance(s, Skip)] == [
        (cut, "warc-corrupt"), (sample.spans[-1][0] + len(garbage), "warc-http-404")]


def test_a_broken_gzip_member_is_named_and_the_members_after_it_are_read():
    sample = SAMPLES[True]
    start, end, _url = sample.spans[4]  # the second page's member
    data = bytearray(sample.data)
    data[(start + end) // 2] ^= 0x55  # its deflate stream breaks half way
    items = items_of(bytes(data))
    assert next((offset(s), s.reason) for s in items if isinstance(s, Skip)) == (start, "warc-corrupt")
    assert [i.url for i in items if isinstance(i, Article)] == [
        f"https://e.example/{i}" for i in (0, 2, 3)]


def test_one_gzip_stream_over_the_whole_file_is_named_not_misread():
    items = items_of(gzip.compress(SAMPLES[False].data))
    assert [i.reason for i in items] == ["warc-corrupt"]
    assert "non-chunked gzip" in items[0].detail


def test_bytes_without_a_newline_cost_bounded_memory(tmp_path):
    """Garbage with no line end, plain and as a gzip bomb: one named skip, little memory."""
    plain = tmp_path / "junk.warc"
    plain.write_bytes(b"x" * 30_000_000)
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\nX: " + b"a" * 200_000_000, 1))
    for path in (plain, bomb):
        tracemalloc.start()
        try:
            items = list(read_file(path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert [i.reason for i in items] == ["warc-corrupt"], path
        assert peak < 40_000_000, (path, peak)


def test_too_much_damage_gives_up_with_a_named_skip():
    # A record with no target URI makes warcio raise: each is a damaged stretch.
    broken = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 10\r\n\r\n0123456789\r\n\r\n"
    items = items_of(broken * (warc.MAX_DAMAGE + 20))
    assert [i.reason for i in items] == ["warc-corrupt"] * (warc.MAX_DAMAGE + 2)
    assert "rest of the file" in items[-1].detail


# --- hostile bytes: the reader never raises ---------------------------------------------------


# Bytes made of the pieces records are made of, so that many of them get far into the parser.
record_pieces = st.lists(st.one_of(st.sampled_from([
    b"WARC/1.0\r\n", b"WARC-Type: response\r\n", b"WARC-Type: request\r\n", b"Content-Length: 10\r\n",
    b"WARC-Target-URI: http://a/\r\n", b"\r\n", b"\n", b"HTTP/1.1 200 OK\r\n", b"Content-Type: text/html\r\n",
    b"Transfer-Encoding: chunked\r\n", b"Content-Encoding: gzip\r\n", b"5\r\nabcde\r\n0\r\n\r\n",
    b"\x1f\x8b\x08\x00", gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n"), b"<html><title>t</title>",
    b"http://a/ 1.2.3.4 20250101000000 text/html 5\n", b"filedesc://x 0.0.0.0 20250101000000 text/plain 3\n"]),
    st.binary(max_size=20)), max_size=40).map(b"".join)


@PROPERTY
@given(st.one_of(st.binary(max_size=3000), record_pieces))
@example(b"WARC/1.0\r\n\r\n")
@example(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 5\r\n\r\nHTTP/")
@example(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: -5\r\n\r\n")
@example(b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://a/\r\nContent-Length: 9\r\n\r\n\r\n\r\n")
@example(b"http://a/ 1.2.3.4 20250101000000 text/html 99999999999\nHTTP/1.1 200 OK\r\n")
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
@example(zlib.compress(b"WARC/1.0\r\n"))
def test_any_bytes_give_articles_and_named_skips(data):
    check_items(items_of(data), data)


mutations = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 10**6)),
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=300)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 400)),
)


@PROPERTY
@given(st.booleans(), st.lists(mutations, min_size=1, max_size=3))
def test_mutated_archives_never_raise_and_keep_what_lies_before_the_damage(gzip_records, changes):
    sample = SAMPLES[gzip_records]
    data = bytearray(sample.data)
    first = len(data)  # the first byte changed
    for change in changes:
        at = change[1] % (len(data) + 1)
        first = min(first, at)
        if change[0] == "cut":
            del data[at:]
        elif change[0] == "flip" and at < len(data):
            data[at] ^= change[2]
        elif change[0] == "insert":
            data[at:at] = change[2]
        elif change[0] == "delete":
            del data[at:at + change[2]]
    items = items_of(bytes(data))
    check_items(items, bytes(data))
    intact_before(sample, items, first)


@PROPERTY
@given(st.integers(0, len(SAMPLES[True].data) - 1), st.integers(1, 255))
def test_one_broken_gzip_member_loses_no_other_record(at, mask):
    sample = SAMPLES[True]
    data = bytearray(sample.data)
    data[at] ^= mask
    items = items_of(bytes(data))
    check_items(items, bytes(data))
    got = {offset(i): i for i in items}
    for start, end, url in sample.spans:
        if url and not start <= at < end:
            assert got.get(start) == INTACT[True][start], (start, url)


# --- through the pipeline into Elasticsearch ----------------------------------------------------


def write_archive(path: Path, gzip_records: bool = True) -> list[str]:
    """Five pages (one a wire copy of another), a 404, an image and a request; the page URLs."""
    with path.open("wb") as out:
        w = WARCWriter(out, gzip=gzip_records)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "tests"}))
        urls = [f"https://news.example/{STORIES[20 + i]['id']}" for i in range(4)]
        for i, url in enumerate(urls):
            other(w, url, "request", b"GET / HTTP/1.1\r\nHost: news.example\r\n\r\n",
                  "application/http; msgtype=request")
            response(w, url, story_page(20 + i), date=CAPTURED + timedelta(hours=i))
        response(w, "https://news.example/gone", b"not here", status="404 Not Found")
        response(w, "https://news.example/logo.png", b"\x89PNG", ctype="image/png")
    return urls


def test_backfill_of_a_warc_balances_in_elasticsearch(tmp_path, prefect_api, settings, es):
    path = tmp_path / "CC-NEWS-20251103083000-00001.warc.gz"
    urls = write_archive(path)
    report = backfill(warcs=[str(path)])
    assert report.balanced and report.inputs == 6
    assert report.inputs == report.indexed + report.dead_lettered + len(report.skips)
    assert report.created == 4 and report.skipped == {"warc-http-404": 1, "warc-not-html": 1}
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=10, source=["url", "fetched_at", "origin"])
    docs = {h["_source"]["url"]: h["_source"] for h in hits["hits"]["hits"]}
    assert set(docs) == set(urls)
    assert {datetime.fromisoformat(d["fetched_at"]) for d in docs.values()} == {
        CAPTURED + timedelta(hours=i) for i in range(4)}
    assert all(d["origin"].startswith(f"{path}@") for d in docs.values())
    # The same archive in a folder, read by an ingest: found by its name, nothing doubled.
    again = ingest_files(paths=[str(tmp_path)])
    assert again.balanced and (again.inputs, again.unchanged, again.created) == (6, 4, 0)
    # A window keeps what the pages date inside it.
    windowed = backfill(warcs=[str(path)], since=PUBLISHED + timedelta(days=1))
    assert windowed.balanced and windowed.skipped["outside-date-window"] == 4


def test_backfill_refuses_missing_archives_before_touching_the_index(prefect_api, settings, es, tmp_path):
    with pytest.raises(ValueError, match="not found"):
        backfill(warcs=[str(tmp_path / "nope.warc.gz")])
    assert not es.indices.exists_alias(name=settings.read_alias)


def _cli(*args: str) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value() or ""}
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False, cwd=ROOT)


def test_cli_backfill_warc(tmp_path, prefect_api, settings, es):
    plain, packed = tmp_path / "a.warc", tmp_path / "b.bin"
    write_archive(plain, gzip_records=False)
    packed.write_bytes(arc_file([("https://news.example/arc", b"HTTP/1.1 200 OK\r\nContent-Type: "
                                  b"text/html\r\n\r\n" + story_page(30))], gzip_records=True))
    done = _cli("backfill", "--warc", str(plain), str(packed), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["created"] == 5 and summary["skipped"] == {"warc-http-404": 1, "warc-not-html": 1}
    missing = _cli("backfill", "--warc", str(tmp_path / "nope.warc"))
    assert missing.returncode == 2 and "input not found" in missing.stderr
