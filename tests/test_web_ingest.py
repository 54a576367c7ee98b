"""Web ingestion end to end: real loopback news sites -> Prefect flow -> real Elasticsearch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flows.ingest import ingest_sources
from testkit.news_site import NewsSite, Page
from testkit.syndication import load_stories

STORIES = load_stories()


def _page(story: dict, suffix: str = "", delay_minutes: int = 0) -> Page:
    return Page(story["id"] + suffix, story["title"], story["body"],
                datetime.fromisoformat(story["published_at"]) + timedelta(minutes=delay_minutes))


@pytest.fixture
def sites():
    alpha = NewsSite("Alpha News", [_page(s) for s in STORIES[:3]], host="127.0.0.1").start()
    beta_pages = [_page(s) for s in STORIES[10:12]]
    beta_pages.append(_page(STORIES[0], "-wire-copy", delay_minutes=90))  # syndicated copy
    beta_pages.append(_page(STORIES[20], "-blocked"))
    beta = NewsSite("Beta Times", beta_pages, host="127.0.0.2",
                    robots="User-agent: *\nDisallow: /news/" + STORIES[20]["id"] + "-blocked\n").start()
    yield alpha, beta
    alpha.close()
    beta.close()


@pytest.fixture
def sources_file(sites, tmp_path, prefect_api, settings, monkeypatch):
    alpha, beta = sites
    monkeypatch.setenv("CEASEFIRE_FETCH_ALLOW_NETWORKS", "127.0.0.0/8")
    watch = tmp_path / "watch.txt"
    watch.write_text(f"{alpha.page_url(alpha.pages[0])}#dup-of-a-feed-item\n"
                     f"{alpha.base}/news/no-such-story\n")
    path = tmp_path / "sources.yaml"
    path.write_text(
        "version: 1\nsources:\n"
        f"  - {{name: alpha, kind: feed, url: '{alpha.feed_url}', outlet: Alpha News, min_interval: 0.05}}\n"
        f"  - {{name: beta, kind: sitemap, url: '{beta.sitemap_url}', min_interval: 0.05}}\n"
        "  - {name: watch, kind: urls, path: watch.txt, outlet: Alpha News}\n"
        "  - {name: disabled-feed, kind: feed, url: 'http://127.0.0.9:1/rss', enabled: false}\n")
    return path


def _docs(es, settings):
    es.indices.refresh(index=settings.read_alias)
    return {h["_source"]["url"]: h["_source"] for h in es.search(
        index=settings.read_alias, size=100)["hits"]["hits"]}


def test_sources_end_to_end_then_a_no_op_run(sources_file, sites, es, settings):
    alpha, beta = sites
    first = ingest_sources(sources_file=str(sources_file))
    assert first.balanced
    assert first.created == 6  # 3 alpha + 2 beta + the wire copy; blocked and 404 skipped
    assert dict(first.skipped) == {"robots-disallowed": 1, "http-404": 1}
    assert first.near_duplicates == 1
    docs = _docs(es, settings)
    original = docs[alpha.page_url(alpha.pages[0])]  # canonical: no utm_source from the feed
    assert original["source"] == "Alpha News"
    assert original["feed"] == alpha.feed_url
    assert original["published_at"] == alpha.pages[0].published_at.isoformat()
    assert original["extractor"].startswith("trafilatura-")
    assert original["title"] == STORIES[0]["title"]
    copy = docs[f"{beta.base}/news/{STORIES[0]['id']}-wire-copy"]
    assert copy["source"] == "Beta Times"  # from the sitemap's news:publication
    assert copy["duplicate_of"] == original["cluster_id"] and "duplicate_of" not in original
    assert not any("blocked" in r for r in beta.requests)  # robots.txt obeyed: never requested

    before = {site.name: len(site.requests) for site in sites}
    second = ingest_sources(sources_file=str(sources_file))
    assert second.balanced
    assert (second.feeds_not_modified, second.fetched, second.inputs, second.created) == (2, 0, 0, 0)
    assert second.http_requests == 2  # one conditional request per feed; robots.txt cached
    assert second.seen_before == second.discovered > 0
    new_requests = [r for site in sites for r in site.requests[before[site.name]:]]
    assert sorted(new_requests) == ["/news-sitemap.xml", "/rss.xml"]
    assert len(_docs(es, settings)) == 6


def test_unknown_source_name_is_a_clear_error(sources_file):
    with pytest.raises(ValueError, match="no enabled source named nope"):
        ingest_sources(sources_file=str(sources_file), only=["nope"])


def test_sources_in_this_process_count_and_remember_as_the_flow(sources_file, sites, es, settings):
    from ceasefire import running
    from tasks.settings import Settings

    settings = Settings.from_env()  # with the fixture's allowed loopback networks
    first = running.sources(settings, str(sources_file), None, 500, prefect=False)
    assert first.balanced and first.created == 6 and first.near_duplicates == 1
    assert dict(first.skipped) == {"robots-disallowed": 1, "http-404": 1}
    lines = first.stage_lines()
    assert [line.split()[0] for line in lines][:3] == ["discover", "fetch", "read"]
    assert lines[0].startswith("discover  3 sources: ")
    second = running.sources(settings, str(sources_file), None, 500, prefect=False)
    assert (second.feeds_not_modified, second.fetched, second.inputs, second.created) == (2, 0, 0, 0)
