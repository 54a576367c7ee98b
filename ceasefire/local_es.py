"""A single-node Elasticsearch on 127.0.0.1 that the project provisions, starts and stops itself.

The distribution is Elastic's own integ-test zip from Maven Central, fetched with `mvn`.
Elasticsearch refuses to run as root, so when we are root the node runs as a dedicated
system user that this module creates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tasks.settings import Settings

LOGGER = logging.getLogger(__name__)

MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


class LocalESError(RuntimeError):
    """The local node could not be provisioned, started or stopped; the message says why."""


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What `ceasefire es status` reports."""

    running: bool
    url: str
    pid: int | None
    health: str | None
    home: Path


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the distribution, config, data and logs of the local node live."""

    home: Path
    version: str

    @property
    def dist(self) -> Path:
        return self.home / "dist" / f"elasticsearch-{self.version}"

    @property
    def node(self) -> Path:
        return self.home / "node"

    @property
    def config(self) -> Path:
        return self.node / "config"

    @property
    def data(self) -> Path:
        return self.node / "data"

    @property
    def logs(self) -> Path:
        return self.node / "logs"

    @property
    def tmp(self) -> Path:
        return self.node / "tmp"

    @property
    def pidfile(self) -> Path:
        return self.node / "es.pid"

    @property
    def state(self) -> Path:
        return self.node / "node.json"

    @property
    def launcher_log(self) -> Path:
        return self.node / "launcher.log"


def layout(settings: Settings) -> Layout:
    """The file layout for these settings."""
    return Layout(settings.home, settings.local_es_version)


# --- provisioning -----------------------------------------------------------------------------


def _fetch_zip(settings: Settings, downloads: Path) -> Path:
    """Get the distribution zip: a user-supplied file, or Maven Central via `mvn`."""
    if settings.local_es_zip:
        path = Path(settings.local_es_zip)
        if not path.is_file():
            raise LocalESError(f"CEASEFIRE_ES_ZIP={path} is not a file")
        return path
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalESError(
            "Maven (`mvn`) is needed once to fetch Elasticsearch from Maven Central. Install it "
            "(e.g. `apt-get install maven`), point CEASEFIRE_ES_ZIP at a downloaded "
            "integ-test zip, or set ELASTICSEARCH_URL to use an existing cluster."
        )
    artifact = MAVEN_ARTIFACT.format(version=settings.local_es_version)
    downloads.mkdir(parents=True, exist_ok=True)
    LOGGER.info("fetching %s with Maven", artifact)
    # --strict-checksums: a corrupted download fails instead of being unpacked.
    cmd = [mvn, "-q", "-B", "--strict-checksums", "dependency:copy",
           f"-Dartifact={artifact}", f"-DoutputDirectory={downloads}"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    target = downloads / f"elasticsearch-{settings.local_es_version}.zip"
    if result.returncode != 0 or not target.is_file():
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise LocalESError(f"`{' '.join(cmd)}` failed:\n" + "\n".join(tail))
    return target


def _unzip_with_modes(archive: Path, dest: Path) -> None:
    """Unpack a zip keeping Unix permission bits (zipfile drops them), so bin/ stays executable."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            if not target.resolve().is_relative_to(dest.resolve()):
                raise LocalESError(f"unsafe path in {archive}: {info.filename}")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def ensure_distribution(settings: Settings) -> Path:
    """Make sure the Elasticsearch distribution is unpacked in the cache; return its path."""
    lay = layout(settings)
    if (lay.dist / "bin" / "elasticsearch").is_file():
        return lay.dist
    archive = _fetch_zip(settings, settings.home / "downloads")
    lay.dist.parent.mkdir(parents=True, exist_ok=True)
    # Unpack beside the target and rename, so an interrupted unpack never looks complete.
    with tempfile.TemporaryDirectory(dir=lay.dist.parent) as tmp:
        _unzip_with_modes(archive, Path(tmp))
        unpacked = Path(tmp) / f"elasticsearch-{settings.local_es_version}"
        if not (unpacked / "bin" / "elasticsearch").is_file():
            raise LocalESError(f"{archive} does not hold elasticsearch-{settings.local_es_version}/")
        unpacked.rename(lay.dist)
    for path in [settings.home, lay.dist.parent, *lay.dist.rglob("*"), lay.dist]:
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    return lay.dist


def _node_user(settings: Settings) -> pwd.struct_passwd:
    """The account that runs the node: ourselves, or a dedicated system user when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(settings.local_user)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--system", "--no-create-home", "--home-dir", str(settings.home / "node"),
           "--shell", "/usr/sbin/nologin", settings.local_user]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LocalESError(
            f"Elasticsearch refuses to run as root and creating user {settings.local_user!r} "
            f"failed: {result.stderr.strip()}. Create it, set CEASEFIRE_ES_USER, or run as "
            "a normal user."
        )
    LOGGER.info("created system user %s to run Elasticsearch", settings.local_user)
    return pwd.getpwnam(settings.local_user)


def _java_home() -> Path:
    """The JDK the node runs on: ES_JAVA_HOME, JAVA_HOME, or the `java` on PATH."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            return Path(os.environ[var])
    java = shutil.which("java")
    if not java:
        raise LocalESError("Java 17 or newer is needed to run Elasticsearch; set ES_JAVA_HOME.")
    return Path(java).resolve().parent.parent


def render_config(settings: Settings) -> str:
    """elasticsearch.yml for a private single node on loopback."""
    lay = layout(settings)
    return "\n".join([
        "cluster.name: ceasefire-local",
        "node.name: ceasefire-local-1",
        "network.host: 127.0.0.1",
        f"http.port: {settings.local_port}",
        f"transport.port: {settings.local_port + 100}",
        "discovery.type: single-node",
        # Loopback only, single user: TLS and auth would only get in the way of a dev node.
        "xpack.security.enabled: false",
        "action.destructive_requires_name: true",
        # Keep a small dev box writable when its disk fills up past the default watermarks.
        "cluster.routing.allocation.disk.threshold_enabled: false",
        f"path.data: {lay.data}",
        f"path.logs: {lay.logs}",
        "",
    ])


def _write_config(settings: Settings, user: pwd.struct_passwd) -> None:
    """Write the node's config directory and hand the node directory to its user."""
    lay = layout(settings)
    for d in (lay.config, lay.data, lay.logs, lay.tmp):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copy2(lay.dist / "config" / name, lay.config / name)
    (lay.config / "jvm.options.d").mkdir(exist_ok=True)
    (lay.config / "elasticsearch.yml").write_text(render_config(settings))
    for path in [lay.node, *lay.node.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


# --- lifecycle --------------------------------------------------------------------------------


def _health(url: str, timeout: float = 2.0) -> str | None:
    """Cluster health colour, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.load(resp).get("status")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(lay: Layout) -> int | None:
    try:
        pid = int(lay.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def node_pids(settings: Settings) -> list[int]:
    """PIDs of every process running our distribution (found via /proc, pid file or not)."""
    marker = f"-Des.path.home={layout(settings).dist}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline.split(b"\0"):
            pids.append(int(proc.name))
    return pids


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status(settings: Settings, timeout: float = 2.0) -> NodeStatus:
    """Whether the local node runs, where, and its health (asked with `timeout` seconds)."""
    lay = layout(settings)
    url = settings.local_url
    pid = _read_pid(lay)
    health = _health(url, timeout) if pid else None
    return NodeStatus(bool(pid and health), url, pid, health, settings.home)


def _log_tail(lay: Layout, lines: int = 25) -> str:
    texts = []
    for log in (lay.launcher_log, lay.logs / "ceasefire-local.log"):
        if log.is_file():
            texts.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(texts)


def start(settings: Settings, timeout: float = START_TIMEOUT_S) -> NodeStatus:
    """Provision (first use) and start the node; wait for yellow/green. Idempotent."""
    if settings.es_url:
        raise LocalESError(f"ELASTICSEARCH_URL is set ({settings.es_url}): not starting a local node")
    current = status(settings)
    if current.running:
        return current
    lay = layout(settings)
    if current.pid:  # a process exists but does not answer: let it finish starting, or fail
        return _wait_healthy(settings, current.pid, timeout)
    if _port_in_use(settings.local_port):
        raise LocalESError(
            f"port {settings.local_port} on 127.0.0.1 is taken by another program; "
            "set CEASEFIRE_ES_PORT to a free port (or ELASTICSEARCH_URL to use that cluster)"
        )
    dist = ensure_distribution(settings)
    user = _node_user(settings)
    _write_config(settings, user)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(lay.node),
        "ES_JAVA_HOME": str(_java_home()),
        "ES_PATH_CONF": str(lay.config),
        "ES_TMPDIR": str(lay.tmp),
        "ES_JAVA_OPTS": f"-Xms{settings.local_heap} -Xmx{settings.local_heap}",
    }
    lay.pidfile.unlink(missing_ok=True)
    with lay.launcher_log.open("wb") as log:
        # `-d` daemonises: the launcher returns once the node has started (or failed to).
        result = subprocess.run(
            [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(lay.pidfile)],
            env=env, cwd=lay.node, stdout=log, stderr=subprocess.STDOUT, check=False,
            user=user.pw_uid if os.geteuid() == 0 else None,
            group=user.pw_gid if os.geteuid() == 0 else None,
            extra_groups=[] if os.geteuid() == 0 else None,
            timeout=timeout,
        )
    pid = _read_pid(lay)
    if result.returncode != 0 or pid is None:
        raise LocalESError(f"Elasticsearch failed to start (exit {result.returncode}).\n"
                           + _log_tail(lay))
    node = _wait_healthy(settings, pid, timeout)
    lay.state.write_text(json.dumps({"url": node.url, "pid": pid,
                                     "version": settings.local_es_version}))
    return node


def _wait_healthy(settings: Settings, pid: int, timeout: float) -> NodeStatus:
    lay = layout(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            raise LocalESError("Elasticsearch exited while starting.\n" + _log_tail(lay))
        health = _health(settings.local_url)
        if health in ("green", "yellow"):
            return NodeStatus(True, settings.local_url, pid, health, settings.home)
        time.sleep(0.5)
    raise LocalESError(f"Elasticsearch did not become healthy in {timeout:.0f}s.\n" + _log_tail(lay))


def stop(settings: Settings, timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """Stop every process of our node (SIGTERM, then SIGKILL after `timeout`); return their PIDs."""
    lay = layout(settings)
    pids = sorted(set(node_pids(settings)) | ({p} if (p := _read_pid(lay)) else set()))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _pid_alive(pid):
            LOGGER.warning("Elasticsearch pid %s ignored SIGTERM for %ss; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
    lay.pidfile.unlink(missing_ok=True)
    lay.state.unlink(missing_ok=True)
    return pids
