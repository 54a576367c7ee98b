"""A local Elasticsearch node of its own (private home, free port) for tests and benchmarks
that need a node unlike the shared one on 9200: with or without the language analyzers."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ceasefire import local_es
from tasks.settings import Settings


def free_port() -> int:
    """An HTTP port that is free, with its transport port (+100) free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 65000:
            continue
        try:
            with socket.socket() as t:
                t.bind(("127.0.0.1", port + 100))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def cached_zip(settings: Settings) -> Path | None:
    """The distribution zip the shared node was provisioned from, if it is cached."""
    path = settings.home / "downloads" / f"elasticsearch-{settings.local_es_version}.zip"
    return path if path.is_file() else None


@contextmanager
def private_node(base: Settings, **overrides: Any) -> Iterator[Settings]:
    """Start a node (or `local_nodes` of them) from the cached zip in a fresh home; stop it
    and remove the home after."""
    archive = cached_zip(base)
    if archive is None:
        raise FileNotFoundError("the Elasticsearch distribution zip is not cached")
    home = Path(tempfile.mkdtemp(prefix="ceasefire-node-", dir="/var/tmp"))
    home.chmod(0o755)  # the dedicated node user must reach it
    fields: dict[str, Any] = {"local_port": free_port(), "local_nodes": 1, "local_heap": "512m"}
    settings = base.replace(**{**fields, **overrides}, home=home, local_es_zip=str(archive),
                            es_url=None)
    try:
        local_es.start(settings)
        yield settings
    finally:
        local_es.stop(settings)
        shutil.rmtree(home, ignore_errors=True)
