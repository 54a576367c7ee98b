"""HTML extraction, JSONL records and reading directories with bad files among good ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.extract.html import ExtractionError, article_from_record, extract_html, published_from_metadata
from tasks.extract.read_files import discover_files, read_file
from tasks.fetch.charset import decode_text
from tasks.models import Article, Skip
from tests.conftest import FIXTURES

HTML = FIXTURES / "html"
MIXED = FIXTURES / "mixed"


def test_extract_html_news_page():
    article = extract_html((HTML / "black-sea-talks.html").read_bytes())
    assert article.title == "Black Sea ceasefire talks resume in Riyadh"
    assert article.authors == ["Olena Hrytsenko"]
    assert article.source == "World News Desk"
    assert article.source_domain == "news.example.org"
    assert article.url == "https://news.example.org/world/2025/03/24/black-sea-ceasefire-talks-riyadh/"
    assert article.published_at.isoformat() == "2025-03-24T09:15:00+03:00"
    assert article.dateline == "RIYADH (World News Desk)"
    assert article.body.startswith("Ukrainian and American delegations met in the Saudi capital")
    assert article.extractor.startswith("trafilatura-")
    assert article.language_hint == "en"  # <html lang="en">
    for furniture in ("cookies", "Related stories", "newsletter", "All rights reserved", "Business"):
        assert furniture not in article.body


def test_extract_html_url_argument_wins():
    article = extract_html((HTML / "black-sea-talks.html").read_text(), url="https://x.example/a")
    assert article.url == "https://x.example/a"
    assert article.source_domain == "x.example"


@pytest.mark.parametrize(("name", "reason"), [("no-article.html", "no-article-text"),
                                              ("binary-garbage.html", "no-article-text")])
def test_extract_html_failures_are_named(name, reason):
    with pytest.raises(ExtractionError) as info:
        extract_html((HTML / name).read_bytes())
    assert info.value.reason == reason


def test_published_from_json_ld():
    html = ('<html><head><script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",'
            ' "datePublished": "2025-01-19T08:30:00+02:00"}]}</script></head><body></body></html>')
    assert published_from_metadata(html).isoformat() == "2025-01-19T08:30:00+02:00"


def test_record_with_metadata():
    article = article_from_record({"url": "https://e.example/a", "title": "T", "text": "Body.",
                                   "authors": "A One, B Two", "source": "E",
                                   "published": "2025-05-11T08:00:00Z"}, "f.jsonl:1")
    assert (article.authors, article.source, article.origin) == (["A One", "B Two"], "E", "f.jsonl:1")
    assert article.published_at.isoformat() == "2025-05-11T08:00:00+00:00"


def test_record_with_bad_date_is_kept_without_date(caplog):
    article = article_from_record({"title": "T", "body": "B", "date": "soon"}, "f.jsonl:2")
    assert article.published_at is None
    assert "f.jsonl:2: unparseable published date 'soon'" in caplog.text


@pytest.mark.parametrize(("record", "reason"), [
    ({"title": "only a title"}, "jsonl-missing-body"),
    ({"body": "only a body"}, "jsonl-missing-title"),
    (["a", "list"], "jsonl-not-an-object"),
])
def test_bad_records_are_named(record, reason):
    with pytest.raises(ExtractionError) as info:
        article_from_record(record, "f.jsonl:3")
    assert info.value.reason == reason


def test_discover_files_reports_what_it_passes_over(tmp_path):
    files, skips = discover_files([MIXED, tmp_path / "missing"])
    assert [f.name for f in files] == ["cp1252.txt", "empty.txt", "good.txt", "latin1-fr.txt",
                                       "records.jsonl"]
    assert all(f.is_absolute() for f in files)
    reasons = {(Path(s.origin).name, s.reason) for s in skips}
    assert reasons == {("notes.md", "unsupported-file-type"), ("missing", "not-found")}


def test_bad_files_are_skipped_with_source_and_the_rest_is_read():
    files, _ = discover_files([MIXED])
    items = [item for f in files for item in read_file(f)]
    articles = [i for i in items if isinstance(i, Article)]
    skips = [i for i in items if isinstance(i, Skip)]
    assert {a.title for a in articles} == {
        "Ceasefire holds in Gaza despite strikes",
        "Zelenskyy says he had 'positive, substantive and frank' call with Trump as US claims "
        "'we are on track for peace'",
        "Le cessez-le-feu tient au Liban",
        "Sudan's warring parties agree to a humanitarian truce in El Fasher",
        "M23 and Kinshasa sign declaration of principles",
        "Houthis announce pause in Red Sea attacks",
    }
    assert sorted((Path(s.origin).name, s.reason) for s in skips) == [
        ("empty.txt", "not-an-article"),
        ("records.jsonl:2", "jsonl-missing-body"),
        ("records.jsonl:3", "jsonl-invalid-json"),
    ]
    french = next(a for a in articles if a.title.startswith("Le cessez"))
    assert "Israël et le Hezbollah a tenu malgré" in french.body  # Latin-1 bytes decoded
    assert french.authors == []  # "Par Rédaction" names a desk


def test_decode_text_prefers_utf8_and_falls_back():
    assert decode_text("Zelensky’s".encode()) == "Zelensky’s"
    assert decode_text("\ufeffBOM".encode()) == "BOM"
    assert decode_text("Israël a déclaré".encode("latin-1")) == "Israël a déclaré"


@pytest.mark.parametrize(("markup", "language"), [
    ('<html lang="fr-FR"><head></head><body></body></html>', "fr"),
    ('<html><head><meta property="og:locale" content="uk_UA"></head><body></body></html>', "uk"),
    ('<html><head><meta http-equiv="Content-Language" content="ar"></head><body></body></html>', "ar"),
    ("<html><head></head><body></body></html>", None),
])
def test_declared_language(markup, language):
    from tasks.extract.html import page_metadata

    assert page_metadata(markup).language == language
