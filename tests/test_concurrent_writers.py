"""Many writers, exact clusters: 2-4 writers ingesting overlapping shards of the dedup corpus
at the same time, in random interleavings, end with the clusters of one serial writer, one
document per article, and every input accounted for."""

from __future__ import annotations

import copy
import random
import threading
import time

import pytest

from tasks.dedupe.clusters import dedupe_batch
from tasks.models import Article
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices
from tasks.store.write import write_batch
from testkit.clusters import cluster_snapshot
from testkit.syndication import (
    build_corpus,
    load_stories,
    pair_scores,
    predicted_pairs,
    prepared_articles,
    true_pairs,
)


def _articles(corpus) -> list[Article]:
    return prepared_articles(corpus)


def _write(settings, es, batch: list[Article], pause: float = 0.0):
    """Plan the batch's clusters, then write it; `pause` widens the window in which another
    writer's copies land after the plan was made (the race settling must close)."""
    result = dedupe_batch(es, settings.read_alias, batch)
    time.sleep(pause)
    return write_batch(es, settings, batch, result.plan.relabel)


@pytest.fixture(scope="module")
def corpus():
    stories = load_stories()[:24]
    return build_corpus(seed=11, max_copies=5, original_missing=0.3, stories=stories)


@pytest.fixture(scope="module")
def serial(corpus, base_settings):
    """The clusters one writer gives, batch by batch in corpus order."""
    settings = base_settings.replace(index_prefix=f"cftest-serial-{random.randrange(10**9)}")
    es = connect(settings)
    setup_indices(es, settings)
    try:
        articles = _articles(corpus)
        for i in range(0, len(articles), 9):
            _write(settings, es, articles[i:i + 9])
        yield cluster_snapshot(es, settings.read_alias)
    finally:
        delete_all(es, settings)


def _writer(settings, shard: list[Article], rng: random.Random, start: threading.Barrier,
            report: dict, errors: list) -> None:
    try:
        es = connect(settings)
        start.wait()
        i = 0
        while i < len(shard):
            size = rng.randint(1, 6)
            batch = [copy.deepcopy(a) for a in shard[i:i + size]]
            i += size
            time.sleep(rng.random() * 0.01)
            result = _write(settings, es, batch, pause=rng.random() * 0.2)
            report["inputs"] += len(batch)
            report["indexed"] += result.indexed
            report["dead_lettered"] += result.dead_lettered
            report["settled"] += result.settled
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


@pytest.mark.parametrize("seed,writers", [(1, 2), (2, 2), (3, 3), (4, 3), (5, 4), (6, 4)])
def test_concurrent_writers_give_the_serial_clusters(corpus, serial, settings, es, seed, writers):
    setup_indices(es, settings)
    rng = random.Random(seed)
    articles = _articles(corpus)
    shards: list[list[Article]] = [[] for _ in range(writers)]
    for article in articles:  # every article to one or two writers: shards overlap
        for w in rng.sample(range(writers), k=rng.choice([1, 1, 2])):
            shards[w].append(article)
    for shard in shards:
        rng.shuffle(shard)
    reports = [{"inputs": 0, "indexed": 0, "dead_lettered": 0, "settled": 0} for _ in range(writers)]
    errors: list[BaseException] = []
    start = threading.Barrier(writers)
    threads = [threading.Thread(target=_writer,
                                args=(settings, shards[w], random.Random(seed * 100 + w), start, reports[w],
                                      errors))
               for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for shard, report in zip(shards, reports, strict=True):
        assert report["inputs"] == len(shard) == report["indexed"] + report["dead_lettered"]
    got = cluster_snapshot(es, settings.read_alias)
    assert len(got) == len(articles)  # one document per article, none twice
    assert got == serial
    truth = true_pairs(corpus)
    url_of = {a.id: a.url for a in articles}
    precision, recall = pair_scores(truth, predicted_pairs({url_of[i]: c for i, (c, _) in got.items()}))
    assert precision == 1.0 and recall > 0.9


def test_two_writers_that_planned_before_either_wrote_still_join_their_copies(corpus, settings, es):
    """The race made certain: both writers plan (neither sees the other's copy), then both
    write. Without settling each copy would stay the representative of its own cluster."""
    setup_indices(es, settings)
    story = corpus[0].story
    copies = _articles([c for c in corpus if c.story == story])[:3]
    assert len(copies) >= 2
    planned = threading.Barrier(len(copies))
    results, errors = [], []

    def writer(article: Article) -> None:
        try:
            client = connect(settings)
            plan = dedupe_batch(client, settings.read_alias, [article])
            planned.wait()
            results.append(write_batch(client, settings, [article], plan.plan.relabel))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(a,)) for a in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    earliest = min(copies, key=lambda a: (a.published_at, a.id))
    assert {c for c, _ in cluster_snapshot(es, settings.read_alias).values()} == {earliest.id}
    assert sum(r.settled for r in results) >= len(copies) - 1
