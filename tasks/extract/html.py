"""Extraction: raw inputs (plain text, HTML, JSON records) into Articles.

Public entry points: `parse_plain_text(text, path=None)` and `extract_html(html, url=None)`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

import htmldate
import lxml.html
import trafilatura
import trafilatura.metadata as tmeta
from lxml import etree
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.settings import Document
from trafilatura.utils import load_html, trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS

from tasks.clean import drop_cruft, is_title_repeat, text_key
from tasks.extract.dates import DeclaredDate, choose_published, read_date, read_declared
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


# Meta tags that declare the publication time (never `article:modified_time`, `og:updated_time`,
# `dateModified`: an update is not the publication).
PUBLISHED_META = {"article:published_time", "og:article:published_time", "article:published",
                  "datepublished", "pubdate", "publishdate", "publish-date", "published_at",
                  "dc.date.issued", "dcterms.created", "parsely-pub-date", "sailthru.date",
                  "article:publicationdate"}
# schema.org types of an article's own JSON-LD node (the main entity of a news page).
ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
                 "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle",
                 "askpublicnewsarticle", "satiricalarticle", "blogposting", "liveblogposting",
                 "report", "techarticle", "scholarlyarticle", "review"}
# A <time> or itemprop element marked as an update, not the publication.
_MODIFIED_MARK_RE = re.compile(r"modif|updat|changed|edited", re.IGNORECASE)


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def _top_level_nodes(data: Any) -> Iterator[dict[str, Any]]:
    """The JSON-LD nodes a page states about itself: top-level objects, `@graph` members and a
    WebPage's `mainEntity`; not what they nest (related items, live-blog updates, videos)."""
    for node in data if isinstance(data, list) else [data]:
        if not isinstance(node, dict):
            continue
        graph = node.get("@graph")
        yield from (n for n in (graph if isinstance(graph, list) else [graph]) if isinstance(n, dict))
        if "@graph" not in node:
            yield node
        main = node.get("mainEntity")
        if isinstance(main, dict):
            yield main


def _url_key(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    if not isinstance(value, str):
        return ""
    with contextlib.suppress(ValueError):
        parts = urlsplit(value.strip())
        return f"{(parts.hostname or '').removeprefix('www.')}{parts.path.rstrip('/')}".lower()
    return ""


_JSON_LD_XPATH = etree.XPath('//script[@type="application/ld+json"]')
_ITEMPROP_PUBLISHED_XPATH = etree.XPath('//@itemprop[.="datePublished"]/..')  # the fastest form


def _json_ld_nodes(tree: lxml.html.HtmlElement) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for script in _JSON_LD_XPATH(tree):
        with contextlib.suppress(ExtractionError):  # load_json bounds the nesting it accepts
            nodes += _top_level_nodes(load_json(script.text_content()))
    return nodes


def _main_article(nodes: list[dict[str, Any]], page_url: str | None, titles: list[str]
                  ) -> dict[str, Any] | None:
    """The article-typed node whose url, @id or mainEntityOfPage is the page's URL, or whose
    headline is the page's heading or title; else the first article-typed node."""
    articles = [n for n in nodes if _types(n) & ARTICLE_TYPES]
    page_key = _url_key(page_url)
    title_keys = {text_key(t) for t in titles} - {""}

    def is_the_page(node: dict[str, Any]) -> bool:
        keys = {_url_key(node.get(k)) for k in ("url", "@id", "mainEntityOfPage")} - {""}
        headline = node.get("headline")
        return bool(page_key and page_key in keys) or (
            isinstance(headline, str) and text_key(headline) in title_keys)

    return next((n for n in articles if is_the_page(n)), articles[0] if articles else None)


def _head(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    head = tree.find("head")
    return head if head is not None else tree


def _canonical_url(tree: lxml.html.HtmlElement) -> str | None:
    for el in _head(tree).iter("link", "meta"):
        if el.tag == "link" and "canonical" in (el.get("rel") or "").lower().split():
            value = el.get("href")
        elif el.tag == "meta" and el.get("property") == "og:url":
            value = el.get("content")
        else:
            continue
        if value:
            return value
    return None


def declared_dates(tree: lxml.html.HtmlElement, url: str | None = None) -> list[DeclaredDate]:
    """The publication dates the page declares, best source first: the main article's JSON-LD
    datePublished (`_main_article`), publication meta tags, itemprop=datePublished elements,
    other top-level JSON-LD nodes (WebPage), then <time> elements not marked as updates."""
    title_el = _head(tree).find("title")
    titles = [t for t in (next((" ".join(h.text_content().split()) for h in tree.iter("h1")), None),
                          title_el.text_content() if title_el is not None else None) if t]
    nodes = _json_ld_nodes(tree)
    main = _main_article(nodes, url or _canonical_url(tree), titles)
    out = [read_declared(main.get("datePublished"), "json-ld:main")] if main is not None else []
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
        if key in PUBLISHED_META:
            out.append(read_declared(m.get("content"), f"meta:{key}"))
    for el in _ITEMPROP_PUBLISHED_XPATH(tree):
        if el.tag != "meta":  # read with the meta tags above
            out.append(read_declared(el.get("datetime") or el.get("content"), "itemprop"))
    out += [read_declared(n.get("datePublished"), "json-ld:other") for n in nodes
            if n is not main and not _types(n) & ARTICLE_TYPES]
    for el in tree.iter("time"):
        marks = " ".join(el.get(a) or "" for a in ("class", "itemprop", "data-testid"))
        if not _MODIFIED_MARK_RE.search(marks):
            out.append(read_declared(el.get("datetime"), "time"))
    return [d for d in out if d is not None]


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What the page's markup declares about itself."""

    # the publication time its metadata declares (`declared_dates`, chosen by
    # `tasks.extract.dates.choose_published`: zoned first, the URL path's date as a check)
    published: datetime | None = None
    language: str | None = None  # ISO 639-1 from <html lang>, Content-Language or og:locale
    published_source: str | None = None  # where `published` was read ("json-ld:main", "url", ...)


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


def page_metadata(html: str | bytes | lxml.html.HtmlElement, url: str | None = None) -> PageMeta:
    """Publication time (with its offset: htmldate keeps only the day) and declared language,
    from the page or its parsed tree (only read, never changed); `url` (else the page's
    canonical URL) picks the main JSON-LD node and checks the date against its path."""
    if isinstance(html, lxml.html.HtmlElement):
        tree = html
    else:
        try:
            tree = lxml.html.fromstring(html)
        except (etree.LxmlError, ValueError):
            return PageMeta()
    page_url = url or _canonical_url(tree)
    chosen = choose_published(declared_dates(tree, page_url), page_url)
    return PageMeta(chosen.when if chosen else None, _declared_language(tree),
                    chosen.source if chosen else None)


def published_from_metadata(html: str | bytes) -> datetime | None:
    """The first full, zoned publication timestamp in meta tags or JSON-LD, if any."""
    return page_metadata(html).published


# Photo galleries come through as body text otherwise ("Business news in pictures", 50 slides).
GALLERY_XPATH = ("//div[contains(@class,'gallery')][not(self::body)] | "
                 "//ul[contains(@class,'gallery')] | //section[contains(@class,'gallery')]")
# The precision pass kept less than this share of the text in the page's <p> elements: it may
# have dropped the article with a container it judged boilerplate (a whole <article> gone, not a
# widget), so a plain pass is run too; when that keeps little as well, one with trafilatura's
# fallback extractors (readability, jusText). Few pages need more than the one pass
# (benchmarks/extraction_bench: 8 of 143).
LOSSY_SHARE = 0.15
# A precision pass shorter than this share of the plain pass lost article text: use the plain one.
PRECISION_MIN_SHARE = 0.5

# --- byline author: trafilatura.metadata.extract_author, without its whole-page copy ------------

# trafilatura's extract_author copies the whole page, deletes AUTHOR_DISCARD_XPATHS (comments,
# sidebars, dates, figures) and runs AUTHOR_XPATHS, whose EXSLT regexes call back into Python
# for every element: a sixth of a trafilatura extraction on large pages. The same rules below:
# an XPath without regexes picks the few elements any rule could match, Python applies the exact
# rules, and only a matched element's own subtree is copied to drop what the discard rules drop.
_AUTHOR_PREFILTER = etree.XPath(" | ".join([  # attribute steps: 4x faster than //*[...] here
    "//@class[" + " or ".join(f"contains(.,'{w}')" for w in (
        "uthor", "yline", "byl", "BBL", "username", "screenname", "writer", "channel-name",
        "zuozhe", "bianji", "xiaobian", "submitted-by", "posted-by", "journalist-name")) + "]/..",
    "//@id[" + " or ".join(f"contains(.,'{w}')" for w in ("uthor", "zuozhe", "bianji",
                                                          "xiaobian")) + "]/..",
    "//@rel[.='author']/..", "//@itemprop[contains(.,'author')]/..",
    "//@data-testid[.='AuthorCard' or .='AuthorURL']/..",
    "//@data-component[contains(.,'Byline')]/..", "//author"]))
_AUTHOR_RULES: tuple[Callable[[Any], bool], ...] = (
    lambda el: el.tag == "author" or (
        el.tag in {"a", "address", "div", "link", "p", "span", "strong"} and (
            el.get("rel") == "author" or el.get("id") == "author" or el.get("class") == "author"
            or el.get("itemprop") == "author name"
            or el.get("data-testid") in ("AuthorCard", "AuthorURL")
            or re.search("author-?name|AuthorName|authorName", el.get("class") or "") is not None)),
    lambda el: el.tag in {"a", "div", "h3", "h4", "p", "span"} and (
        el.get("class") in ("byline", "username", "byl", "BBL")
        or "author" in (el.get("itemprop") or "")
        or re.search("author|zuozhe|bianji|xiaobian", el.get("id") or "") is not None
        or re.search("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|"
                     "journalist-name", el.get("class") or "") is not None),
    lambda el: ("Byline" in (el.get("data-component") or "")
                or "author" in (el.get("itemprop") or "")
                or re.search("[Aa]uthor", el.get("id") or "") is not None
                or re.search("[Aa]uthor|screenname|writer|[Bb]yline", el.get("class") or "")
                is not None),
)
_DISCARD_ID_RE = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS_RE = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    "article-(?:share|support)|print|category|meta-date|meta-reviewer")


def _author_discarded(el: Any, root: Any) -> bool:
    """AUTHOR_DISCARD_XPATHS for one element (the root itself is never discarded)."""
    if el is root:
        return False
    if el.tag in ("time", "figure"):
        return True
    if el.tag not in ("a", "div", "section", "span"):
        return False
    ident, cls = el.get("id"), el.get("class")
    return (ident == "comments" or cls in ("comments", "title", "date")
            or _DISCARD_ID_RE.search(ident or "") is not None
            or _DISCARD_CLASS_RE.search(cls or "") is not None
            or "Figure" in (el.get("data-component") or ""))


def byline_author(tree: lxml.html.HtmlElement) -> str | None:
    """What trafilatura.metadata.extract_author finds, read without copying the page."""
    root = tree.getroottree().getroot()
    candidates = _AUTHOR_PREFILTER(tree)
    for rule in _AUTHOR_RULES:
        for el in candidates:
            if not rule(el) or any(_author_discarded(a, root)
                                   for a in chain([el], el.iterancestors())):
                continue
            if any(_author_discarded(d, root) for d in el.iterdescendants()):
                el = prune_unwanted_nodes(deepcopy(el), AUTHOR_DISCARD_XPATHS)
            content = trim(" ".join(el.itertext()))
            if content and 2 < len(content) < 120:
                return tmeta.normalize_authors(None, content)
    return None


def page_document(tree: lxml.html.HtmlElement, url: str | None, find_date: bool = True) -> Document:
    """trafilatura's page metadata (`trafilatura.extract_metadata`) without what extract_html does
    not use (categories, tags, licence: a quarter of its time) and, with `find_date` false, without
    htmldate's search (when the markup declares the publication time, see `page_metadata`)."""
    doc = tmeta.examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None
    with contextlib.suppress(Exception):  # as extract_metadata: bugs in its JSON-LD reader
        doc = tmeta.extract_meta_json(tree, doc)
    doc.title = doc.title or tmeta.extract_title(tree)
    doc.author = doc.author or byline_author(tree)
    doc.url = doc.url or tmeta.extract_url(tree, url)
    if doc.url:
        doc.hostname = tmeta.extract_domain(doc.url, fast=True)
    if find_date:
        doc.date = htmldate.find_date(tree, extensive_search=True, original_date=True,
                                      outputformat="%Y-%m-%dT%H:%M:%S%z", url=doc.url)
    doc.sitename = doc.sitename or tmeta.extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
        if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
            doc.sitename = doc.sitename.title()
    elif doc.url and (match := tmeta.META_URL.match(doc.url)):
        doc.sitename = match[1]
    doc.clean_and_trim()
    return doc


def _body(tree: lxml.html.HtmlElement, url: str | None, precise: bool, fast: bool = True
          ) -> Document | None:
    """One trafilatura pass over (a copy of) the parsed page: the text, no metadata. `fast`: no
    fallback extractors (readability, jusText), which pick unrelated blocks (story lists,
    players) on pages where trafilatura's own rules found the article."""
    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, include_tables=False, fast=fast,
        favor_precision=precise, prune_xpath=GALLERY_XPATH,
    )
    return doc if isinstance(doc, Document) and doc.text else None  # a dict only with as_dict=True


def _paragraph_chars(tree: lxml.html.HtmlElement) -> int:
    """Characters of text in the page's <p> elements, whitespace included."""
    return sum(map(len, tree.xpath("//p//text()")))


def run_trafilatura(html: str | bytes | lxml.html.HtmlElement, url: str | None = None,
                    find_date: bool = True) -> Document | None:
    """trafilatura tuned on benchmarks/extraction_corpus: a precision pass (drops comments,
    related-story and widget blocks); when it kept little of the page's paragraph text
    (LOSSY_SHARE), a plain fast pass, then a plain pass with fallback extractors if that kept
    little too; a plain pass's text is taken when the precision pass has less than
    PRECISION_MIN_SHARE of it. None when no pass finds text.

    The page is parsed once (`html` may be the parsed tree, which is only read); the metadata is
    `page_document`'s."""
    tree = load_html(html)
    if tree is None:
        return None
    meta = page_document(tree, url, find_date)
    url = url or meta.url
    best = _body(tree, url, precise=True)
    page_chars = _paragraph_chars(tree)
    for fast in (True, False):
        kept = len(best.text or "") if best is not None else 0
        if kept and kept >= LOSSY_SHARE * page_chars:
            break
        plain = _body(tree, url, precise=False, fast=fast)
        if plain is not None and kept < PRECISION_MIN_SHARE * len(plain.text or ""):
            best = plain
    if best is None:
        return None
    meta.text, meta.raw_text, meta.body = best.text, best.raw_text, best.body
    return meta


def extract_html(html: str | bytes, url: str | None = None) -> Article:
    """Extract the article from a news page with trafilatura; raise ExtractionError if none."""
    try:
        tree = load_html(html)
        meta = page_metadata(tree, url) if tree is not None else PageMeta()
        doc = run_trafilatura(tree, url, find_date=meta.published is None) if tree is not None \
            else None
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
    published = meta.published
    if published is None:  # htmldate's reading of the page, checked against the URL path
        found = choose_published([read_declared(doc.date, "htmldate")], page_url)
        published = found.when if found else None
    return Article(
        title=title,
        body="\n\n".join(paragraphs),
        url=page_url,
        source=doc.sitename or None,
        source_domain=host.removeprefix("www.") if host else None,
        authors=_split_authors(doc.author),
        published_at=published,
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
