"""Near-duplicate clusters: MinHash verification (pure) and clustering across runs (real ES)."""

from __future__ import annotations

import pytest

from ceasefire.search import search
from tasks.dedupe.clusters import dedupe_batch
from tasks.dedupe.near_dup import Signature, band_terms, estimated_jaccard, is_copy, shingles, sign, signature
from tasks.extract.html import parse_plain_text
from tasks.models import Article
from tasks.prepare import prepare_articles
from tasks.store.client import connect
from tasks.store.write import write_batch
from testkit.syndication import (
    build_corpus,
    load_stories,
    pair_scores,
    predicted_pairs,
    true_pairs,
)
from tests.conftest import EXAMPLES

STORIES = load_stories()


def _sig(text: str) -> Signature:
    return signature(text)


def test_signature_is_deterministic_and_round_trips():
    body = STORIES[0]["body"]
    a, b = _sig(body), _sig(body)
    assert (a.values == b.values).all() and band_terms(a) == band_terms(b)
    assert len(band_terms(a)) == 64
    decoded = Signature.decode(a.encode(), a.shingles)
    assert (decoded.values == a.values).all()


def test_copies_match_and_distinct_stories_do_not():
    original = STORIES[0]["body"]
    paragraphs = original.split("\n\n")
    boilerplate = "\n\n".join(["LIVE UPDATES", original, "© 2025 Daily Ledger. All rights reserved."])
    truncated = "\n\n".join(paragraphs[: len(paragraphs) // 2 + 1])
    reordered = "\n\n".join([paragraphs[0], paragraphs[2], paragraphs[1], *paragraphs[3:]])
    for copy in (boilerplate, truncated, reordered):
        assert is_copy(_sig(original), _sig(copy))[0]
    same_event = next(s for s in STORIES[1:] if s["event"] == STORIES[0]["event"])
    matched, jaccard = is_copy(_sig(original), _sig(same_event["body"]))
    assert not matched and jaccard < 0.2


def test_the_two_sample_articles_are_not_copies():
    lbc, ians = (parse_plain_text(p.read_text()) for p in sorted(EXAMPLES.glob("*.txt")))
    matched, jaccard = is_copy(_sig(lbc.body), _sig(ians.body))
    assert not matched and jaccard < 0.05


def test_short_bodies_are_never_near_duplicates():
    assert len(shingles("Ceasefire holds.")) == 1
    assert not is_copy(_sig("Ceasefire holds."), _sig("Ceasefire holds."))[0]


def test_estimated_jaccard_tracks_true_jaccard():
    a_words = STORIES[3]["body"]
    b_words = "\n\n".join(a_words.split("\n\n")[:3])
    sa, sb = shingles(a_words), shingles(b_words)
    true = len(sa & sb) / len(sa | sb)
    assert abs(estimated_jaccard(_sig(a_words), _sig(b_words)) - true) < 0.15


# --- against Elasticsearch -------------------------------------------------------------------


def _ingest(settings, corpus, batch_size=7):
    articles, skips = prepare_articles([
        Article(title=c.title, body=c.body, url=c.url, source=c.source,
                published_at=c.published_at, origin=c.url) for c in corpus])
    assert not skips
    near = 0
    with connect(settings) as es:
        for i in range(0, len(articles), batch_size):
            batch = articles[i:i + batch_size]
            result = dedupe_batch(es, settings.read_alias, batch)
            near += result.near_duplicates
            write_batch(es, settings, batch, result.plan.relabel)
    return near


def _clusters(es, settings):
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=1000,
                     _source=["url", "cluster_id", "duplicate_of"])["hits"]["hits"]
    return {h["_source"]["url"]: (h["_source"]["cluster_id"], h["_source"].get("duplicate_of"))
            for h in hits}


@pytest.fixture(scope="module")
def small_corpus():
    event = STORIES[0]["event"]
    stories = [s for s in STORIES if s["event"] == event][:4] + STORIES[-3:]
    corpus = build_corpus(seed=3, max_copies=4, original_missing=0.0, stories=stories)
    assert sum(not a.is_original for a in corpus) >= 6
    return corpus


def test_clusters_across_runs_with_earliest_as_representative(ready_es, settings, small_corpus):
    originals = [a for a in small_corpus if a.is_original]
    copies = [a for a in small_corpus if not a.is_original]
    # Copies first, originals (the earliest of each story) in a later run: clusters relabel.
    near_first = _ingest(settings, copies)
    _ingest(settings, originals)
    clusters = _clusters(ready_es, settings)
    assert len(clusters) == len(small_corpus)  # every copy kept
    precision, recall = pair_scores(true_pairs(small_corpus),
                                    predicted_pairs({u: c for u, (c, _) in clusters.items()}))
    assert (precision, recall) == (1.0, 1.0)
    url_to_id = {h["_source"]["url"]: h["_id"] for h in ready_es.search(
        index=settings.read_alias, size=1000, _source=["url"])["hits"]["hits"]}
    for article in small_corpus:
        original = next(o for o in originals if o.story == article.story)
        cluster_id, duplicate_of = clusters[article.url]
        assert cluster_id == url_to_id[original.url]
        assert duplicate_of == (None if article is original else url_to_id[original.url])
    assert near_first > 0


def test_same_clusters_in_any_order_and_on_rerun(es, settings, small_corpus):

    from tasks.store.setup import delete_all, setup_indices

    setup_indices(es, settings)
    _ingest(settings, small_corpus, batch_size=100)
    one = _clusters(es, settings)
    _ingest(settings, small_corpus[::-1], batch_size=3)  # rerun: nothing changes
    assert _clusters(es, settings) == one
    other = settings.replace(index_prefix=settings.index_prefix + "-b")
    setup_indices(es, other)
    try:
        half = len(small_corpus) // 2
        _ingest(other, small_corpus[half:][::-1], batch_size=2)
        _ingest(other, small_corpus[:half], batch_size=5)
        assert _clusters(es, other) == one
    finally:
        delete_all(es, other)


def test_search_collapses_copies(ready_es, settings, small_corpus):
    _ingest(settings, small_corpus)
    story = small_corpus[0]
    query = " ".join(story.body.split()[:6])
    flat = search(ready_es, settings.read_alias, f'"{query}"', size=50)
    folded = search(ready_es, settings.read_alias, f'"{query}"', size=50, collapse=True)
    assert flat.total == sum(1 for a in small_corpus if a.story == story.story and query in a.body)
    assert len(folded.hits) == 1 and folded.stories == 1
    assert folded.hits[0].copies == flat.total
    assert folded.hits[0].title == story.title  # the representative is the original


def test_sign_sets_index_fields():
    art = sign(Article(title="t", body=STORIES[5]["body"], published_at=None))
    assert len(art.near_dup_bands) == 64 and art.near_dup_shingles > 100 and art.near_dup_sig
