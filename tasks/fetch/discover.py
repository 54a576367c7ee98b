"""Discovery: article links from RSS/Atom feeds, news sitemaps and URL lists (pure parsing)."""

from __future__ import annotations

import gzip
import io
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import feedparser
from lxml import etree

from tasks.extract.dates import find_iso_datetimes, parse_date
from tasks.models import Link

LOGGER = logging.getLogger(__name__)

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one (uncompressed) file
_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
       "news": "http://www.google.com/schemas/sitemap-news/0.9"}


@dataclass(slots=True)
class Listing:
    """What one feed or sitemap held."""

    links: list[Link] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # sitemap index entries
    title: str | None = None
    error: str | None = None  # named reason when nothing usable was found
    detail: str = ""


def _struct_time_to_dt(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    return datetime(*value[:6], tzinfo=UTC)


def _zoned(raw: str) -> datetime | None:
    """An ISO 8601 or RFC 822 date with its own offset, which feedparser's parsed form drops."""
    isos = [d for d in find_iso_datetimes(raw) if d.tzinfo]
    if isos:
        return isos[0]
    try:
        dt = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return dt if dt.tzinfo else None


def _entry_date(entry: dict) -> datetime | None:
    # dict.get on feedparser entries: the "updated" key is read through its own field name,
    # avoiding feedparser's deprecated updated->published fallback.
    for key in ("published", "updated"):
        raw = dict.get(entry, key)
        if raw and (dt := _zoned(raw)):
            return dt
    return _struct_time_to_dt(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))


def parse_feed(data: bytes, feed_url: str, source: str, outlet: str | None = None,
               language: str | None = None) -> Listing:
    """Links from an RSS 0.9x/1.0/2.0 or Atom feed; malformed feeds are reported, not raised."""
    if not data.strip():
        return Listing(error="empty-feed")
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": feed_url})
    feed = parsed.get("feed", {})
    if parsed.bozo and not parsed.entries:
        return Listing(error="malformed-feed", detail=str(parsed.get("bozo_exception", ""))[:200])
    listing = Listing(title=feed.get("title"))
    feed_lang = (feed.get("language") or "")[:2].lower() or None
    for entry in parsed.entries:
        href = entry.get("link") or next((lk.get("href") for lk in entry.get("links", [])
                                          if lk.get("href")), None)
        if not href or not href.lower().startswith(("http://", "https://")):
            continue
        listing.links.append(Link(
            url=href, source=source, title=(entry.get("title") or "").strip() or None,
            published_at=_entry_date(entry), outlet=outlet or feed.get("title"),
            language=language or feed_lang, listing=feed_url))
    if not listing.links:
        listing.error = "no-entries"
    return listing


def _bounded_gunzip(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress a .xml.gz sitemap without letting a bomb exceed `limit` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValueError(f"sitemap larger than {limit} bytes after decompression")
    return out


def parse_sitemap(data: bytes, sitemap_url: str, source: str, outlet: str | None = None,
                  language: str | None = None) -> Listing:
    """Links (urlset, with Google News fields) or child sitemaps (sitemapindex)."""
    try:
        if data[:2] == b"\x1f\x8b":
            data = _bounded_gunzip(data)
        # No entities, no network, no huge trees: sitemaps are untrusted input (XXE, bombs).
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                 recover=False)
        root = etree.fromstring(data, parser=parser)
    except (etree.XMLSyntaxError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        return Listing(error="malformed-sitemap", detail=str(exc)[:200])
    tag = etree.QName(root).localname
    listing = Listing()
    if tag == "sitemapindex":
        listing.children = [loc.strip() for loc in root.xpath("sm:sitemap/sm:loc/text()",
                                                               namespaces=_NS)]
        return listing
    if tag != "urlset":
        return Listing(error="not-a-sitemap", detail=f"root element <{tag}>")
    for node in root.xpath("sm:url", namespaces=_NS):
        loc = "".join(node.xpath("sm:loc/text()", namespaces=_NS)).strip()
        if not loc.lower().startswith(("http://", "https://")):
            continue
        news_date = "".join(node.xpath("news:news/news:publication_date/text()", namespaces=_NS))
        lastmod = "".join(node.xpath("sm:lastmod/text()", namespaces=_NS))
        title = "".join(node.xpath("news:news/news:title/text()", namespaces=_NS)).strip()
        name = "".join(node.xpath("news:news/news:publication/news:name/text()", namespaces=_NS))
        lang = "".join(node.xpath("news:news/news:publication/news:language/text()", namespaces=_NS))
        listing.links.append(Link(
            url=loc, source=source, title=title or None,
            published_at=parse_date(news_date or lastmod),
            outlet=outlet or name.strip() or None,
            language=language or (lang.strip()[:2].lower() or None), listing=sitemap_url))
    if not listing.links:
        listing.error = "no-entries"
    return listing


def parse_url_list(text: str, source: str, outlet: str | None = None,
                   language: str | None = None) -> Listing:
    """One URL per line; blank lines and `#` comments ignored."""
    listing = Listing()
    for line in text.splitlines():
        url = line.split("#", 1)[0].strip()
        if url.lower().startswith(("http://", "https://")):
            listing.links.append(Link(url=url, source=source, outlet=outlet, language=language))
    return listing

