"""`ceasefire report`: aggregations to page data and HTML (no Elasticsearch), then the report of
the real node's generated corpus and sample articles, opened in headless Chromium."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread
from playwright.sync_api import Dialog, sync_playwright

from ceasefire.cli import main
from ceasefire.query import Filters
from ceasefire.report import (
    FACETS,
    INDEX,
    Headline,
    build_report,
    describe_query,
    headline_html,
    notes,
    parse_report,
    render_html,
    report_body,
    safe_url,
)
from ceasefire.report_charts import plot_bars, short
from tests.research_corpus import Doc, corpus, index_docs, ingest_samples

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"
CHROMIUM = os.environ.get("CEASEFIRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
HOSTILE = '<script>alert("x")</script> Ceasefire & <img src=x onerror=alert(1)>'
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)

# --- aggregations to page data and HTML, no Elasticsearch -----------------------------------


def _response(total: int = 7) -> dict:
    aggs: dict = {}
    for name in FACETS:
        aggs[name] = {"buckets": [{"key": f"{name}-a", "doc_count": 4}, {"key": f"{name}-b", "doc_count": 2}]}
        aggs[f"{name}_missing"] = {"doc_count": 1 if name == "persons" else 0}
    hits = [{"_source": {"title": HOSTILE, "source": "LBC", "published_at": "2025-09-02T08:30:00Z",
                         "url": "javascript:alert(1)"}},
            {"_source": {"title": "Talks", "source": "BBC", "url": "https://bbc.example/a?b=1&c=2"}},
            {"_source": {}}]
    return {"hits": {"total": {"value": total}, "hits": hits}, "aggregations": aggs}


def test_report_body_asks_every_facet_and_its_missing_count():
    body = report_body({"match_all": {}}, top=3, headlines=5)
    assert body["size"] == 5 and body["track_total_hits"] is True
    for name, (_, fld, _) in FACETS.items():
        assert body["aggs"][name] == {"terms": {"field": fld, "size": 3}}
        assert body["aggs"][f"{name}_missing"] == {"missing": {"field": fld}}


def test_parse_report_keeps_order_counts_and_headlines():
    data = parse_report(_response())
    assert data.total == 7 and [f.name for f in data.facets] == list(FACETS)
    persons = data.facets[1]
    assert persons.bars == [("persons-a", 4), ("persons-b", 2)] and persons.without == 1
    assert [h.title for h in data.headlines] == [HOSTILE, "Talks", "(no title)"]
    assert data.headlines[2] == Headline("(no title)", None, None, None)


def test_only_http_urls_become_links():
    assert safe_url("https://a.example/x") == "https://a.example/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//a.example/x", "ftp://a/x", "", None,
                "https:///nohost"):
        assert safe_url(bad) is None


def test_html_escapes_hostile_titles_and_links_nothing_outside():
    data = parse_report(_response())
    data.charts = {"volume": "volume.png", **{name: f"{name}.png" for name in FACETS}}
    page = render_html(data, describe_query('"<b>" ceasefire', Filters(source=["<i>LBC"])), NOW)
    assert "<script>" not in page and "<img src=x" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="javascript' not in page and "javascript:alert(1)" in page  # shown, not linked
    assert 'href="https://bbc.example/a?b=1&amp;c=2"' in page
    assert re.findall(r'src="([^"]+)"', page) == ["volume.png", *(f"{n}.png" for n in FACETS)]
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "2026-01-02 03:04 UTC" in page and "<strong>7</strong> matching" in page
    assert page.count("<li><span class=\"title\">") == 3


@given(st.text(max_size=60), st.text(max_size=20), st.one_of(st.none(), st.text(max_size=30)))
def test_any_headline_leaves_no_tag_open(title, source, url):
    item = headline_html(Headline(title, source, "2025-01-01", url))
    inner = re.sub(r'^<li><span class="title">(<a href="[^"<>]*" rel="noopener noreferrer">)?', "", item)
    assert "<" not in inner.split("</")[0]  # the title itself adds no markup


def test_notes_name_the_multi_valued_facets_and_the_missing():
    text = " ".join(notes(parse_report(_response())))
    assert "top persons, top topics are multi-valued" in text
    assert "top persons: 1 matching article with none" in text


def test_describe_query_lists_every_filter():
    rows = describe_query("", Filters(source=["LBC"], person=["Zelensky"], published_from="2025-09",
                                      min_relevance=0.5))
    assert rows == [("query", "(every article)"), ("source", "LBC"), ("person", "Zelensky"),
                    ("from (published_at)", "2025-09"), ("min relevance", "0.5")]


def _png_ok(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG
    height, width, _ = imread(path).shape
    assert width > 100 and height > 100


def test_bar_charts_with_and_without_values(tmp_path):
    plot_bars([("a" * 200, 5), ("b", 1)], tmp_path / "bars.png", "bars", "note")
    plot_bars([], tmp_path / "empty.png", "empty")
    _png_ok(tmp_path / "bars.png")
    _png_ok(tmp_path / "empty.png")
    assert short("x\ny  z") == "x y z" and len(short("a" * 200)) == 40


# --- the real node ---------------------------------------------------------------------------


@pytest.fixture
def reported(ready_es, settings) -> list[Doc]:
    """The generated corpus, one article with a hostile title, and the two sample articles."""
    docs = corpus()
    hostile = Doc("doc-hostile", {**docs[2].source, "title": HOSTILE,
                                  "url": "javascript:alert(document.cookie)"})
    index_docs(ready_es, settings, [*docs, hostile])
    ingest_samples(ready_es, settings)
    return [*docs, hostile]


def _local_references(page: str) -> list[str]:
    """Every file the page loads (src attributes, stylesheets), each checked to be relative."""
    refs = re.findall(r'\bsrc="([^"]*)"', page)
    assert "<link" not in page and "<script" not in page.lower() and "url(" not in page
    return refs


def test_report_of_the_corpus(ready_es, settings, reported, tmp_path):
    out = tmp_path / "report"
    data = build_report(ready_es, settings.read_alias, "ceasefire", None, out, interval="week",
                        headlines=80, now=NOW)
    assert data.total == 62  # 60 generated, the hostile one, one of the two samples
    assert len(data.headlines) == 62
    sources = dict(data.facets[0].bars)
    assert sum(sources.values()) == 62 and data.facets[0].without == 0  # single-valued
    assert data.timeline is not None and data.timeline.total == 62
    page = (out / INDEX).read_text(encoding="utf-8")
    refs = _local_references(page)
    assert sorted(refs) == sorted(data.charts.values()) and len(refs) == 5
    for ref in refs:
        assert "/" not in ref and ":" not in ref
        _png_ok(out / ref)
    assert sorted(p.name for p in out.iterdir()) == sorted([INDEX, *refs])
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "<script>" not in page
    assert 'href="javascript' not in page


def test_cli_report(ready_es, settings, reported, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["report", "ceasefire", "--source", "lbc", "-o", str(out), "--interval", "month"]) == 0
    assert f"matching articles; wrote {out / INDEX}" in capsys.readouterr().out
    page = (out / INDEX).read_text(encoding="utf-8")
    assert "<td>source</td><td><code>lbc</code>" in page
    assert main(["report", "x"]) == 2  # no -o


def test_report_renders_in_chromium(ready_es, settings, reported, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install --no-install-recommends chromium, "
                    "or set CEASEFIRE_CHROMIUM")
    out = tmp_path / "report"
    # The README's screenshot is refreshed only on request: a test run leaves the tree clean.
    shot = ROOT / "docs" / "report-example.png" if os.environ.get("CEASEFIRE_SAVE_SCREENSHOTS") \
        else tmp_path / "report-example.png"
    data = build_report(ready_es, settings.read_alias, "ceasefire", Filters(published_to="2025-12"),
                        out, interval="week", headlines=8, now=NOW)
    assert data.total == 61 and data.timeline is not None and data.timeline.undated == 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            dialogs: list[str] = []

            def refuse(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", refuse)
            page.goto((out / INDEX).as_uri(), wait_until="load")
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) == 5 and all(w > 0 for w in widths), widths
            assert page.locator("ol.headlines li").count() == 8
            assert page.locator("h1").inner_text().startswith("Coverage report")
            assert all(u.startswith("file://") for u in requests), requests
            assert not dialogs
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    _png_ok(shot)
