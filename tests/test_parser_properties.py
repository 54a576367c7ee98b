"""Property-based tests for the parsers of what the web and users hand us: feeds, sitemaps,
URL lists and source lists give links, listings with a named error, or a SourcesError, never
anything else; and every link they give is http(s)."""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.fetch.discover import parse_feed, parse_sitemap, parse_url_list
from tasks.models import Link
from tasks.sources import SourcesError, parse_sources

FEED_ERRORS = {None, "empty-feed", "malformed-feed", "no-entries"}
SITEMAP_ERRORS = {None, "malformed-sitemap", "not-a-sitemap", "no-entries"}

xml_text = st.text(alphabet=st.sampled_from(list("<>/=\"' ?!-:&;#abcdefghijklmnopqrsturlxmRSitemaploc\n0123456789")),
                   max_size=400)
feedish = st.builds(lambda title, link, date: (
    f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><item>'
    f"<title>{title}</title><link>{link}</link><pubDate>{date}</pubDate></item></channel></rss>"
).encode("utf-8", "surrogatepass"), st.text(max_size=40), st.text(max_size=60), st.text(max_size=40))
sitemapish = st.builds(lambda loc, date: (
    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    f"<url><loc>{loc}</loc><lastmod>{date}</lastmod></url></urlset>"
).encode("utf-8", "surrogatepass"), st.text(max_size=60), st.text(max_size=40))


def _links_ok(links: list[Link]) -> bool:
    return all(isinstance(link, Link) and link.url.lower().startswith(("http://", "https://"))
               for link in links)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=600), xml_text.map(str.encode), feedish))
def test_any_bytes_as_a_feed(data):
    listing = parse_feed(data, "https://feeds.example/rss", "src")
    assert listing.error in FEED_ERRORS
    assert _links_ok(listing.links)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=600), xml_text.map(str.encode), sitemapish,
                 sitemapish.map(gzip.compress)))
def test_any_bytes_as_a_sitemap(data):
    listing = parse_sitemap(data, "https://news.example/sitemap.xml", "src")
    assert listing.error in SITEMAP_ERRORS
    assert _links_ok(listing.links)


@given(st.text(max_size=500))
def test_any_text_as_a_url_list(text):
    assert _links_ok(parse_url_list(text, "src").links)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda kids: st.lists(kids, max_size=4)
                              | st.dictionaries(st.sampled_from(["version", "sources", "name", "kind", "url",
                                                                 "path", "urls", "enabled", "max_items"]),
                                                kids, max_size=5),
                              max_leaves=20).map(repr)))
def test_any_text_as_a_source_list(text):
    try:
        sources = parse_sources(text)
    except SourcesError as exc:
        assert str(exc).startswith("sources.yaml")
        return
    assert all(s.name for s in sources)
