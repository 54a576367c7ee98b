"""Fan-out on Dask: shards are cut lazily and exactly once, and a Dask-backed backfill on a
LocalCluster with 2 workers, each article written by two workers, gives exactly the index of
the same backfill without Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.backfill import backfill
from flows.fanout import Shard, cut_shards
from tasks.models import Skip
from tasks.store.client import connect
from tasks.store.setup import delete_all
from testkit.syndication import build_corpus, load_stories


@given(st.lists(st.one_of(st.sampled_from(["a.txt", "b.jsonl", "c.warc.gz", "d.arc", "e.html"]),
                          st.just("skip")), max_size=40),
       st.lists(st.sampled_from(["x.warc", "y.bin"]), max_size=3), st.integers(1, 7))
def test_every_file_lands_in_exactly_one_shard(names, archives, per_shard):
    entries = [Skip(f"s{i}", "unsupported-file-type") if n == "skip" else Path(f"/in/{i}-{n}")
               for i, n in enumerate(names)]
    out = list(cut_shards(entries, archives, per_shard))
    shards = [o for o in out if isinstance(o, Shard)]
    assert [o for o in out if isinstance(o, Skip)] == [e for e in entries if isinstance(e, Skip)]
    files = [p for s in shards for p in s.paths]
    wanted = [str(e) for e in entries if isinstance(e, Path)] + archives
    assert sorted(files) == sorted(wanted)
    assert [s.number for s in shards] == list(range(len(shards)))
    for s in shards:
        assert 1 <= len(s.paths) <= per_shard
        if any(p.endswith((".warc", ".warc.gz", ".arc", ".arc.gz")) for p in s.paths) or s.kind == "archives":
            assert len(s.paths) == 1


def test_files_per_shard_must_be_positive():
    with pytest.raises(ValueError):
        list(cut_shards([Path("/a.txt")], files_per_shard=0))


def _documents(es, settings) -> dict[str, tuple]:
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=5000,
                     _source=["cluster_id", "duplicate_of", "doc_hash"])["hits"]["hits"]
    return {h["_id"]: (h["_source"]["cluster_id"], h["_source"].get("duplicate_of"),
                       h["_source"]["doc_hash"]) for h in hits}


@pytest.mark.slow
def test_a_dask_backfill_gives_exactly_the_index_of_a_plain_one(prefect_api, settings, es, tmp_path,
                                                                  monkeypatch):
    corpus = build_corpus(seed=5, max_copies=3, original_missing=0.2, stories=load_stories()[:14])
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(0, len(corpus), 3):  # a few articles per file, copies spread over files
        lines = [json.dumps(a.record()) for a in corpus[i:i + 3]]
        (folder / f"part-{i:03d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = backfill(paths=[str(folder)], batch_size=4)
    expected = _documents(es, settings)
    assert plain.indexed == len(corpus) == len(expected)

    other = settings.replace(index_prefix=settings.index_prefix + "-dask")
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", other.index_prefix)
    monkeypatch.setenv("CEASEFIRE_DASK_WORKERS", "2")
    try:
        # The folder twice: every file lands in two shards, so two workers write each article.
        fanned = backfill(paths=[str(folder)] * 2, batch_size=4, dask=True, files_per_shard=2)
        assert fanned.inputs == 2 * plain.inputs and fanned.balanced
        assert fanned.indexed == 2 * plain.indexed and not fanned.dead_letters and not fanned.skips
        assert _documents(connect(other), other) == expected
    finally:
        delete_all(connect(other), other)
