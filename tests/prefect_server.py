"""A real Prefect server process, its CLI and process workers, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


class ServerFailed(RuntimeError):
    """The server did not answer /api/health in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process group; SIGKILL it if still alive after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@contextmanager
def prefect_server(workdir: Path, project_dir: Path = ROOT) -> Iterator[dict[str, str]]:
    """Start `prefect server start` on a free loopback port; yield the env that points at it."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "CEASEFIRE_PROJECT_DIR": str(project_dir)}
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _healthy(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise ServerFailed("Prefect server did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.5)
        yield env
    finally:
        stop(server)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
            return json.load(r) is True
    except OSError:
        return False


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the `prefect` CLI from the repository root against the server in `env`."""
    return subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def deploy_all(env: dict[str, str]) -> None:
    """Create the process work pool, register deploy/automations.yaml and every deployment of
    deploy/prefect.yaml, with all schedules paused: tests never run the real (public) source
    list on a timer."""
    for args in (("work-pool", "create", "ceasefire-local", "--type", "process"),
                 ("automation", "create", "--from-file", "deploy/automations.yaml"),
                 ("--no-prompt", "deploy", "--prefect-file", "deploy/prefect.yaml", "--all"),
                 ("--no-prompt", "deployment", "schedule", "pause", "--all")):
        done = prefect_cli(env, *args)
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def start_worker(env: dict[str, str], log_path: Path, *queues: str) -> subprocess.Popen:
    """A process worker for the ceasefire-local pool (in its own process group); its flow runs
    send heartbeats every 30 s, as the README tells ops to configure."""
    env = {**env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    args = [PREFECT, "worker", "start", "--pool", "ceasefire-local"]
    for queue in queues:
        args += ["--work-queue", queue]
    with log_path.open("w") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
