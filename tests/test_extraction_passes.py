"""extract_html's trafilatura passes: the page parsed once, one precision pass for an ordinary
article, a plain pass only when the precision pass kept little of the page's paragraph text."""

from __future__ import annotations

import lxml.html
import pytest
import trafilatura
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.extraction_bench import load_corpus, score
from tasks.extract import html as html_mod
from tasks.extract.html import extract_html, page_document, page_metadata, run_trafilatura
from tests.conftest import FIXTURES

NEWS = FIXTURES / "html" / "black-sea-talks.html"


@pytest.fixture
def passes(monkeypatch):
    """The (favor_precision, fast) of every trafilatura pass, and the count of HTML parses."""
    seen: dict[str, list] = {"passes": [], "parses": []}
    real_bare, real_load = trafilatura.bare_extraction, html_mod.load_html

    def bare(*args, **kwargs):
        seen["passes"].append((kwargs.get("favor_precision", False), kwargs.get("fast", False)))
        return real_bare(*args, **kwargs)

    def load(obj, *args, **kwargs):
        if not isinstance(obj, lxml.html.HtmlElement):
            seen["parses"].append(type(obj).__name__)
        return real_load(obj, *args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", bare)
    monkeypatch.setattr(html_mod, "load_html", load)
    return seen


def test_an_ordinary_article_takes_one_parse_and_one_precision_pass(passes):
    article = extract_html(NEWS.read_bytes())
    assert passes["passes"] == [(True, True)]
    assert passes["parses"] == ["bytes"]
    assert article.title == "Black Sea ceasefire talks resume in Riyadh"
    assert article.published_at.isoformat() == "2025-03-24T09:15:00+03:00"


def _article_page(paragraphs: int, wrapper: str) -> str:
    body = "".join(f"<p>Paragraph {i} of the story tells what the delegates said about the truce "
                   f"and the next round of talks in the capital.</p>" for i in range(paragraphs))
    return (f"<html><head><title>Talks resume</title></head><body><h1>Talks resume</h1>"
            f"{wrapper.format(body=body)}</body></html>")


def test_a_lossy_precision_pass_gets_a_plain_pass(passes, monkeypatch):
    page = _article_page(12, "<article>{body}</article>")
    real_body = html_mod._body

    def lossy(tree, url, precise, fast=True):  # a precision pass that dropped the article
        doc = real_body(tree, url, precise, fast)
        if precise and doc is not None:
            doc.text = doc.text[:80]
        return doc

    monkeypatch.setattr(html_mod, "_body", lossy)
    doc = run_trafilatura(page)
    assert passes["passes"] == [(True, True), (False, True)]
    assert "Paragraph 11" in doc.text
    assert doc.title == "Talks resume"  # the metadata comes from the one metadata read


def test_what_the_plain_pass_keeps_little_of_either_gets_the_fallback_extractors(passes,
                                                                                 monkeypatch):
    page = _article_page(12, "<article>{body}</article>")
    monkeypatch.setattr(html_mod, "_paragraph_chars", lambda tree: 10**9)
    run_trafilatura(page)
    assert passes["passes"] == [(True, True), (False, True), (False, False)]


def test_page_metadata_reads_the_parsed_tree_as_the_markup():
    markup = NEWS.read_bytes()
    tree = html_mod.load_html(markup)
    before = lxml.html.tostring(tree)
    assert page_metadata(tree) == page_metadata(markup)
    assert lxml.html.tostring(tree) == before


def test_page_document_matches_trafilatura_metadata_on_the_fields_used():
    for page in load_corpus()[:12]:
        tree = html_mod.load_html(page.html)
        ours = page_document(tree, page.url)
        theirs = trafilatura.extract_metadata(page.html, page.url)
        for field in ("title", "author", "url", "hostname", "sitename"):
            assert getattr(ours, field) == getattr(theirs, field), (page.id, field)


def test_a_precision_pass_that_loses_the_article_is_caught_on_real_pages():
    # Pages of the extraction corpus whose precision pass drops the article container.
    pages = {p.id: p for p in load_corpus()}
    for page_id in ("rdb-engadget", "rdb-webmd-1"):
        page = pages[page_id]
        assert score(extract_html(page.html, page.url).body, page.truth)[1] > 0.9, page_id


def test_byline_author_is_trafilaturas_extract_author():
    # The same rules without copying the page: same answer on every corpus page (most have a
    # byline), and on markup where the discard rules matter.
    from trafilatura.metadata import extract_author

    from tasks.extract.html import byline_author

    for page in load_corpus():
        tree = html_mod.load_html(page.html)
        assert byline_author(tree) == extract_author(tree), page.id
    for markup in (
        '<div class="author">Olena Hrytsenko <time>Mar 24</time></div>',  # a date inside
        '<div class="comments"><span class="author">A Commenter</span></div>'
        '<span class="byline">By Jane Doe</span>',  # a byline in the comments is passed over
        '<aside class="sidebar"><a rel="author">Side Bar</a></aside><p class="writer">Real Name</p>',
        '<span class="author">x</span><h3 class="username">Second Rule</h3>',
        "<author>Tag Author</author>",
        '<p class="other">nobody</p>',
    ):
        tree = lxml.html.fromstring(f"<html><body><article>{markup}</article></body></html>")
        assert byline_author(tree) == extract_author(tree), markup


_words = st.sampled_from(["author", "Author-name", "byline", "Byline", "byl", "BBL", "username",
                          "writer", "comments", "commentlist", "sidebar", "quote", "print",
                          "title", "date", "meta-date", "posted-by", "x", ""])
_tags = st.sampled_from(["div", "span", "a", "p", "h3", "section", "time", "figure", "strong",
                         "author", "li"])


@st.composite
def _markup(draw, depth=0):
    tag, cls, ident = draw(_tags), draw(_words), draw(_words)
    attrs = (f' class="{cls}"' if cls else "") + (f' id="{ident}"' if ident else "")
    if draw(st.booleans()):
        attrs += f' itemprop="{draw(st.sampled_from(["author", "name", "author name"]))}"'
    inner = draw(st.text(alphabet="Ab Cd.", max_size=12))
    if depth < 3:
        inner += "".join(draw(st.lists(_markup(depth + 1), max_size=3)))
    return f"<{tag}{attrs}>{inner}</{tag}>" + draw(st.text(alphabet="ef ", max_size=4))


@settings(max_examples=150, deadline=None)
@given(st.lists(_markup(), min_size=1, max_size=4))
def test_byline_author_matches_trafilatura_on_random_markup(parts):
    from trafilatura.metadata import extract_author

    from tasks.extract.html import byline_author

    tree = lxml.html.fromstring(f"<html><body>{''.join(parts)}</body></html>")
    assert byline_author(tree) == extract_author(tree)
