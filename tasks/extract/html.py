"""Extraction: raw inputs (plain text, HTML, JSON records) into Articles.

Public entry points: `parse_plain_text(text, path=None)` and `extract_html(html, url=None)`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import Document

from tasks.clean import drop_cruft, is_title_repeat, text_key
from tasks.extract.dates import date_in_range, find_iso_datetimes, parse_date, read_date
from tasks.extract.errors import ExtractionError
from tasks.extract.plain_text import PlainTextError, parse_byline, parse_plain_text, split_dateline
from tasks.extract.records import load_json, validate_record
from tasks.models import Article

LOGGER = logging.getLogger(__name__)

__all__ = ["ExtractionError", "PlainTextError", "article_from_record", "extract_html",
           "parse_byline", "parse_plain_text"]

TRAFILATURA_EXTRACTOR = f"trafilatura-{trafilatura.__version__}"
MIN_BODY_CHARS = 200


def _split_authors(value: str | None) -> list[str]:
    return [a.strip() for a in (value or "").split(";") if a.strip()]


# Page metadata that carries the publication time with its offset (htmldate keeps only the day).
PUBLISHED_META = {"article:published_time", "og:article:published_time", "datepublished",
                  "pubdate", "publishdate", "publish-date", "dc.date.issued", "dcterms.created",
                  "parsely-pub-date", "sailthru.date"}


def _json_ld_dates(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("datePublished"), str):
            yield node["datePublished"]
        for value in node.values():
            yield from _json_ld_dates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _json_ld_dates(item)


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What the page's markup declares about itself."""

    published: datetime | None = None  # first full, zoned timestamp in meta tags or JSON-LD
    language: str | None = None  # ISO 639-1 from <html lang>, Content-Language or og:locale


def _declared_language(tree: lxml.html.HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            candidates.append(meta.get("content"))
    for value in candidates:
        code = (value or "").strip().replace("_", "-").split("-")[0].lower()
        if len(code) == 2 and code.isalpha():
            return code
    return None


def page_metadata(html: str | bytes) -> PageMeta:
    """Publication time (with its offset: htmldate keeps only the day) and declared language."""
    try:
        tree = lxml.html.fromstring(html)
    except (etree.LxmlError, ValueError):
        return PageMeta()
    candidates = [m.get("content", "") for m in tree.iter("meta")
                  if (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
                  in PUBLISHED_META]
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        with contextlib.suppress(ExtractionError):  # load_json bounds the nesting it accepts
            candidates += list(_json_ld_dates(load_json(script.text_content())))
    candidates += tree.xpath("//time/@datetime")
    published = None
    for value in candidates:
        found = [d for d in find_iso_datetimes(str(value)) if d.tzinfo and date_in_range(d)]
        if found:
            published = found[0]
            break
    return PageMeta(published, _declared_language(tree))


def published_from_metadata(html: str | bytes) -> datetime | None:
    """The first full, zoned publication timestamp in meta tags or JSON-LD, if any."""
    return page_metadata(html).published


# Photo galleries come through as body text otherwise ("Business news in pictures", 50 slides).
GALLERY_XPATH = ("//div[contains(@class,'gallery')][not(self::body)] | "
                 "//ul[contains(@class,'gallery')] | //section[contains(@class,'gallery')]")
# A precision pass shorter than this share of the plain pass lost article text: use the plain one.
PRECISION_MIN_SHARE = 0.5


def _trafilatura(html: str | bytes, url: str | None, precise: bool) -> Document | None:
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        # fast: no fallback extractors, which picked unrelated blocks (story lists, players).
        fast=True, favor_precision=precise, prune_xpath=GALLERY_XPATH,
        date_extraction_params={"extensive_search": True, "original_date": True,
                                "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    return doc if isinstance(doc, Document) else None  # a dict only with as_dict=True


def run_trafilatura(html: str | bytes, url: str | None = None) -> Document | None:
    """trafilatura tuned on benchmarks/extraction_corpus: a precision pass (drops comments,
    related-story and widget blocks), unless it lost too much text against the plain pass."""
    plain = _trafilatura(html, url, precise=False)
    if plain is None or not plain.text:
        return plain
    precise = _trafilatura(html, url, precise=True)
    if precise is not None and len(precise.text or "") >= PRECISION_MIN_SHARE * len(plain.text):
        return precise
    return plain


def extract_html(html: str | bytes, url: str | None = None) -> Article:
    """Extract the article from a news page with trafilatura; raise ExtractionError if none."""
    try:
        doc = run_trafilatura(html, url)
    except Exception as exc:  # trafilatura raises assorted lxml/parsing errors on broken pages
        raise ExtractionError("html-unparseable", f"{type(exc).__name__}: {exc}") from exc
    text, title = (doc.text or "", doc.title or "") if doc is not None else ("", "")
    if not text.strip():
        raise ExtractionError("no-article-text", "trafilatura found no main text")
    if len(text) < MIN_BODY_CHARS:
        raise ExtractionError("body-too-short", f"{len(text)} characters")
    if not title.strip():
        raise ExtractionError("no-title")
    assert doc is not None
    title_key = text_key(title)
    paragraphs = drop_cruft([p.strip() for p in text.split("\n")
                             if p.strip() and not is_title_repeat(p, title_key)])
    if not paragraphs:
        raise ExtractionError("no-article-text", "only the title and page furniture")
    dateline, paragraphs[0] = split_dateline(paragraphs[0])
    page_url = url or doc.url
    host = urlsplit(page_url).hostname if page_url else doc.hostname
    meta = page_metadata(html)
    return Article(
        title=title,
        body="\n\n".join(paragraphs),
        url=page_url,
        source=doc.sitename or None,
        source_domain=host.removeprefix("www.") if host else None,
        authors=_split_authors(doc.author),
        published_at=meta.published or parse_date(doc.date),
        language_hint=meta.language,
        dateline=dateline,
        lead=paragraphs[0],
        origin=page_url,
        extractor=TRAFILATURA_EXTRACTOR,
    )


def article_from_record(record: Any, origin: str) -> Article:
    """An Article from one JSON record (`title`, `body`/`text`, or `html`; optional metadata).

    ExtractionError names what is wrong with the record (tasks.extract.records.RECORD_REASONS,
    or extract_html's reasons for a page). A published date that gives no believable date
    (tasks.extract.dates.date_problem) leaves the article undated, with a warning.
    """
    fields = validate_record(record)
    url = fields.url or None
    if fields.html_only:
        article = extract_html(fields.html or "", url=url)
    else:
        article = Article(title=fields.title or "", body=fields.body_text or "", url=url,
                          extractor="jsonl")
    article.origin = origin
    article.source = fields.source or article.source
    article.feed = fields.feed or None
    article.authors = fields.author_names or article.authors
    published = fields.published_text
    article.published_at, problem = read_date(published)
    if problem:
        # The article is still worth keeping; the unusable date is counted, not invented.
        article.notes.append(problem)
        LOGGER.warning("%s: %s published date %r, left empty", origin, problem.removeprefix("date-"),
                       published)
    return article
