"""What settling clusters costs a writer, and how the write path scales with concurrent
writers (no NER: the clustering and indexing part of the pipeline only).

    .venv/bin/python -m benchmarks.writers_bench [--seeds 4] [--batch 50] [--writers 1,2,4]

Part 1 writes the labelled dedup corpus (several seeds, so there are clusters) batch by batch
with one writer and times, per batch, the write (bulk index, dead letters, relabels, healing)
and the settling that follows it; a serial writer's settling moves nothing, so its time is
the overhead many-writer safety adds. Part 2 writes the same articles with 1, 2 and 4
threads on disjoint shards, interleaved and repeated, and checks every run ends with the
clusters of the serial run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

from tasks.dedupe.clusters import dedupe_batch, heal_clusters, relabel_clusters
from tasks.dedupe.settle import settle_clusters
from tasks.models import Article
from tasks.prepare import prepare_articles
from tasks.settings import Settings
from tasks.store.bulk import index_articles
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices
from tasks.store.write import write_batch
from testkit.syndication import build_corpus


def corpus_articles(seeds: int) -> list[Article]:
    labelled = [a for seed in range(seeds) for a in build_corpus(seed=seed, max_copies=5)]
    articles, _ = prepare_articles([
        Article(title=c.title, body=c.body, url=f"{c.url}?s={i}", source=c.source,
                published_at=c.published_at, origin=c.url) for i, c in enumerate(labelled)])
    return articles


def fresh(prefix: str) -> tuple[Settings, object]:
    settings = Settings.from_env().replace(index_prefix=prefix)
    es = connect(settings)
    setup_indices(es, settings)
    return settings, es


def clusters(es, settings) -> dict[str, str]:
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=10000, _source=["cluster_id"])["hits"]["hits"]
    return {h["_id"]: h["_source"]["cluster_id"] for h in hits}


def serial_costs(articles: list[Article], batch: int) -> tuple[list[float], list[float], dict[str, str]]:
    settings, es = fresh(f"bench-wr-{uuid.uuid4().hex[:8]}")
    write_s, settle_s = [], []
    try:
        for i in range(0, len(articles), batch):
            chunk = articles[i:i + batch]
            plan = dedupe_batch(es, settings.read_alias, chunk).plan
            t0 = time.perf_counter()
            result = index_articles(es, settings.write_alias, chunk)
            relabel_clusters(es, settings.write_alias, plan.relabel)
            heal_clusters(es, settings.write_alias, [r.article_id for r in result.rejections])
            t1 = time.perf_counter()
            moved = settle_clusters(es, settings.write_alias, [a.id for a in chunk],
                                    set(plan.relabel.values()))
            t2 = time.perf_counter()
            assert moved == 0, "a lone writer's settling should move nothing"
            write_s.append(t1 - t0)
            settle_s.append(t2 - t1)
        return write_s, settle_s, clusters(es, settings)
    finally:
        delete_all(es, settings)


def threaded(articles: list[Article], writers: int, batch: int) -> tuple[float, dict[str, str]]:
    settings, es = fresh(f"bench-wr-{uuid.uuid4().hex[:8]}")
    errors: list[BaseException] = []

    def work(shard: list[Article]) -> None:
        try:
            client = connect(settings)
            for i in range(0, len(shard), batch):
                chunk = shard[i:i + batch]
                plan = dedupe_batch(client, settings.read_alias, chunk).plan
                write_batch(client, settings, chunk, plan.relabel)
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(articles[w::writers],)) for w in range(writers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        return len(articles) / elapsed, clusters(es, settings)
    finally:
        delete_all(es, settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--writers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    articles = corpus_articles(args.seeds)
    print(f"{len(articles)} articles (dedup corpus, {args.seeds} seeds), batches of {args.batch}")
    write_s, settle_s, serial = serial_costs(articles, args.batch)
    print(f"serial writer, per batch: write {statistics.median(write_s) * 1000:.0f} ms, "
          f"settle {statistics.median(settle_s) * 1000:.0f} ms (median of {len(write_s)}); settling "
          f"= {sum(settle_s) / (sum(write_s) + sum(settle_s)):.0%} of the write step")
    counts = [int(w) for w in args.writers.split(",")]
    rates: dict[int, list[float]] = {w: [] for w in counts}
    for round_ in range(args.rounds):
        for w in counts if round_ % 2 == 0 else counts[::-1]:
            rate, got = threaded(articles, w, args.batch)
            same = got == serial
            rates[w].append(rate)
            print(f"round {round_ + 1}: {w} writer(s): {rate:6.1f} articles/s, clusters "
                  f"{'identical to' if same else 'DIFFERENT from'} the serial run", flush=True)
            if not same:
                raise SystemExit("clusters differ from the serial run")
    one = statistics.median(rates[counts[0]])
    for w in counts:
        print(f"median {w} writer(s): {statistics.median(rates[w]):6.1f} articles/s "
              f"= {statistics.median(rates[w]) / one:.2f} x {counts[0]}")


if __name__ == "__main__":
    main()
