"""A real three-node cluster (`ceasefire es start --nodes 3`): the indices get a replica, the
client is given every node, and a node killed with SIGKILL in the middle of an ingest costs
nothing: the run completes, balances with no dead letter, and the index equals a fault-free
run's, id for id and field for field.

The cluster has its own home and ports (never the shared node on 9200) and is stopped at the
end. Select with `-m multinode`; it takes a few minutes on a busy two-core box, most of it
starting Java.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from ceasefire import local_es
from flows.ingest import ingest_files
from tasks import progress
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.reindex import reindex
from tasks.store.setup import setup_indices
from testkit.private_node import cached_zip, private_node
from testkit.syndication import build_corpus

pytestmark = [
    pytest.mark.multinode,
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ELASTICSEARCH_URL")),
                       reason="using an external cluster; no local nodes to start or kill"),
]

NODES = 3
BATCH = 6  # many small batches: the kill lands with most of the run still to write
VOLATILE = ("ingested_at", "updated_at", "fetched_at", "coverage_date")  # when we wrote, not what


def _free_base(rng: random.Random) -> int:
    """An HTTP port base with NODES free HTTP ports and their transport ports (+100)."""
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        ports = [base + i + offset for i in range(NODES) for offset in (0, 100)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Settings]:
    """Three local nodes from a private home; stopped (and the home removed) at the end."""
    shared = Settings.from_env()
    if cached_zip(shared) is None:
        pytest.skip("distribution zip not cached")
    with private_node(shared, local_port=_free_base(random.Random()), local_nodes=NODES) as settings:
        yield settings


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Syndicated copies of the dedup corpus's stories as JSONL: clusters to relabel."""
    path = tmp_path_factory.mktemp("multinode") / "articles.jsonl"
    records = [a.record() for a in build_corpus(seed=12, max_copies=1)]  # 83: 49 stories, 34 copies
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _env(monkeypatch: pytest.MonkeyPatch, cluster: Settings, prefix: str) -> Settings:
    """The process environment a flow sees: the cluster's home and port only; the node count
    comes from what `es start` recorded there."""
    for var in ("ELASTICSEARCH_URL", "CEASEFIRE_ES_NODES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CEASEFIRE_HOME", str(cluster.home))
    monkeypatch.setenv("CEASEFIRE_ES_PORT", str(cluster.local_port))
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", prefix)
    return Settings.from_env()


def _snapshot(es: Elasticsearch, settings: Settings) -> dict[str, str]:
    """id -> hash of everything stored but when it was written."""
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=10_000, sort=["_doc"])["hits"]["hits"]
    return {h["_id"]: hashlib.sha256(json.dumps(
        {k: v for k, v in h["_source"].items() if k not in VOLATILE}, sort_keys=True).encode()
    ).hexdigest() for h in hits}


def _replicas(es: Elasticsearch, index: str) -> tuple[str, list[dict[str, Any]]]:
    setting = es.indices.get_settings(index=index, name="index.number_of_replicas")
    (only,) = setting.values()
    return only["settings"]["index"]["number_of_replicas"], es.cat.shards(index=index, format="json").body


@pytest.fixture(scope="module")
def clean_run(cluster: Settings, corpus: Path, prefect_api) -> tuple[RunReport, dict[str, str]]:
    """The fault-free ingest of the corpus into a fresh index of the same cluster."""
    with pytest.MonkeyPatch.context() as mp:
        settings = _env(mp, cluster, "cfmn-clean")
        assert settings.elasticsearch_urls == cluster.local_urls  # every node, without being told
        report = ingest_files(paths=[str(corpus)], batch_size=BATCH)
        with connect(settings) as es:
            return report, _snapshot(es, settings)


def test_indices_get_a_replica_on_the_cluster(cluster, clean_run, monkeypatch):
    report, snapshot = clean_run
    assert report.balanced and report.dead_lettered == 0 and len(snapshot) == report.created > 50
    settings = _env(monkeypatch, cluster, "cfmn-clean")
    with connect(settings) as es:
        health = es.cluster.health(wait_for_status="green", timeout="60s")
        assert health["number_of_nodes"] == NODES
        for index in (settings.articles_index, settings.state_index, settings.deadletter_index):
            replicas, shards = _replicas(es, index)
            assert replicas == "1", index
            assert sorted(s["prirep"] for s in shards if s["state"] == "STARTED") == ["p", "r"]
            assert len({s["node"] for s in shards}) == 2  # never both copies on one node
        moved = reindex(es, settings)  # a reindex target keeps the replica
        assert _replicas(es, moved.target)[0] == "1"
        assert _snapshot(es, settings) == snapshot


def _primary_node(es: Elasticsearch, index: str) -> str:
    shards = es.cat.shards(index=index, format="json").body
    (name,) = [s["node"] for s in shards if s["prirep"] == "p" and s["state"] == "STARTED"]
    return str(name)


def _victim(es: Elasticsearch, index: str, role: str) -> int:
    """The number of the node to kill, one role at a time: the node holding the articles
    primary but not the master, or the master not holding it. When the roles fall on one
    node, the primary is failed over to its replica (a reroute `cancel`) first."""
    master = es.cat.master(format="json").body[0]["node"]
    if (_primary_node(es, index) == master) == (role == "primary"):
        es.cluster.reroute(metric="none", commands=[{"cancel": {
            "index": index, "shard": 0, "node": _primary_node(es, index), "allow_primary": True}}])
        es.cluster.health(index=index, wait_for_status="green", timeout="60s")
    name = _primary_node(es, index) if role == "primary" else master
    assert (name == master) == (role == "master")
    return int(name.rsplit("-", 1)[1])


def _kill_when(done_at_least: int, pid: int) -> tuple[progress.Listener, threading.Thread, list[float]]:
    """A progress listener that wakes a killer thread once `done_at_least` inputs are
    written; the thread SIGKILLs `pid` a moment later, while the next batch is in flight."""
    reached = threading.Event()
    killed_at: list[float] = []

    def listen(stage: str, done: int, total: int) -> None:
        if stage == "enrich, cluster, index" and done >= done_at_least:
            reached.set()

    def kill() -> None:
        if reached.wait(300):
            time.sleep(random.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

    return listen, threading.Thread(target=kill, daemon=True), killed_at


@pytest.mark.parametrize("role", ["primary", "master"])
def test_a_node_killed_mid_ingest_changes_nothing(role, cluster, corpus, clean_run, monkeypatch,
                                                  caplog):
    clean, clean_snapshot = clean_run
    caplog.set_level(logging.WARNING, logger="elastic_transport.node_pool")
    local_es.start(cluster)  # brings back a node an earlier case killed
    settings = _env(monkeypatch, cluster, f"cfmn-{role}")
    with connect(settings) as es:
        es.cluster.health(wait_for_status="green", timeout="120s")
        setup_indices(es, settings)  # made now, so we know where its primary lives
        es.cluster.health(index=settings.articles_index, wait_for_status="green", timeout="60s")
        victim = _victim(es, settings.articles_index, role)
        node = local_es.status(cluster).nodes[victim - 1]
        pid = node.pid
        assert pid
        listen, killer, killed_at = _kill_when(clean.inputs // 3, pid)
        killer.start()
        started = time.monotonic()
        with progress.listening(listen):
            report = ingest_files(paths=[str(corpus)], batch_size=BATCH)
        killer.join(1)
        assert killed_at and started < killed_at[0] < time.monotonic()  # died during the run
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert es.cluster.health()["number_of_nodes"] == NODES - 1
        failed_over = [r for r in caplog.records if node.url in r.getMessage()]
        assert failed_over  # the run's client met the dead node and went to the others

        assert report.balanced and report.dead_lettered == 0 and not report.dead_letters
        assert (report.inputs, report.created, report.updated, report.unchanged) == \
            (clean.inputs, clean.created, clean.updated, clean.unchanged)
        assert dict(report.skipped) == dict(clean.skipped)
        assert es.count(index=settings.deadletter_index)["count"] == 0
        assert _snapshot(es, settings) == clean_snapshot
