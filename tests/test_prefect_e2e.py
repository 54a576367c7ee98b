"""End to end through a real Prefect server process: register the deployments of
deploy/prefect.yaml, run one through a process worker, find the articles in Elasticsearch."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

PREFECT = str(Path(sys.executable).parent / "prefect")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def prefect_server(tmp_path, settings):
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "CEASEFIRE_PROJECT_DIR": str(ROOT)}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    if json.load(r) is True:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("Prefect server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield env
    finally:
        _stop(server)


def _prefect(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_deployment_runs_through_a_worker(prefect_server, es, settings, tmp_path):
    env = prefect_server
    created = _prefect(env, "work-pool", "create", "ceasefire-local", "--type", "process")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = _prefect(env, "--no-prompt", "deploy", "--prefect-file", "deploy/prefect.yaml", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    listed = _prefect(env, "deployment", "ls")
    for name in ("ingest-sources/hourly", "ingest-files/files", "reindex/on-demand"):
        assert name in listed.stdout
    schedule = _prefect(env, "deployment", "inspect", "ingest-sources/hourly")
    assert "0 * * * *" in schedule.stdout and "UTC" in schedule.stdout
    # The test must never run the real source list (public hosts): pause the hourly schedule,
    # and let the worker poll only the on-demand queue.
    paused = _prefect(env, "--no-prompt", "deployment", "schedule", "pause", "--all")
    assert paused.returncode == 0, paused.stdout + paused.stderr

    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "ceasefire-local",
                               "--work-queue", "on-demand"], env=env,
                              stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        run = _prefect(env, "deployment", "run", "ingest-files/files",
                       "--param", f'paths=["{EXAMPLES}"]', "--watch", timeout=300)
    finally:
        _stop(worker)
    assert run.returncode == 0 and "Completed" in run.stdout, \
        run.stdout[-2000:] + (tmp_path / "worker.log").read_text()[-3000:]
    es.indices.refresh(index=settings.read_alias)
    assert es.count(index=settings.read_alias)["count"] == 2
