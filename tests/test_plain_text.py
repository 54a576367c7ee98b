"""The plain-text parser on the two real sample articles and on the forms around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tasks.extract.html import parse_plain_text
from tasks.extract.plain_text import PlainTextError, parse_byline, split_dateline
from tests.conftest import sample_text

CRUFT = ["Listen to this article", "Loading audio...", "Open in app", "Disclaimer:",
         "auto-published", "Zelensky, Trump hold 2nd phone call in two days |"]


@pytest.fixture(scope="module")
def lbc():
    return parse_plain_text(sample_text("lbc-zelenskyy-trump-call.txt"), path="lbc.txt")


@pytest.fixture(scope="module")
def ians():
    return parse_plain_text(sample_text("ians-zelensky-trump-second-call.txt"), path="ians.txt")


def test_lbc_fields(lbc):
    assert lbc.title == ("Zelenskyy says he had 'positive, substantive and frank' call with Trump "
                         "as US claims 'we are on track for peace'")
    assert lbc.authors == ["Jacob Paul"]
    assert lbc.source == "LBC"
    assert lbc.published_at is None  # the page shows no date: none is invented
    assert lbc.origin == "lbc.txt"
    assert lbc.extractor == "plain-text"
    assert lbc.lead.startswith("Ukrainian President Volodymyr Zelenskyy said he had")
    assert lbc.body.endswith('"frank exchange of views on the situation around Ukraine."')


def test_ians_fields(ians):
    assert ians.title == "Zelensky, Trump hold 2nd phone call in two days"
    assert ians.source == "IANS"
    assert ians.authors == []  # an agency byline names the outlet, not a person
    assert ians.published_at.isoformat() == "2025-10-13T06:32:54+05:30"
    assert ians.published_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert ians.dateline == "Kyiv, Oct 13"
    assert ians.lead == ("Ukrainian President Volodymyr Zelensky said that he had a second phone "
                         "conversation in two days with US President Donald Trump.")
    assert ians.body.endswith("open to negotiations to end the war in Ukraine.")


@pytest.mark.parametrize("name", ["lbc", "ians"])
def test_no_cruft_in_body(name, request):
    article = request.getfixturevalue(name)
    for cruft in CRUFT:
        assert cruft not in article.body, cruft
    assert article.title not in article.body.split("\n\n")  # repeated title lines dropped
    assert not article.body.startswith("by ")  # byline is not body


def test_ians_teaser_is_dropped_but_its_full_paragraph_kept(ians):
    assert "two days ..." not in ians.body
    assert ians.body.count("second phone conversation in two days") == 1


def test_body_paragraphs_preserved(lbc):
    paragraphs = lbc.body.split("\n\n")
    assert len(paragraphs) > 30
    assert "He said the call began with him thanking the US president" in paragraphs[1]


@pytest.mark.parametrize(("line", "authors", "outlet", "published"), [
    ("by Jacob Paul · LBCBy Jacob Paul", ["Jacob Paul"], "LBC", None),
    ("By Jane Doe and John Roe · The Kyiv Independent", ["Jane Doe", "John Roe"],
     "The Kyiv Independent", None),
    ("By Reuters", [], "Reuters", None),
    ("By IANS | Updated: October 13, 2025 06:35 IST2025-10-13T06:32:54+5:302025-10-13T06:35:08+5:30",
     [], "IANS", datetime(2025, 10, 13, 6, 32, 54, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ("By Maria Ortiz | Published: 14 January 2025 09:10 GMT", ["Maria Ortiz"], None,
     datetime(2025, 1, 14, 9, 10, tzinfo=UTC)),
    ("By Staff | Updated: March 2, 2025 18:00 CET", [], None,
     datetime(2025, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=1)))),
    ("By AFP | 2025-03-02T17:00:00Z", [], "AFP", datetime(2025, 3, 2, 17, tzinfo=UTC)),
])
def test_bylines(line, authors, outlet, published):
    byline = parse_byline(line)
    assert byline.authors == authors
    assert byline.outlet == outlet
    assert byline.published == published


def test_ians_updated_time_is_kept_separately():
    byline = parse_byline("By IANS | Updated: October 13, 2025 06:35 IST"
                          "2025-10-13T06:32:54+5:302025-10-13T06:35:08+5:30")
    assert byline.updated.isoformat() == "2025-10-13T06:35:08+05:30"


@pytest.mark.parametrize(("paragraph", "dateline", "rest"), [
    ("Kyiv, Oct 13 Ukrainian President said", "Kyiv, Oct 13", "Ukrainian President said"),
    ("GAZA CITY, March 12 (Reuters) - Israeli strikes", "GAZA CITY, March 12 (Reuters)",
     "Israeli strikes"),
    ("KYIV (Reuters) - Russia launched", "KYIV (Reuters)", "Russia launched"),
    ("Khartoum, 14 January 2025: The army said", "Khartoum, 14 January 2025", "The army said"),
    ("He said, Oct 13 was a date", None, "He said, Oct 13 was a date"),
    ("Ukraine accepted the proposal.", None, "Ukraine accepted the proposal."),
])
def test_datelines(paragraph, dateline, rest):
    assert split_dateline(paragraph) == (dateline, rest)


def test_date_line_in_header_is_used():
    text = "A title\n\nPublished: 2 March 2025 14:05 EET\n\nBody sentence one is here.\n"
    article = parse_plain_text(text)
    assert article.published_at.isoformat() == "2025-03-02T14:05:00+02:00"
    assert article.body == "Body sentence one is here."


def test_naive_dates_are_made_aware_as_utc():
    article = parse_plain_text("Title\nBy Ann Lee | Published: 2025-03-02T10:00:00\nBody text.")
    assert article.published_at.isoformat() == "2025-03-02T10:00:00+00:00"


def test_body_sentence_mentioning_cruft_is_kept():
    text = "Title\nBy Ann Lee\nOfficials asked people to listen to this article's source carefully."
    assert "listen to this article" in parse_plain_text(text).body


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty text"),
    ("   \n\n  ", "empty text"),
    ("Just a title\nBy Somebody\nListen to this article\n", "no body text"),
    ("x" * 500 + "\nbody", "expected a title line first"),
])
def test_not_articles_raise_with_reason(text, message):
    with pytest.raises(PlainTextError, match=message):
        parse_plain_text(text, path="bad.txt")


def test_windows_newlines_and_nbsp():
    article = parse_plain_text("Title\r\nBy Ann\u00a0Lee\r\n\r\nFirst\u00a0para.\r\nSecond para.\r\n")
    assert article.authors == ["Ann Lee"]
    assert article.body == "First para.\n\nSecond para."
