"""The source list and discovery parsing (feeds, sitemaps, URL lists), pure."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.dedupe.identity import dedupe_links
from tasks.fetch.discover import parse_feed, parse_sitemap, parse_url_list
from tasks.fetch.web import fetch_settings_for, sane_published
from tasks.settings import Settings
from tasks.sources import SourcesError, load_sources, parse_sources
from tasks.store.state import UrlState
from tests.conftest import FIXTURES, ROOT

FEEDS = FIXTURES / "feeds"


def test_shipped_source_list_is_valid():
    sources = load_sources(ROOT / "sources.yaml")
    assert len(sources) >= 20
    kinds = {s.kind for s in sources}
    assert {"feed", "sitemap", "directory"} <= kinds
    assert {s.language for s in sources} >= {"en", "fr", "de", "es"}
    inbox = next(s for s in sources if s.kind == "directory")
    assert Path(inbox.path).is_absolute() and not inbox.enabled


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("sources: [{name: a, kind: feed}]", "sources[0] (a): Value error, a feed source needs `url`"),
    ("sources: [{name: a, kind: feed, url: 'ftp://x'}]", "sources[0] (a).url: Value error, must be an http"),
    ("sources: [{name: a, kind: blog, url: 'https://x'}]", "sources[0] (a).kind: Input should be"),
    ("sources: [{name: a, kind: feed, url: 'https://x', colour: red}]", "sources[0] (a).colour: Extra inputs"),
    ("sources: [{name: a, kind: feed, url: 'https://x', min_interval: -1}]", "min_interval: Input should be greater"),
    ("sources: [{name: a, kind: feed, url: 'https://x'}, {name: a, kind: urls, urls: ['https://y']}]",
     "source name 'a' is used twice"),
    ("sources: [{name: 'Bad Name', kind: directory, path: x}]", "sources[0] (Bad Name).name: String should match"),
    ("sources: [{name: a, kind: urls}]", "a urls source needs"),
    ("version: 2\nsources: []", "version: Input should be 1"),
    ("sources: [unclosed", "not valid YAML"),
])
def test_invalid_source_lists_name_entry_and_field(yaml_text, message):
    with pytest.raises(SourcesError) as info:
        parse_sources(yaml_text, Path("/etc/ceasefire/sources.yaml"))
    assert str(info.value).startswith("/etc/ceasefire/sources.yaml")
    assert message in str(info.value)


def test_missing_source_list_is_a_clear_error(tmp_path):
    with pytest.raises(SourcesError, match=r"cannot read source list .*nope\.yaml"):
        load_sources(tmp_path / "nope.yaml")


def test_rss2_feed():
    listing = parse_feed((FEEDS / "rss2.xml").read_bytes(), "https://news.example.org/rss", "wnd",
                         outlet="World News Desk")
    assert listing.error is None
    assert [link.title for link in listing.links] == [
        "Gaza ceasefire: second phase talks open in Cairo",
        "Lebanon truce: army deploys south of the Litani"]
    first = listing.links[0]
    assert first.published_at.isoformat() == "2025-02-03T09:30:00+02:00"  # offset kept
    assert (first.outlet, first.language, first.source, first.listing) == \
        ("World News Desk", "en", "wnd", "https://news.example.org/rss")


def test_atom_feed_dates_and_language():
    listing = parse_feed((FEEDS / "atom.xml").read_bytes(), "https://infos.example.fr/atom", "fr")
    assert len(listing.links) == 2
    assert listing.links[0].published_at.isoformat() == "2025-03-19T08:15:00+01:00"
    assert listing.links[1].published_at == datetime(2025, 5, 6, 12, tzinfo=UTC)
    assert listing.links[0].language == "fr"
    assert listing.links[0].outlet == "Actualités internationales"


def test_malformed_and_empty_feeds_are_named():
    assert parse_feed((FEEDS / "malformed.xml").read_bytes(), "u", "s").error in (
        "malformed-feed", "no-entries")
    assert parse_feed(b"", "u", "s").error == "empty-feed"


def test_sitemap_index_and_news_sitemap():
    index = parse_sitemap((FEEDS / "sitemap_index.xml").read_bytes(), "u", "s")
    assert index.children == ["https://news.example.org/sitemaps/news-1.xml",
                              "https://news.example.org/sitemaps/news-2.xml.gz"]
    news = parse_sitemap((FEEDS / "news_sitemap.xml").read_bytes(), "u", "s")
    first, second = news.links
    assert first.title == "Black Sea ceasefire talks resume in Riyadh"
    assert first.published_at.isoformat() == "2025-03-24T09:15:00+03:00"
    assert (first.outlet, first.language) == ("World News Desk", "en")
    assert second.published_at == datetime(2025, 3, 25, tzinfo=UTC)


def test_gzipped_sitemap_and_bomb():
    data = gzip.compress((FEEDS / "news_sitemap.xml").read_bytes())
    assert len(parse_sitemap(data, "u", "s").links) == 2
    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>")
    assert parse_sitemap(bomb, "u", "s").error == "malformed-sitemap"


def test_sitemap_entities_are_not_resolved():
    listing = parse_sitemap((FEEDS / "xxe_sitemap.xml").read_bytes(), "u", "s")
    assert all("root:" not in link.url for link in listing.links)


def test_not_a_sitemap():
    assert parse_sitemap(b"<rss><channel/></rss>", "u", "s").error == "not-a-sitemap"


def test_url_list_and_canonical_dedupe():
    listing = parse_url_list("# watchlist\nhttps://e.example/a?utm_source=x\n\nhttps://E.example/a#c\n"
                             "https://e.example/b/amp/  # amp copy\nnot a url\n", "watch")
    assert len(listing.links) == 3
    assert [link.url for link in dedupe_links(listing.links)] == ["https://e.example/a",
                                                                  "https://e.example/b"]


def test_sane_published():
    now = datetime(2025, 6, 1, tzinfo=UTC)
    listed = datetime(2025, 5, 31, tzinfo=UTC)
    assert sane_published(datetime(2025, 5, 30, tzinfo=UTC), listed, now).day == 30
    assert sane_published(now + timedelta(days=3), listed, now) == listed  # future: feed wins
    assert sane_published(datetime(1970, 1, 1, tzinfo=UTC), None, now) is None
    assert sane_published(now + timedelta(hours=5), None, now) == now + timedelta(hours=5)


def test_transient_failures_are_retried_later_and_permanent_ones_never():
    now = datetime(2025, 6, 1, tzinfo=UTC)
    assert UrlState("u", "timeout", 1, now - timedelta(minutes=1)).due(now)
    assert not UrlState("u", "timeout", 1, now + timedelta(hours=1)).due(now)
    assert not UrlState("u", "timeout", 3, None).due(now)
    assert not UrlState("u", "http-404", 1, None).due(now)
    assert not UrlState("u", "indexed", 1, None).due(now)


def test_per_source_intervals_reach_the_fetcher():
    sources = parse_sources("sources:\n"
                            "  - {name: a, kind: feed, url: 'https://News.example/rss', min_interval: 2}\n"
                            "  - {name: b, kind: sitemap, url: 'https://news.example/sm.xml', min_interval: 5}\n"
                            "  - {name: c, kind: feed, url: 'https://other.example/rss'}\n")
    assert fetch_settings_for(Settings.from_env({}), sources).host_intervals == {"news.example": 5.0, "other.example": 1.0}


def test_atom_feed_and_sitemap_index_over_loopback_http():
    """discover() against a real server: an Atom feed, and a sitemap index whose children are a
    plain and a gzipped news sitemap (conditional requests: tests/test_web_ingest.py)."""
    import asyncio

    from tasks.fetch.client import PoliteFetcher
    from tasks.fetch.web import discover
    from tasks.settings import FetchSettings
    from testkit.http_server import Server, page

    news = (FEEDS / "news_sitemap.xml").read_bytes()
    routes = {"/robots.txt": page("User-agent: *\nAllow: /\n", "text/plain"),
              "/atom.xml": page((FEEDS / "atom.xml").read_bytes(), "application/atom+xml"),
              "/news-1.xml": page(news, "application/xml"),
              "/news-2.xml.gz": page(gzip.compress(news.replace(b"prisoner-exchange", b"truce-talks")),
                                     "application/x-gzip")}
    with Server(routes) as server:
        routes["/index.xml"] = page(
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{server.url('/news-1.xml')}</loc></sitemap>"
            f"<sitemap><loc>{server.url('/news-2.xml.gz')}</loc></sitemap></sitemapindex>",
            "application/xml")
        sources = parse_sources(
            "sources:\n"
            f"  - {{name: atom, kind: feed, url: '{server.url('/atom.xml')}', min_interval: 0}}\n"
            f"  - {{name: index, kind: sitemap, url: '{server.url('/index.xml')}', min_interval: 0}}\n")
        settings = FetchSettings.from_env({"CEASEFIRE_FETCH_ALLOW_NETWORKS": "127.0.0.1/32"},
                                          min_interval=0.0)

        async def run():
            async with PoliteFetcher(settings) as fetcher:
                return await discover(fetcher, sources, {})

        first = asyncio.run(run())
        assert not first.skips
        by_source = {}
        for link in first.links:
            by_source.setdefault(link.source, []).append(link)
        assert len(by_source["atom"]) == 2 and by_source["atom"][0].language == "fr"
        assert len(dedupe_links(by_source["index"])) == 3  # two children, one URL shared
        assert {s.url for s in first.feed_states} == {server.url(p) for p in (
            "/atom.xml", "/index.xml", "/news-1.xml", "/news-2.xml.gz")}
        assert server.log.count("/robots.txt") == 1
