"""Backfill: a directory, a URL list or the sources' archives over a date window, through the
Prefect flow into the real Elasticsearch; loopback news sites for the web."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from flows.backfill import backfill
from flows.ingest import ingest_sources
from tasks.models import Article, Link
from tasks.window import DateWindow, articles_in_window, links_in_window
from testkit.news_site import NewsSite, Page
from testkit.syndication import load_stories

STORIES = load_stories()
OCT = datetime(2025, 10, 1, 12, tzinfo=UTC)


def _ids_and_urls(es, settings) -> set[str]:
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=100, source=["url", "title"])["hits"]["hits"]
    return {h["_source"].get("url") or h["_source"]["title"] for h in hits}


# --- the window, pure ---------------------------------------------------------------------------

def test_a_bare_until_date_includes_that_whole_day_and_naive_times_are_utc():
    window = DateWindow.of(date(2025, 10, 1), date(2025, 10, 7))
    assert window.contains(datetime(2025, 10, 7, 23, 59, tzinfo=UTC))
    assert not window.contains(datetime(2025, 10, 8, tzinfo=UTC))
    assert window.contains(datetime(2025, 10, 1))  # naive: UTC
    assert not window.contains(datetime(2025, 9, 30, 23, 0, tzinfo=UTC))
    # an offset is honoured: 01:00+05:30 on Oct 1 is still Sep 30 in UTC
    assert not window.contains(datetime.fromisoformat("2025-10-01T01:00:00+05:30"))


def test_an_empty_window_is_refused():
    with pytest.raises(ValueError, match="empty date window"):
        DateWindow.of(date(2025, 10, 7), date(2025, 10, 1))


def test_undated_links_are_kept_for_their_page_but_undated_articles_are_skipped_by_name():
    window = DateWindow.of(date(2025, 10, 1), None)
    links = [Link("http://a/1", "s", published_at=OCT), Link("http://a/2", "s"),
             Link("http://a/3", "s", published_at=OCT - timedelta(days=30))]
    kept, dropped = links_in_window(links, window)
    assert [link.url for link in kept] == ["http://a/1", "http://a/2"] and dropped == 1
    articles = [Article("in", "b", url="u1", published_at=OCT), Article("none", "b", url="u2"),
                Article("old", "b", url="u3", published_at=OCT - timedelta(days=1))]
    inside, skips = articles_in_window(articles, window)
    assert [a.title for a in inside] == ["in"]
    assert [(s.origin, s.reason) for s in skips] == [("u2", "undated"), ("u3", "outside-date-window")]


# --- parameters, validated before anything runs ------------------------------------------------

def test_parameters_are_typed_and_validated_by_prefect():
    params = backfill.validate_parameters({"paths": ["examples"], "since": "2025-10-01",
                                           "until": "2025-10-07T12:00:00Z", "batch_size": "50"})
    assert params["since"] == date(2025, 10, 1)
    assert params["until"] == datetime(2025, 10, 7, 12, tzinfo=UTC)
    assert params["batch_size"] == 50
    with pytest.raises(Exception, match="since"):
        backfill.validate_parameters({"paths": ["examples"], "since": "last tuesday"})


@pytest.mark.parametrize("kwargs, message", [
    ({}, "nothing to backfill"),
    ({"paths": ["/no/such/folder"]}, "not found: /no/such/folder"),
    ({"paths": ["examples"], "since": "2025-10-07", "until": "2025-10-01"}, "empty date window"),
    ({"paths": ["examples"], "only": ["bbc"]}, "give sources_file too"),
    ({"paths": ["examples"], "batch_size": 0}, "batch size"),
])
def test_bad_requests_fail_before_touching_the_index(kwargs, message, prefect_api, settings, es):
    with pytest.raises(ValueError, match=message):
        backfill(**kwargs)
    assert not es.indices.exists_alias(name=settings.read_alias)


# --- a directory over a window -----------------------------------------------------------------

def test_directory_backfill_keeps_the_window_and_names_the_rest(tmp_path, prefect_api, settings, es):
    folder = tmp_path / "archive"
    folder.mkdir()
    records = [{"title": s["title"], "body": s["body"], "url": f"https://example.org/{s['id']}",
                "published_at": (OCT + timedelta(days=i * 5)).isoformat()}
               for i, s in enumerate(STORIES[:4])]  # Oct 1, 6, 11, 16
    records.append({"title": STORIES[4]["title"], "body": STORIES[4]["body"],
                    "url": "https://example.org/undated"})
    (folder / "dump.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    report = backfill(paths=[str(folder)], since=date(2025, 10, 1), until=date(2025, 10, 11))
    assert report.balanced and report.inputs == 5
    assert report.created == 3
    assert report.skipped == {"outside-date-window": 1, "undated": 1}
    assert _ids_and_urls(es, settings) == {r["url"] for r in records[:3]}
    # The rest of the archive later: nothing doubled, the first three unchanged.
    again = backfill(paths=[str(folder)])
    assert (again.created, again.unchanged) == (2, 3)
    assert es.count(index=settings.read_alias)["count"] == 5


# --- the web: a URL list, then the sources' sitemap over a window --------------------------------

@pytest.fixture
def site():
    pages = [Page(s["id"], s["title"], s["body"], OCT + timedelta(days=i * 5))
             for i, s in enumerate(STORIES[30:36])]  # Oct 1, 6, 11, 16, 21, 26
    news = NewsSite("Archive Times", pages, host="127.0.0.3").start()
    yield news
    news.close()


@pytest.fixture
def web_env(monkeypatch):
    monkeypatch.setenv("CEASEFIRE_FETCH_ALLOW_NETWORKS", "127.0.0.0/8")


def test_url_list_backfill_then_refetch(site, web_env, tmp_path, prefect_api, settings, es):
    url_list = tmp_path / "urls.txt"
    wanted = [site.page_url(p) for p in site.pages[:3]]
    url_list.write_text("\n".join([*wanted, f"{site.base}/news/gone"]) + "\n")
    first = backfill(url_list=str(url_list))
    assert first.balanced and first.created == 3 and first.skipped == {"http-404": 1}
    assert _ids_and_urls(es, settings) == set(wanted)
    # A second backfill does not fetch what is indexed; the 404 is tried again (no retry wait).
    pages_before = site.requests.count(f"/news/{site.pages[0].slug}")
    second = backfill(url_list=str(url_list))
    assert second.seen_before == 3 and second.created == 0 and second.skipped == {"http-404": 1}
    assert site.requests.count(f"/news/{site.pages[0].slug}") == pages_before
    assert site.requests.count("/news/gone") == 2
    # refetch: fetched again, found unchanged, nothing doubled.
    third = backfill(url_list=str(url_list), refetch=True)
    assert third.fetched == 3 and third.unchanged == 3 and third.created == 0
    assert es.count(index=settings.read_alias)["count"] == 3


def test_sources_backfill_over_a_window_leaves_the_hourly_runs_whole(
        site, web_env, tmp_path, prefect_api, settings, es):
    sources = tmp_path / "sources.yaml"
    sources.write_text("version: 1\nsources:\n"
                       f"  - {{name: archive, kind: sitemap, url: '{site.sitemap_url}', min_interval: 0}}\n")
    report = backfill(sources_file=str(sources), since=datetime(2025, 10, 5, tzinfo=UTC),
                      until=date(2025, 10, 16))
    assert report.balanced and report.discovered == 6 and report.outside_window == 3
    assert report.fetched == 3 and report.created == 3  # Oct 6, 11, 16
    assert _ids_and_urls(es, settings) == {site.page_url(p) for p in site.pages[1:4]}
    # The backfill stored no feed validators: the hourly run reads the whole sitemap (no 304)
    # and takes the three pages the window left out.
    hourly = ingest_sources(sources_file=str(sources))
    assert hourly.feeds_not_modified == 0 and hourly.seen_before == 3 and hourly.created == 3
    assert es.count(index=settings.read_alias)["count"] == 6
