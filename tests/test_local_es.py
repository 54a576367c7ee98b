"""The project's own Elasticsearch node: provisioned, private, bounded, and stopped cleanly."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from ceasefire import local_es
from tasks.store.client import connect
from tests.prefect_server import free_port

pytestmark = pytest.mark.skipif(bool(os.environ.get("ELASTICSEARCH_URL")),
                                reason="using an external cluster; no local node to inspect")


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_running_node_is_private_bounded_and_not_root(base_settings):
    node = local_es.status(base_settings)
    assert node.running and node.health in ("green", "yellow")
    es = connect(base_settings)
    info = es.nodes.info(node_id="_local", metric=["jvm", "http"])["nodes"]
    (only,) = info.values()
    assert only["http"]["publish_address"].startswith("127.0.0.1:")
    assert only["jvm"]["mem"]["heap_max_in_bytes"] <= 1024**3
    assert only["version"] == base_settings.local_es_version
    if os.geteuid() == 0:
        assert _uid_of(node.pid) != 0  # Elasticsearch refuses root: a dedicated user runs it


def test_start_is_idempotent(base_settings):
    before = local_es.status(base_settings)
    again = local_es.start(base_settings)
    assert again.pid == before.pid


def test_config_binds_loopback_single_node(base_settings):
    config = local_es.render_config(base_settings)
    assert "network.host: 127.0.0.1" in config
    assert "discovery.type: single-node" in config
    assert f"http.port: {base_settings.local_port}" in config


def test_config_of_a_cluster_node(base_settings, tmp_path):
    """Each node of `es start --nodes 3` has its ports and directory; the cluster forms on
    loopback, and the masters are named only when it first forms."""
    settings = base_settings.replace(home=tmp_path, local_port=19200, local_nodes=3)
    config = local_es.render_config(settings, 2, bootstrap=True)
    for line in ("node.name: ceasefire-local-2", "http.port: 19201", "transport.port: 19301",
                 "discovery.seed_hosts: [127.0.0.1:19300, 127.0.0.1:19301, 127.0.0.1:19302]",
                 "cluster.initial_master_nodes: [ceasefire-local-1, ceasefire-local-2, ceasefire-local-3]",
                 f"path.data: {tmp_path / 'cluster' / 'node-2' / 'data'}"):
        assert line in config.splitlines()
    assert "single-node" not in config
    assert "initial_master_nodes" not in local_es.render_config(settings, 2)
    assert [lay.node for lay in local_es.layouts(settings)] == \
        [tmp_path / "cluster" / f"node-{n}" for n in (1, 2, 3)]
    assert local_es.layout(base_settings).node == base_settings.home / "node"  # one node: as ever


@pytest.mark.slow
def test_fresh_home_start_stop_leaves_nothing_running(base_settings):
    """A second node from a fresh cache directory: provision from the zip, start, stop."""
    zip_path = base_settings.home / "downloads" / f"elasticsearch-{base_settings.local_es_version}.zip"
    if not zip_path.is_file():
        pytest.skip("distribution zip not cached")
    home = Path(tempfile.mkdtemp(prefix="ceasefire-es-test-", dir="/var/tmp"))
    home.chmod(0o755)  # the dedicated node user must reach it
    port = free_port()
    settings = base_settings.replace(home=home, local_port=port, local_es_zip=str(zip_path),
                       local_heap="256m")
    try:
        node = local_es.start(settings)
        assert node.running and node.url == f"http://127.0.0.1:{port}"
        assert local_es.node_pids(settings) == [node.pid]
        stopped = local_es.stop(settings)
        assert node.pid in stopped
        assert local_es.node_pids(settings) == []
        assert not local_es.status(settings).running
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
        assert local_es.stop(settings) == []  # stopping twice is fine
    finally:
        local_es.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


def test_port_taken_by_another_program_is_a_clear_error(base_settings, tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        settings = base_settings.replace(home=tmp_path, local_port=blocker.getsockname()[1])
        with pytest.raises(local_es.LocalESError, match="CEASEFIRE_ES_PORT"):
            local_es.start(settings)
