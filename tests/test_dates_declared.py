"""Publication dates from page metadata: the main article's own datePublished over modified
dates, related items and page chrome; the publisher's offset kept; the URL path's date as a
check. Property tests: the readers never raise and keep the offsets they are given."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import lxml.html
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.extract.dates import (
    DeclaredDate,
    choose_published,
    read_declared,
    url_contradicts,
    url_date_span,
)
from tasks.extract.html import declared_dates, extract_html, page_metadata

BODY = "<p>" + "Delegations met again on Tuesday to discuss the terms of the truce. " * 6 + "</p>"


def _page(head: str = "", body: str = "", title: str = "Talks resume in Riyadh") -> str:
    return (f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
            f"{body}{BODY}</article></body></html>")


def _ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


# --- read_declared -------------------------------------------------------------------------

def test_read_declared_forms():
    assert read_declared("2024-03-01T10:00:00-05:00").when.isoformat() == "2024-03-01T10:00:00-05:00"
    assert read_declared("2017-01-18T23:00:00-0800").when.isoformat() == "2017-01-18T23:00:00-08:00"
    d = read_declared("2017-11-03 03:01:00.000000")
    assert (d.when.isoformat(), d.zoned, d.timed) == ("2017-11-03T03:01:00+00:00", False, True)
    d = read_declared("2021-01-03T17:40:00EET")
    assert (d.when.isoformat(), d.zoned) == ("2021-01-03T17:40:00+02:00", True)
    d = read_declared("2017-03-10")
    assert (d.when.isoformat(), d.zoned, d.timed) == ("2017-03-10T00:00:00+00:00", False, False)
    assert read_declared("Fri Mar 13 21:30:09 EST 2015").when.date() == date(2015, 3, 13)
    for nothing in (None, 12, "", "soon", "2999-01-01T00:00:00Z", "2025-01-01T00:00:00+99:00",
                    "x" * 500):
        assert read_declared(nothing) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=150))
def test_read_declared_never_raises(text):
    found = read_declared(text, "meta")
    assert found is None or (found.when.tzinfo is not None and found.source == "meta")


zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1991, 1, 1), max_value=datetime(2025, 12, 31),
                        timezones=zones).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(["{}", "  {} ", '"{}"', "{}<br>", "Published: {}"]))
def test_read_declared_keeps_the_offset(when, frame):
    text = frame.format(when.isoformat())
    found = read_declared(text)
    assert found is not None and found.zoned and found.timed
    assert found.when == when and found.when.utcoffset() == when.utcoffset()


# --- the URL path --------------------------------------------------------------------------

def test_url_date_span_forms():
    day = lambda *a: (date(*a), date(*a))  # noqa: E731
    assert url_date_span("https://x.example/news/2023/12/22/talks/") == day(2023, 12, 22)
    assert url_date_span("https://x.example/world/2024/mar/02/talks") == day(2024, 3, 2)
    assert url_date_span("https://x.example/story/2024-03-02/talks") == day(2024, 3, 2)
    assert url_date_span("https://x.example/world/talks-resume-2024-03-04/") == day(2024, 3, 4)
    assert url_date_span("http://x.example/fortune/2023-11/17/c_1129.htm") == day(2023, 11, 17)
    assert url_date_span("https://x.example/2024/02/talks/") == (date(2024, 2, 1), date(2024, 2, 29))
    for none in (None, "", "https://x.example/article/123456", "https://x.example/2024/13/45/x",
                 "https://x.example/1066/10/14/hastings", "http://[::1"):
        assert url_date_span(none) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_url_date_span_never_raises(text):
    span = url_date_span("https://x.example/" + text)
    assert span is None or span[0] <= span[1]


def test_url_contradicts_allows_a_day_either_side():
    span = (date(2024, 2, 28), date(2024, 2, 28))
    east = timezone(timedelta(hours=-5))
    assert not url_contradicts(datetime(2024, 2, 29, 0, 30, tzinfo=UTC), span)
    assert not url_contradicts(datetime(2024, 2, 27, 23, 0, tzinfo=east), span)
    assert url_contradicts(datetime(2024, 3, 1, 9, 0, tzinfo=UTC), span)
    assert not url_contradicts(datetime(2020, 1, 1, tzinfo=UTC), None)


# --- choose_published ----------------------------------------------------------------------

def _d(text: str, source: str) -> DeclaredDate | None:
    return read_declared(text, source)


def test_zoned_first_then_timed_then_day():
    chosen = choose_published([_d("2024-03-01", "meta:a"), _d("2024-03-01 10:00", "meta:b"),
                               _d("2024-03-01T10:00:00+01:00", "time")])
    assert chosen.when.isoformat() == "2024-03-01T10:00:00+01:00"
    assert choose_published([_d("2024-03-01", "meta:a"), _d("2024-03-01 10:00", "meta:b")]
                            ).source == "meta:b"
    assert choose_published([]) is None


def test_the_publishers_offset_is_kept_for_the_same_instant():
    # The day printed in Chicago is the 28th; the same instant in UTC falls on the 29th.
    chosen = choose_published([_d("2024-02-29T04:20:17+00:00", "json-ld:main"),
                               _d("2024-02-28T22:20:17-06:00", "itemprop")])
    assert chosen.when.isoformat() == "2024-02-28T22:20:17-06:00"


def test_a_date_the_url_contradicts_is_passed_over():
    url = "https://x.example/world/2023/12/22/talks/"
    chosen = choose_published([_d("2024-05-02T10:00:00Z", "time"),
                               _d("2023-12-22T09:00:00+02:00", "json-ld:other")], url)
    assert chosen.when.isoformat() == "2023-12-22T09:00:00+02:00"
    # None left: the URL path's day.
    only = choose_published([_d("2024-05-02T10:00:00Z", "time")], url)
    assert (only.when.isoformat(), only.source) == ("2023-12-22T00:00:00+00:00", "url")
    # A month in the path drops nothing inside it.
    assert choose_published([_d("2024-02-28T10:00:00Z", "time")],
                            "https://x.example/2024/02/slug/").when.day == 28


def test_two_sources_agreeing_outweigh_the_url():
    # Magazine URLs carry the issue date, days after the story went online.
    url = "https://x.example/magazine/2024/03/11/story"
    chosen = choose_published([_d("2024-03-01T06:00:00-05:00", "json-ld:main"),
                               _d("2024-03-01T11:00:00Z", "meta:article:published_time")], url)
    assert chosen.when.isoformat() == "2024-03-01T06:00:00-05:00"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.builds(DeclaredDate, instants, st.booleans(),
                                               st.booleans(), st.sampled_from(
                                                   ["json-ld:main", "meta:x", "itemprop", "time"]))),
                max_size=6),
       st.one_of(st.none(), st.text(max_size=60).map(lambda t: "https://x.example/" + t)))
def test_choose_published_picks_a_candidate_or_the_url_day(candidates, url):
    chosen = choose_published(candidates, url)
    if chosen is not None and chosen.source != "url":
        assert chosen in [c for c in candidates if c is not None]
        assert chosen.when.utcoffset() == next(c for c in candidates if c == chosen).when.utcoffset()


# --- pages ---------------------------------------------------------------------------------

def test_modified_dates_are_never_the_publication():
    page = _page('<meta property="article:modified_time" content="2024-03-02T09:00:00+00:00">'
                 + _ld({"@type": "NewsArticle", "dateModified": "2024-03-02T09:00:00Z",
                        "datePublished": "2024-03-01T08:00:00+01:00"}),
                 '<time itemprop="dateModified" datetime="2024-03-02T09:00:00Z">updated</time>')
    assert page_metadata(page).published.isoformat() == "2024-03-01T08:00:00+01:00"
    only_modified = _page('<meta property="og:updated_time" content="2024-03-02T09:00:00+00:00">',
                          '<time class="updated" datetime="2024-03-02T09:00:00Z">x</time>')
    assert page_metadata(only_modified).published is None


def test_the_main_article_node_wins_over_related_items_and_other_nodes():
    related = {"@type": "ItemList", "itemListElement": [
        {"@type": "NewsArticle", "datePublished": "2020-01-01T00:00:00Z", "url": "https://x.example/old"}]}
    other = {"@type": "NewsArticle", "headline": "Another story", "url": "https://x.example/b",
             "datePublished": "2021-06-01T10:00:00Z"}
    main = {"@type": ["NewsArticle"], "headline": "Talks resume in Riyadh",
            "mainEntityOfPage": {"@id": "https://www.x.example/a/"},
            "datePublished": "2024-03-01T08:00:00+03:00",
            "video": {"@type": "VideoObject", "datePublished": "2019-01-01T00:00:00Z"}}
    page = _page(_ld(related) + _ld({"@graph": [other, main]}))
    assert page_metadata(page, "https://x.example/a").published.isoformat() == "2024-03-01T08:00:00+03:00"
    assert page_metadata(page).published.isoformat() == "2024-03-01T08:00:00+03:00"  # by headline
    assert declared_dates(lxml.html.fromstring(page))[0].source == "json-ld:main"


def test_live_blog_updates_are_not_the_publication():
    blog = {"@type": "LiveBlogPosting", "headline": "Talks resume in Riyadh",
            "datePublished": "2024-03-01T08:00:00Z",
            "liveBlogUpdate": [{"@type": "BlogPosting", "datePublished": "2024-03-01T21:43:18Z"}]}
    assert page_metadata(_page(_ld(blog))).published.isoformat() == "2024-03-01T08:00:00+00:00"


def test_extract_html_checks_the_date_against_the_url():
    page = _page(body='<time datetime="2019-05-02T10:00:00Z">a related story</time>')
    article = extract_html(page, url="https://x.example/world/2024/03/01/talks-resume/")
    assert article.published_at.isoformat() == "2024-03-01T00:00:00+00:00"


def test_extract_html_keeps_the_publishers_offset():
    page = _page('<meta property="article:published_time" content="2024-02-29T04:20:17+00:00">',
                 '<time itemprop="datePublished" datetime="2024-02-28T22:20:17-06:00">Feb. 28</time>')
    article = extract_html(page, url="https://x.example/2024/02/talks/")
    assert article.published_at.isoformat() == "2024-02-28T22:20:17-06:00"
