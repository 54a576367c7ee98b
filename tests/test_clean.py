"""Cleaning: Unicode, whitespace, cruft, repeated title/byline lines, glued sentences, length."""

from __future__ import annotations

import pytest

from tasks.clean import (
    MAX_BODY_CHARS,
    cap_length,
    clean_article,
    is_bare_byline,
    is_cruft_line,
    normalize_text,
    repair_paragraphs,
)
from tasks.extract.html import parse_plain_text
from tasks.models import Article
from tests.conftest import sample_text


def test_normalize_text_unicode_controls_and_spaces():
    text = "Cafe\u0301\u200b  talks\u00a0resume\x07\r\n\r\n\r\n\tNext  line "
    assert normalize_text(text) == "Café talks resume\n\nNext line"


@pytest.mark.parametrize("line", [
    "Listen to this article", "Loading audio...", "Open in app", "Advertisement",
    "Sign up to our newsletter for the day's top stories.", "We use cookies to improve your visit",
    "Disclaimer: This post has been auto-published from an agency feed without any modifications "
    "to the text and has not been reviewed by an editor",
    "(This story has not been edited by our staff and is auto-generated from a syndicated feed.)",
    "Download our app for breaking news alerts", "Read more:",
])
def test_cruft_lines(line):
    assert is_cruft_line(line)


@pytest.mark.parametrize("line", [
    "Officials said the app would open in the coming days.",
    "Read more about the talks in our explainer, the minister said, pointing to the text.",
    "Share prices rose after the ceasefire.",
])
def test_article_sentences_are_not_cruft(line):
    assert not is_cruft_line(line)


def test_bare_bylines():
    assert is_bare_byline("By Jacob Paul") and is_bare_byline("by IANS")
    assert not is_bare_byline("By the time talks started, both sides had agreed to a pause.")


def test_glued_sentences_are_split_with_quotes_on_the_right_side():
    glued = ('He said: "Teams will meet to continue coordinating steps toward peace."Ending his '
             'statement, he "highlighted the concept of peace through strength"."We agreed to '
             'maintain constant contact."')
    assert repair_paragraphs([glued]) == [
        'He said: "Teams will meet to continue coordinating steps toward peace."',
        'Ending his statement, he "highlighted the concept of peace through strength".',
        '"We agreed to maintain constant contact."',
    ]
    assert repair_paragraphs(["It ended.Next day, talks resumed."]) == \
        ["It ended.", "Next day, talks resumed."]


def test_closing_quote_that_opened_a_line_goes_back():
    assert repair_paragraphs(["He said: “We will talk.", "”The leader added: “Fine.”"]) == \
        ["He said: “We will talk.”", "The leader added: “Fine.”"]


@pytest.mark.parametrize("text", ["The U.S.Army said.", "At 5 p.m. Monday.",
                                  "Version 2.0 shipped."])
def test_no_split_inside_abbreviations_and_numbers(text):
    assert repair_paragraphs([text]) == [text]


def test_cap_length_cuts_at_paragraphs_and_reports_it():
    paragraphs = ["a" * 60, "b" * 60, "c" * 60]
    assert cap_length(paragraphs, 130) == (["a" * 60, "b" * 60], True)
    assert cap_length(paragraphs, 1000) == (paragraphs, False)
    giant = ["word " * 100_000]
    kept, cut = cap_length(giant)
    assert cut and len(kept[0]) <= MAX_BODY_CHARS


def test_clean_article_on_the_lbc_sample():
    article = clean_article(parse_plain_text(sample_text("lbc-zelenskyy-trump-call.txt")))
    paragraphs = article.body.split("\n\n")
    assert '"We agreed to maintain constant contact, including at the highest level and through ' \
           'our teams."' in paragraphs
    assert not any(p.startswith("”") for p in paragraphs)
    assert "strength\".\"We" not in article.body


def test_clean_article_drops_repeated_title_and_byline_lines():
    article = clean_article(Article(
        title="Truce holds", body="Truce holds\n\nBy Jane Roe\n\nThe truce held.\n\nOpen in app"))
    assert article.body == "The truce held."
