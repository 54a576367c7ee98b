"""Dedup benchmark against a real Elasticsearch: pair precision/recall, order independence,
and the cost per article as the index grows.

    .venv/bin/python -m benchmarks.dedup_bench                 # sizes 1k and 100k
    .venv/bin/python -m benchmarks.dedup_bench --sizes 1000,10000 --seeds 1,2

Uses ELASTICSEARCH_URL or the running local node (`ceasefire es start`); works under
throwaway index prefixes and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections import Counter

from elasticsearch import Elasticsearch, helpers

from tasks.dedupe.clusters import dedupe_batch
from tasks.dedupe.identity import assign_identity
from tasks.dedupe.near_dup import sign
from tasks.models import Article
from tasks.prepare import prepare_articles
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices
from tasks.store.write import write_batch
from testkit.syndication import (
    LabelledArticle,
    build_corpus,
    load_stories,
    pair_scores,
    predicted_pairs,
    true_pairs,
)

BATCH = 50


def _articles(corpus: list[LabelledArticle]) -> list[Article]:
    arts = [Article(title=c.title, body=c.body, url=c.url, source=c.source,
                    published_at=c.published_at, origin=c.url, extractor="benchmark")
            for c in corpus]
    ready, skips = prepare_articles(arts)
    assert not skips, skips
    return ready


def _ingest(settings: Settings, corpus: list[LabelledArticle]) -> tuple[int, int]:
    """Run the flow's cluster and index steps in batches; return (created, unchanged)."""
    created = unchanged = 0
    articles = _articles(corpus)
    es = connect(settings)
    for i in range(0, len(articles), BATCH):
        batch = articles[i:i + BATCH]
        plan = dedupe_batch(es, settings.read_alias, batch).plan
        report = write_batch(es, settings, batch, plan.relabel)
        created, unchanged = created + report.created, unchanged + report.unchanged
    return created, unchanged


def _clusters(es: Elasticsearch, settings: Settings) -> dict[str, tuple[str, str | None]]:
    """url -> (cluster_id, duplicate_of) for everything in the index."""
    es.indices.refresh(index=settings.read_alias)
    return {h["_source"]["url"]: (h["_source"]["cluster_id"], h["_source"].get("duplicate_of"))
            for h in helpers.scan(es, index=settings.read_alias,
                                  query={"_source": ["url", "cluster_id", "duplicate_of"]})}


def _fresh(base: Settings, es: Elasticsearch) -> Settings:
    settings = base.replace(index_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    setup_indices(es, settings)
    return settings


def quality(base: Settings, es: Elasticsearch, seed: int) -> dict[str, object]:
    """Pair precision/recall, representatives, and order independence for one corpus seed."""
    corpus = build_corpus(seed=seed)
    shuffled = corpus[:]
    random.Random(seed).shuffle(shuffled)
    one = _fresh(base, es)
    two = _fresh(base, es)
    try:
        t0 = time.perf_counter()
        _ingest(one, shuffled)
        seconds = time.perf_counter() - t0
        first = _clusters(es, one)
        created, unchanged = _ingest(one, shuffled[::-1])  # the same corpus again
        again = _clusters(es, one)
        half = len(shuffled) // 2
        _ingest(two, shuffled[half:][::-1])  # two runs, other halves first, reversed
        _ingest(two, shuffled[:half])
        halves = _clusters(es, two)
    finally:
        delete_all(es, one)
        delete_all(es, two)
    truth = true_pairs(corpus)
    precision, recall = pair_scores(truth, predicted_pairs({u: c for u, (c, _) in first.items()}))
    earliest = {}
    for a in corpus:
        if a.story not in earliest or a.published_at < earliest[a.story].published_at:
            earliest[a.story] = a
    rep_url = {c: u for u, (c, d) in first.items() if d is None}
    wrong_rep = sum(1 for a in corpus if rep_url.get(first[a.url][0]) != earliest[a.story].url)
    return {"seed": seed, "articles": len(corpus), "stories": len(earliest),
            "events": len({a.event for a in corpus}), "true_pairs": len(truth),
            "precision": precision, "recall": recall, "wrong_representative": wrong_rep,
            "rerun_created": created, "rerun_unchanged": unchanged,
            "rerun_same_clusters": again == first, "halves_same_clusters": halves == first,
            "ingest_s": seconds}


def _filler(rng: random.Random, vocab: list[str], n: int) -> list[Article]:
    """Distinct news-vocabulary articles to grow the index."""
    out = []
    for _ in range(n):
        body = " ".join(rng.choices(vocab, k=140))
        art = Article(title=" ".join(rng.choices(vocab, k=8)), body=body,
                      url=f"https://filler.example.org/{uuid.uuid4().hex}", extractor="benchmark")
        sign(assign_identity(art))
        art.cluster_id = art.id
        out.append(art)
    return out


def _grow(es: Elasticsearch, settings: Settings, target: int, vocab: list[str],
          rng: random.Random) -> None:
    have = es.count(index=settings.read_alias)["count"]
    while have < target:
        n = min(5000, target - have)
        actions = ({"_index": settings.write_alias, "_id": a.id, "_source": a.to_document()}
                   for a in _filler(rng, vocab, n))
        helpers.bulk(es, actions, chunk_size=1000)
        have += n
    es.indices.refresh(index=settings.read_alias)
    es.indices.forcemerge(index=settings.read_alias, max_num_segments=5)


def scale(base: Settings, es: Elasticsearch, sizes: list[int], probes: int) -> list[dict[str, float]]:
    """Clustering cost per article (sign + candidate search + plan) at growing index sizes."""
    stories = load_stories()
    vocab = [w for s in stories for w in s["body"].split()]
    rng = random.Random(11)
    settings = _fresh(base, es)
    probe_corpus = build_corpus(seed=99)[:probes]
    rows = []
    try:
        # The probe stories' originals are in the index, so lookups find and verify real copies.
        _ingest(settings, [a for a in build_corpus(seed=99) if a.is_original])
        for size in sizes:
            _grow(es, settings, size, vocab, rng)
            timings = []
            near = 0
            for _ in range(2):  # warm-up: JIT and caches, as on a node that has been running
                for i in range(0, len(probe_corpus), BATCH):
                    dedupe_batch(es, settings.read_alias, _articles(probe_corpus)[i:i + BATCH])
            for _ in range(3):
                articles = _articles(probe_corpus)
                t0 = time.perf_counter()
                for i in range(0, len(articles), BATCH):
                    near += dedupe_batch(es, settings.read_alias, articles[i:i + BATCH]).near_duplicates
                timings.append((time.perf_counter() - t0) / len(articles) * 1000)
            rows.append({"index_size": es.count(index=settings.read_alias)["count"],
                         "ms_per_article": statistics.median(timings),
                         "near_duplicates_found": near / 3})
    finally:
        delete_all(es, settings)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    base = Settings.from_env()
    es = connect(base)
    print("== quality (pair precision / recall over syndicated copies and same-event stories)")
    results = [quality(base, es, int(s)) for s in args.seeds.split(",")]
    for r in results:
        print("  " + "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in r.items()))
    print(f"  mean precision={statistics.mean(r['precision'] for r in results):.4f} "
          f"mean recall={statistics.mean(r['recall'] for r in results):.4f}")
    edits = Counter(e.split(":")[0] for a in build_corpus(seed=1) for e in a.edits)
    print(f"  edits in seed-1 corpus: {dict(edits)}")
    print("== cost per article as the index grows")
    rows = scale(base, es, [int(s) for s in args.sizes.split(",")], args.probes)
    for row in rows:
        print(f"  index={row['index_size']:>7}  {row['ms_per_article']:.3f} ms/article  "
              f"(near-duplicates found per pass: {row['near_duplicates_found']:.0f})")
    if len(rows) > 1:
        print(f"  ratio largest/smallest: {rows[-1]['ms_per_article'] / rows[0]['ms_per_article']:.2f}")


if __name__ == "__main__":
    main()
