"""Zero-downtime reindex against the real node: searches and writes keep working during it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from flows.reindex import reindex_flow
from tasks.models import Article
from tasks.prepare import prepare_articles
from tasks.rebuild import rebuild_hits
from tasks.store.bulk import document_hash, index_articles
from tasks.store.reindex import reindex, rollback
from tasks.store.setup import setup_indices
from testkit.syndication import build_corpus


def _articles(n_stories: int, seed: int) -> list[Article]:
    corpus = build_corpus(seed=seed, max_copies=3)[:n_stories]
    ready, _ = prepare_articles([Article(title=c.title, body=c.body, url=c.url + f"?s={seed}",
                                         source=c.source, published_at=c.published_at)
                                 for c in corpus])
    return ready


def test_reindex_while_searching_and_writing(ready_es, settings):
    es = ready_es
    index_articles(es, settings.write_alias, _articles(150, seed=1))
    es.indices.refresh(index=settings.read_alias)
    before = es.count(index=settings.read_alias)["count"]
    stop = threading.Event()
    searches: list[int] = []
    failures: list[str] = []

    def search_loop() -> None:
        while not stop.is_set():
            try:
                total = es.search(index=settings.read_alias, query={"match": {"body": "ceasefire"}},
                                  size=1, track_total_hits=True)["hits"]["total"]["value"]
                searches.append(total)
                if total == 0:
                    failures.append("zero hits")
            except Exception as exc:  # any failed search fails the test
                failures.append(repr(exc))

    late = _articles(20, seed=2)  # written while the copy runs
    writer = threading.Thread(target=lambda: (time.sleep(0.05),
                                              index_articles(es, settings.write_alias, late)))
    readers = [threading.Thread(target=search_loop) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        writer.start()
        result = reindex(es, settings)
        writer.join()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in readers:
            t.join()

    assert failures == [] and len(searches) > 10
    es.indices.refresh(index=settings.read_alias)
    assert sorted(es.indices.get_alias(name=settings.read_alias)) == [result.target]
    assert sorted(es.indices.get_alias(name=settings.write_alias)) == [result.target]
    assert es.indices.exists(index=result.source)  # kept for rollback
    assert es.count(index=settings.read_alias)["count"] == before + len(late)
    assert result.copied + result.newer >= before

    setup_indices(es, settings)  # setup accepts the reindexed index and changes nothing
    assert sorted(es.indices.get_alias(name=settings.read_alias)) == [result.target]

    rollback(es, settings, result.source)
    assert sorted(es.indices.get_alias(name=settings.read_alias)) == [settings.articles_index]


def test_reindex_flow_under_prefect(prefect_api, ready_es, settings):
    index_articles(ready_es, settings.write_alias, _articles(30, seed=3))
    ready_es.indices.refresh(index=settings.read_alias)
    result = reindex_flow()
    assert result.target_count == result.source_count == 30 and result.copied == 30


def test_rebuild_runs_stored_documents_through_the_current_pipeline(prefect_api, settings, es):
    """Documents written by an older pipeline (stale enrichment, a cruft line the cleaner now
    removes) come out of a rebuild as a fresh ingest makes them, with ids and clusters kept."""
    from flows.ingest import ingest_files
    from tests.conftest import EXAMPLES

    ingest_files(paths=[str(EXAMPLES)])
    fresh = {h["_id"]: h["_source"] for h in es.search(index=settings.read_alias)["hits"]["hits"]}
    stale = {"entities": {"persons": ["Nobody"]}, "topics": [], "conflicts": [],
             "enrichment_version": "spacy-old/actors-0/taxonomy-0"}
    for doc_id, doc in fresh.items():
        es.update(index=settings.write_alias, id=doc_id, refresh=True,
                  doc={**stale, "body": doc["body"] + "\n\nListen to this article"})

    kept = reindex_flow()  # a plain copy keeps what is stored
    es.indices.refresh(index=settings.read_alias)
    copied = {h["_id"]: h["_source"] for h in es.search(index=settings.read_alias)["hits"]["hits"]}
    assert kept.copied == 2 and all(d["topics"] == [] for d in copied.values())

    rebuilt = reindex_flow(rebuild=True)
    es.indices.refresh(index=settings.read_alias)
    after = {h["_id"]: h["_source"] for h in es.search(index=settings.read_alias)["hits"]["hits"]}
    assert rebuilt.source_count == rebuilt.target_count == 2 and set(after) == set(fresh)
    for doc_id, doc in fresh.items():
        for field in ("body", "content_hash", "near_dup_bands", "entities", "topics", "conflicts",
                      "language", "enrichment_version", "cluster_id", "relevance",
                      "ingested_at", "coverage_date"):
            assert after[doc_id].get(field) == doc.get(field), field
        assert after[doc_id]["doc_hash"] == document_hash(after[doc_id])
    assert sum("published_at" not in d for d in after.values()) == 1  # LBC: by first seen
    again = ingest_files(paths=[str(EXAMPLES)])  # the rebuilt documents are what an ingest makes
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_reindex_fills_the_coverage_date_of_older_documents(ready_es, settings):
    """Documents indexed before `coverage_date` existed get it from a plain reindex (the
    published date, else the earliest time they were seen), and a re-ingest of the same
    articles afterwards still changes nothing."""
    es = ready_es
    articles = _articles(6, seed=4)
    for a in articles[:2]:
        a.published_at = None
    articles[0].fetched_at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    index_articles(es, settings.write_alias, articles)
    es.indices.refresh(index=settings.read_alias)
    stored = {h["_id"]: h["_source"] for h in es.search(index=settings.read_alias, size=20)["hits"]["hits"]}
    for doc_id, src in stored.items():  # as an older version wrote them
        legacy = {k: v for k, v in src.items() if k != "coverage_date"}
        es.index(index=settings.write_alias, id=doc_id, document=legacy)
    es.indices.refresh(index=settings.read_alias)
    assert es.count(index=settings.read_alias, query={"exists": {"field": "coverage_date"}})["count"] == 0

    reindex(es, settings)
    es.indices.refresh(index=settings.read_alias)
    after = {h["_id"]: h["_source"] for h in es.search(index=settings.read_alias, size=20)["hits"]["hits"]}
    for a in articles:
        src = after[a.id]
        expected = src.get("published_at") or min(
            (t for t in (src.get("fetched_at"), src["ingested_at"]) if t),
            key=datetime.fromisoformat)
        assert src["coverage_date"] == expected, a.id
    assert after[articles[0].id]["coverage_date"] == "2025-03-01T12:00:00+00:00"
    again = index_articles(es, settings.write_alias, articles)
    assert (again.unchanged, again.updated, again.created) == (6, 0, 0)


def test_rebuild_keeps_write_times_and_the_first_seen_date():
    """A rebuilt document keeps when it was first written, gets the hash of what it now holds
    (a later ingest of the same article finds it unchanged), and an undated one keeps the
    earliest coverage date it had."""
    article = Article(title="Truce holds", body="The ceasefire held overnight in the east.",
                      url="https://news.example/r1", fetched_at=datetime(2025, 10, 2, tzinfo=UTC))
    stored = {**article.to_document(), "ingested_at": "2025-10-02T01:00:00+00:00",
              "updated_at": "2025-10-05T00:00:00+00:00", "doc_hash": "stale",
              "coverage_date": "2025-10-01T00:00:00+00:00"}
    (hit,) = rebuild_hits([{"_id": "r1", "_source": stored}], enrich=lambda batch: batch)
    rebuilt = hit["_source"]
    assert rebuilt["ingested_at"] == stored["ingested_at"]
    assert rebuilt["updated_at"] == stored["updated_at"]
    assert rebuilt["doc_hash"] == document_hash(rebuilt) != "stale"
    assert rebuilt["coverage_date"] == "2025-10-01T00:00:00+00:00"
    dated = {**stored, "published_at": "2025-09-30T08:00:00+02:00"}
    (hit,) = rebuild_hits([{"_id": "r1", "_source": dated}], enrich=lambda batch: batch)
    assert hit["_source"]["coverage_date"] == "2025-09-30T08:00:00+02:00"
