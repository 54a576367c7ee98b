"""A worker killed mid-run (SIGKILL to the worker and its flow-run process): the zombie
automation marks the silent run Crashed, the run is started again, and the index converges to
exactly the document set of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from flows.ingest import ingest_files
from tasks.store.client import connect
from tasks.store.setup import delete_all
from testkit.syndication import build_corpus, load_stories
from tests.prefect_server import deploy_all, prefect_cli, prefect_server, start_worker, stop

BATCH = 4


def _write_corpus(folder) -> int:
    """Syndicated copies of 20 stories as JSONL files (so clusters span batches)."""
    records = [a.record() for a in build_corpus(seed=11, stories=load_stories()[:20])]
    folder.mkdir()
    for n in range(0, len(records), 10):
        chunk = records[n:n + 10]
        (folder / f"part-{n // 10:02d}.jsonl").write_text("\n".join(json.dumps(r) for r in chunk))
    return len(records)


def _snapshot(es, alias: str) -> dict[str, tuple]:
    """What a document is, minus when it was written."""
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, sort=["_doc"])["hits"]["hits"]
    return {h["_id"]: (h["_source"]["content_hash"], h["_source"]["cluster_id"],
                       h["_source"].get("duplicate_of"), json.dumps(h["_source"]["entities"],
                                                                     sort_keys=True),
                       tuple(h["_source"].get("topics") or ()))
            for h in hits}


def _wait_for_count(es, alias: str, low: int, high: int, proc, timeout: float = 300) -> int:
    """Poll until between `low` and `high` documents are indexed (the run is mid-way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if es.indices.exists_alias(name=alias):
            count = es.count(index=alias)["count"]
            if low <= count < high:
                return count
            assert count < high, "the run finished before it could be killed"
        assert proc.poll() is None, "the worker died on its own"
        time.sleep(0.05)
    pytest.fail("the run never got going")


def _kill_everything(worker, run_id: str) -> list[int]:
    """SIGKILL the worker's process group and the flow-run process (which Prefect starts in a
    session of its own): what a lost machine does. Returns the flow-run pids killed."""
    stop(worker, sig=signal.SIGKILL)
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    killed = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
        except (OSError, ProcessLookupError):
            continue
    return killed


def _wait_until_crashed(env, run_id: str, timeout: float = 240) -> tuple[str, float]:
    """Wait for deploy/automations.yaml to mark the silent run Crashed; return the state's
    message and how long it took."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    started = time.monotonic()
    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        while time.monotonic() - started < timeout:
            state = client.read_flow_run(uuid.UUID(run_id)).state
            if state.type.value != "RUNNING":
                return f"{state.type.value}: {state.message}", time.monotonic() - started
            time.sleep(2)
    pytest.fail(f"run {run_id} still Running {timeout} s after its worker died")


@pytest.mark.slow
def test_killed_worker_then_rerun_gives_exactly_the_expected_documents(
        tmp_path, es, settings, base_settings, prefect_api, monkeypatch):
    folder = tmp_path / "corpus"
    total = _write_corpus(folder)
    # The reference: one uninterrupted run into its own indices.
    reference_prefix = f"{settings.index_prefix}-ref"
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", reference_prefix)
    reference = ingest_files(paths=[str(folder)], batch_size=BATCH)
    ref_settings = settings.replace(index_prefix=reference_prefix)
    try:
        expected = _snapshot(es, ref_settings.read_alias)
    finally:
        delete_all(connect(ref_settings), ref_settings)
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", settings.index_prefix)
    assert reference.balanced and len(expected) == reference.indexed == total

    with prefect_server(tmp_path) as env:
        deploy_all(env)
        params = ("--param", f'paths=["{folder}"]', "--param", f"batch_size={BATCH}")
        worker = start_worker(env, tmp_path / "worker-1.log", "on-demand")
        started = prefect_cli(env, "deployment", "run", "ingest-files/files", *params)
        assert started.returncode == 0, started.stdout + started.stderr
        run_id = started.stdout.split("UUID:")[1].split()[0]
        killed_at = _wait_for_count(es, settings.write_alias, BATCH, total, worker)
        assert _kill_everything(worker, run_id), "no flow-run process found to kill"
        time.sleep(2)
        left = es.count(index=settings.write_alias)["count"]
        time.sleep(3)
        assert es.count(index=settings.write_alias)["count"] == left  # nothing is still writing
        assert 0 < left < total, (killed_at, left)
        print(f"killed the run with {left} of {total} documents indexed")
        crashed, waited = _wait_until_crashed(env, run_id)
        print(f"marked crashed by the automation {waited:.0f} s after the kill: {crashed}")

        worker = start_worker(env, tmp_path / "worker-2.log", "on-demand")
        try:
            rerun = prefect_cli(env, "deployment", "run", "ingest-files/files", *params,
                                "--watch", timeout=600)
        finally:
            stop(worker)
    assert crashed.startswith("CRASHED: No heartbeat")
    assert rerun.returncode == 0 and "Completed" in rerun.stdout, \
        rerun.stdout[-2000:] + (tmp_path / "worker-2.log").read_text()[-3000:]
    got = _snapshot(es, settings.read_alias)
    assert set(got) == set(expected)  # nothing lost, nothing doubled
    assert got == expected  # same text, clusters, duplicates and entities as the clean run
    dead = es.indices.exists(index=settings.deadletter_index) and \
        es.count(index=settings.deadletter_index)["count"]
    assert not dead
