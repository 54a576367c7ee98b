"""Setup, indexing and search against a real Elasticsearch node."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import BadRequestError

from ceasefire.search import Filters, build_query, search
from tasks.dedupe.identity import assign_identity
from tasks.extract.html import parse_plain_text
from tasks.models import Article
from tasks.prepare import prepare_articles
from tasks.store.bulk import index_articles, write_dead_letters
from tasks.store.setup import setup_indices
from tests.conftest import EXAMPLES


def _samples() -> list[Article]:
    articles = [parse_plain_text(p.read_text(), str(p)) for p in sorted(EXAMPLES.glob("*.txt"))]
    ready, skips = prepare_articles(articles)
    assert not skips
    return ready


def _index(es, settings, articles, **kwargs):
    report = index_articles(es, settings.write_alias, articles, **kwargs)
    es.indices.refresh(index=settings.read_alias)
    return report


def test_setup_is_idempotent_and_wires_aliases(es, settings):
    first = setup_indices(es, settings)
    index = settings.articles_index
    assert first.index == index == f"{settings.index_prefix}-articles-v1"
    assert f"created index {index}" in first.changes
    second = setup_indices(es, settings)
    assert second.changes == []
    aliases = es.indices.get_alias(index=index)[index]["aliases"]
    assert aliases[settings.write_alias] == {"is_write_index": True}
    assert settings.read_alias in aliases
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["_meta"] == {"schema": "ceasefire-articles", "version": 1}
    assert es.indices.exists(index=settings.deadletter_index)


def test_setup_matches_cluster_capabilities(es, settings):
    result = setup_indices(es, settings)
    props = es.indices.get_mapping(index=result.index)[result.index]["mappings"]["properties"]
    # A language's stemmed sub-field exists exactly when the cluster has its analyzer.
    assert set(props["body"].get("fields", {})) == set(result.stemming)


def test_strict_mapping_rejects_unknown_fields(ready_es, settings):
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
        ready_es.index(index=settings.write_alias, document={"title": "t", "nonsense": 1})


def test_indexing_is_idempotent(ready_es, settings):
    articles = _samples()
    first = _index(ready_es, settings, articles)
    assert (first.created, first.updated, first.unchanged, first.dead_lettered) == (2, 0, 0, 0)
    versions = {h["_id"]: h["_version"] for h in ready_es.search(
        index=settings.read_alias, version=True)["hits"]["hits"]}
    second = _index(ready_es, settings, _samples())
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    after = {h["_id"]: h["_version"] for h in ready_es.search(
        index=settings.read_alias, version=True)["hits"]["hits"]}
    assert after == versions  # nothing rewritten
    assert ready_es.count(index=settings.read_alias)["count"] == 2


def test_changed_article_is_updated_and_keeps_first_ingest_time(ready_es, settings):
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    t1 = datetime(2025, 2, 1, tzinfo=UTC)
    article = assign_identity(Article(title="T", body="Body", url="https://e.example/a"))
    _index(ready_es, settings, [article], now=lambda: t0)
    article.authors = ["Fixed Byline"]
    report = _index(ready_es, settings, [article], now=lambda: t1)
    assert report.updated == 1
    doc = ready_es.get(index=settings.read_alias, id=article.id)["_source"]
    assert doc["authors"] == ["Fixed Byline"]
    assert doc["ingested_at"] == t0.isoformat()
    assert doc["updated_at"] == t1.isoformat()


def test_rejected_documents_are_dead_lettered_with_reason(ready_es, settings):
    good = assign_identity(Article(title="Good", body="Fine body", url="https://e.example/g"))
    bad = assign_identity(Article(title="Bad", body="Bad body", url="https://e.example/b",
                                  origin="feed.jsonl:9"))
    bad.relevance = "very"  # not a float: the mapping refuses it
    report = _index(ready_es, settings, [good, bad])
    assert (report.created, report.dead_lettered) == (1, 1)
    rejection = report.rejections[0]
    assert rejection.status == 400 and rejection.error_type == "document_parsing_exception"
    write_dead_letters(ready_es, settings.deadletter_index, report.rejections)
    stored = ready_es.get(index=settings.deadletter_index, id=bad.id)["_source"]
    assert stored["origin"] == "feed.jsonl:9"
    assert "relevance" in stored["reason"]
    assert stored["document"]["title"] == "Bad"


def test_429_is_retried_until_the_block_lifts(ready_es, settings):
    index = settings.articles_index
    ready_es.indices.put_settings(index=index,
                                  settings={"index.blocks.read_only_allow_delete": True})
    waits = []

    def lift_block(seconds: float) -> None:  # the "sleep" between attempts lifts the block
        waits.append(seconds)
        ready_es.indices.put_settings(index=index,
                                      settings={"index.blocks.read_only_allow_delete": None})

    report = _index(ready_es, settings, _samples(), sleep=lift_block)
    assert report.created == 2 and report.retries == 1 and len(waits) == 1
    assert 0 <= waits[0] <= 30


def test_persistent_429_fails_loudly_instead_of_dropping(ready_es, settings):
    index = settings.articles_index
    ready_es.indices.put_settings(index=index,
                                  settings={"index.blocks.read_only_allow_delete": True})
    try:
        with pytest.raises(RuntimeError, match="still failing after"):
            _index(ready_es, settings, _samples(), sleep=lambda s: None)
    finally:
        ready_es.indices.put_settings(index=index,
                                      settings={"index.blocks.read_only_allow_delete": None})


def test_search_finds_lbc_with_highlight_and_facets(ready_es, settings):
    _index(ready_es, settings, _samples())
    result = search(ready_es, settings.read_alias, "energy infrastructure")
    assert result.total >= 1
    top = result.hits[0]
    assert top.source == "LBC"
    assert any("[[energy infrastructure]]" in s for s in top.highlights)  # phrase highlighted
    assert dict(result.facets["source"]) == {"LBC": 1}
    everything = search(ready_es, settings.read_alias, "Trump")
    assert dict(everything.facets["source"]) == {"IANS": 1, "LBC": 1}
    assert ("2025-10", 1) in everything.facets["published_month"]
    assert ("undated", 1) in everything.facets["published_month"]


def test_search_filters(ready_es, settings):
    _index(ready_es, settings, _samples())
    only_ians = search(ready_es, settings.read_alias, "Trump", Filters(source=["IANS"]))
    assert [h.source for h in only_ians.hits] == ["IANS"]
    dated = search(ready_es, settings.read_alias, "",
                   Filters(published_from="2025-10-01", published_to="2025-10-31"))
    assert [h.source for h in dated.hits] == ["IANS"]


def test_build_query_requires_all_words():
    query = build_query("energy infrastructure")
    assert query["query"]["bool"]["must"][0]["simple_query_string"]["default_operator"] == "and"
