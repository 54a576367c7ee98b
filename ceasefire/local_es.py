"""A local Elasticsearch on 127.0.0.1 that the project provisions, starts and stops itself:
one node by default, or a cluster of several (`ceasefire es start --nodes 3`) to test what
replicas and a node dying do.

The distribution is Elastic's own integ-test zip from Maven Central, fetched with `mvn`.
Elasticsearch refuses to run as root, so when we are root the nodes run as a dedicated
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
from typing import Any

from ceasefire import language_analyzers
from tasks.settings import LOCAL_CLUSTER_RECORD, Settings

LOGGER = logging.getLogger(__name__)

MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


class LocalESError(RuntimeError):
    """The local node could not be provisioned, started or stopped; the message says why."""


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One local node: whether it answers, where, and the cluster's health as it sees it."""

    running: bool
    url: str
    pid: int | None
    health: str | None
    home: Path


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What `ceasefire es status` reports: every local node (one by default). Reads like the
    first node's `NodeStatus`, so single-node callers need not know about clusters."""

    nodes: tuple[NodeStatus, ...]

    @property
    def running(self) -> bool:
        return all(n.running for n in self.nodes)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def pid(self) -> int | None:
        return self.nodes[0].pid

    @property
    def health(self) -> str | None:
        """The cluster's health as the first node that answers sees it."""
        return next((n.health for n in self.nodes if n.health), None)

    @property
    def home(self) -> Path:
        return self.nodes[0].home


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the distribution, and the config, data and logs of one local node live."""

    home: Path
    version: str
    name: str = "node"  # the node's directory under home

    @property
    def dist(self) -> Path:
        return self.home / "dist" / f"elasticsearch-{self.version}"

    @property
    def node(self) -> Path:
        return self.home / self.name

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


def layout(settings: Settings, number: int = 1) -> Layout:
    """The file layout of local node `number` (from 1): `<home>/node` for the single node,
    `<home>/cluster/node-<number>` for the nodes of a cluster, so that a single node's data
    (its own one-node cluster) and a cluster's never mix."""
    name = "node" if settings.local_nodes == 1 else f"cluster/node-{number}"
    return Layout(settings.home, settings.local_es_version, name)


def layouts(settings: Settings) -> list[Layout]:
    """The layout of every node these settings run."""
    return [layout(settings, n) for n in range(1, settings.local_nodes + 1)]


def _every_layout(settings: Settings) -> list[Layout]:
    """Every node ever set up under the home, whatever the node count now says (for `stop`)."""
    found = [Layout(settings.home, settings.local_es_version)]
    for node in sorted((settings.home / "cluster").glob("node-*")):
        found.append(Layout(settings.home, settings.local_es_version, f"cluster/{node.name}"))
    return found


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


def _http_port(settings: Settings, number: int) -> int:
    return settings.local_port + number - 1


def _discovery(settings: Settings, bootstrap: bool) -> list[str]:
    """A single node discovers nobody; the nodes of a cluster find each other on loopback and,
    the first time only, elect a master among themselves (Elasticsearch warns when
    `cluster.initial_master_nodes` stays set once the cluster has formed)."""
    if settings.local_nodes == 1:
        return ["discovery.type: single-node"]
    numbers = range(1, settings.local_nodes + 1)
    seeds = ", ".join(f"127.0.0.1:{_http_port(settings, n) + 100}" for n in numbers)
    lines = [f"discovery.seed_hosts: [{seeds}]"]
    if bootstrap:
        lines.append(f"cluster.initial_master_nodes: [{', '.join(f'ceasefire-local-{n}' for n in numbers)}]")
    return lines


def render_config(settings: Settings, number: int = 1, bootstrap: bool = False) -> str:
    """elasticsearch.yml for private node `number` on loopback (alone, or one of a cluster)."""
    lay = layout(settings, number)
    return "\n".join([
        "cluster.name: ceasefire-local",
        f"node.name: ceasefire-local-{number}",
        "network.host: 127.0.0.1",
        f"http.port: {_http_port(settings, number)}",
        f"transport.port: {_http_port(settings, number) + 100}",
        *_discovery(settings, bootstrap),
        # Loopback only, single user: TLS and auth would only get in the way of a dev node.
        "xpack.security.enabled: false",
        "action.destructive_requires_name: true",
        # Keep a small dev box writable when its disk fills up past the default watermarks.
        "cluster.routing.allocation.disk.threshold_enabled: false",
        f"path.data: {lay.data}",
        f"path.logs: {lay.logs}",
        "",
    ])


def _write_config(settings: Settings, user: pwd.struct_passwd, number: int = 1,
                  bootstrap: bool = False) -> None:
    """Write node `number`'s config directory and hand the node directory to its user."""
    lay = layout(settings, number)
    for d in (lay.config, lay.data, lay.logs, lay.tmp):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copy2(lay.dist / "config" / name, lay.config / name)
    (lay.config / "jvm.options.d").mkdir(exist_ok=True)
    (lay.config / "elasticsearch.yml").write_text(render_config(settings, number, bootstrap))
    for path in [lay.node, *lay.node.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


# --- lifecycle --------------------------------------------------------------------------------


def _get_json(url: str, timeout: float = 2.0) -> Any:
    """What a GET of `url` answers, as JSON; None when nothing answers (or not with JSON)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """Cluster health as `url` sees it, or None when nothing answers (or no master is elected)."""
    doc = _get_json(f"{url}/_cluster/health", timeout)
    return doc if isinstance(doc, dict) else None


def analyzers_state(settings: Settings, node: NodeStatus) -> str:
    """The language analyzers plugin of the local node, as `es status` reports it: `loaded`,
    `installed` (in the distribution; the running node loads it at its next start) or
    `not installed`."""
    if node.running:
        plugins = _get_json(f"{node.url}/_cat/plugins?format=json&h=component")
        if isinstance(plugins, list) and {"component": language_analyzers.PLUGIN} in plugins:
            return "loaded"
    return "installed" if language_analyzers.installed(layout(settings).dist) else "not installed"


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


def status(settings: Settings, timeout: float = 2.0) -> ClusterStatus:
    """Whether every local node runs, where, and the health (asked with `timeout` seconds)."""
    nodes = []
    for number, lay in enumerate(layouts(settings), start=1):
        url = f"http://127.0.0.1:{_http_port(settings, number)}"
        pid = _read_pid(lay)
        doc = _health(url, timeout) if pid else None
        health = doc.get("status") if doc else None
        nodes.append(NodeStatus(bool(pid and health), url, pid, health, settings.home))
    return ClusterStatus(tuple(nodes))


def _log_tail(lay: Layout, lines: int = 25) -> str:
    texts = []
    for log in (lay.launcher_log, lay.logs / "ceasefire-local.log"):
        if log.is_file():
            texts.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(texts)


def _has_data(lay: Layout) -> bool:
    return lay.data.is_dir() and any(lay.data.iterdir())


def start(settings: Settings, timeout: float = START_TIMEOUT_S) -> ClusterStatus:
    """Provision (first use) and start the local node, or every node of the local cluster
    (`settings.local_nodes`), and wait for yellow/green with all of them joined. Idempotent:
    only nodes that are not running are started, so it also brings back a killed node."""
    if settings.es_url:
        raise LocalESError(f"ELASTICSEARCH_URL is set ({settings.es_url}): not starting a local node")
    current = status(settings)
    if current.running:
        return current
    others = set(node_pids(settings)) - {n.pid for n in current.nodes if n.pid}
    if others:
        raise LocalESError(
            f"Elasticsearch processes {sorted(others)} of {settings.home} are not the "
            f"{settings.local_nodes} node(s) asked for (another node count?): stop them first "
            "with `ceasefire es stop`")
    # A node whose process exists but does not answer is left to finish starting (or fail).
    down = [n for n, node in enumerate(current.nodes, start=1) if not node.pid]
    for number in down:
        if _port_in_use(_http_port(settings, number)):
            raise LocalESError(
                f"port {_http_port(settings, number)} on 127.0.0.1 is taken by another program; "
                "set CEASEFIRE_ES_PORT to a free port (or ELASTICSEARCH_URL to use that cluster)"
            )
    if down:
        dist = ensure_distribution(settings)
        _language_analyzers(settings, dist)
        user = _node_user(settings)
        bootstrap = not any(_has_data(lay) for lay in layouts(settings))
        for number in down:
            _write_config(settings, user, number, bootstrap)
        # All at once: a node of a cluster waits for the others before it says it started.
        _launch(settings, dist, user, down, timeout)
    cluster = _wait_healthy(settings, timeout)
    for number, node in enumerate(cluster.nodes, start=1):
        layout(settings, number).state.write_text(json.dumps(
            {"url": node.url, "pid": node.pid, "version": settings.local_es_version}))
    record = settings.home / LOCAL_CLUSTER_RECORD
    if settings.local_nodes > 1:  # every later command and flow uses all the nodes
        record.write_text(json.dumps({"nodes": settings.local_nodes, "urls": cluster.urls}))
    else:
        record.unlink(missing_ok=True)
    return cluster


def _language_analyzers(settings: Settings, dist: Path) -> None:
    """Install the language analyzers plugin (or take it out when turned off), before a start.
    Indices made with it do not open without it, so a node with data keeps it."""
    if settings.local_language_analyzers:
        try:
            language_analyzers.install(dist, settings.local_es_version, _java_home())
        except language_analyzers.PluginBuildError as exc:
            LOGGER.warning("%s\nThe node starts without stemmed sub-fields.", exc)
    elif language_analyzers.installed(dist):
        if any(_has_data(lay) for lay in layouts(settings)):
            LOGGER.warning("CEASEFIRE_ES_LANGUAGE_ANALYZERS=0 ignored: the node's indices may use "
                           "the language analyzers; it keeps them until its data is removed")
        else:
            language_analyzers.remove(dist)


def _launch(settings: Settings, dist: Path, user: pwd.struct_passwd, numbers: list[int],
            timeout: float) -> None:
    """Start the launchers of these nodes side by side; each daemonises once its node runs."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ES_JAVA_HOME": str(_java_home()),
        "ES_JAVA_OPTS": f"-Xms{settings.local_heap} -Xmx{settings.local_heap}",
    }
    as_user = os.geteuid() == 0
    launched: list[tuple[Layout, subprocess.Popen[bytes]]] = []
    for number in numbers:
        lay = layout(settings, number)
        lay.pidfile.unlink(missing_ok=True)
        with lay.launcher_log.open("wb") as log:
            # `-d` daemonises: the launcher returns once the node has started (or failed to).
            proc = subprocess.Popen(
                [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(lay.pidfile)],
                env={**env, "HOME": str(lay.node), "ES_PATH_CONF": str(lay.config),
                     "ES_TMPDIR": str(lay.tmp)},
                cwd=lay.node, stdout=log, stderr=subprocess.STDOUT,
                user=user.pw_uid if as_user else None, group=user.pw_gid if as_user else None,
                extra_groups=[] if as_user else None,
            )
        launched.append((lay, proc))
    deadline = time.monotonic() + timeout
    for lay, proc in launched:
        try:
            code = proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise LocalESError(f"Elasticsearch did not start in {timeout:.0f}s.\n" + _log_tail(lay)) from None
        if code != 0 or _read_pid(lay) is None:
            raise LocalESError(f"Elasticsearch failed to start (exit {code}).\n" + _log_tail(lay))


def _wait_healthy(settings: Settings, timeout: float) -> ClusterStatus:
    """Wait until every node answers and the cluster, yellow or green, counts all of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for number, lay in enumerate(layouts(settings), start=1):
            if _read_pid(lay) is None:
                raise LocalESError(f"Elasticsearch node {number} exited while starting.\n"
                                   + _log_tail(lay))
        cluster = status(settings)
        joined = _health(cluster.url) or {}
        if cluster.running and cluster.health in ("green", "yellow") and \
                joined.get("number_of_nodes", 0) >= settings.local_nodes:
            return cluster
        time.sleep(0.5)
    raise LocalESError(f"Elasticsearch did not become healthy in {timeout:.0f}s.\n"
                       + _log_tail(layout(settings)))


def stop(settings: Settings, timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """Stop every process of our nodes, however many (SIGTERM, then SIGKILL after `timeout`);
    return their PIDs."""
    lays = _every_layout(settings)
    pids = sorted(set(node_pids(settings)) | {p for lay in lays if (p := _read_pid(lay))})
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
    for lay in lays:
        lay.pidfile.unlink(missing_ok=True)
        lay.state.unlink(missing_ok=True)
    (settings.home / LOCAL_CLUSTER_RECORD).unlink(missing_ok=True)
    return pids
