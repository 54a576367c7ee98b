"""Fixtures: a real Elasticsearch node (ELASTICSEARCH_URL, or the project's local node) and
a real Prefect API (Prefect's test harness runs a temporary server process)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from ceasefire import local_es
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def base_settings() -> Iterator[Settings]:
    """Settings for a running cluster; starts the local node when none is configured."""
    settings = Settings.from_env()
    started = False
    if not settings.es_url and not local_es.status(settings).running:
        local_es.start(settings)
        started = True
    yield settings
    if started and not os.environ.get("CEASEFIRE_KEEP_ES"):
        local_es.stop(settings)


@pytest.fixture
def settings(base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Per-test settings with a private index prefix, exported for code that reads the env."""
    prefix = f"cftest-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", prefix)
    s = base_settings.replace(index_prefix=prefix)
    yield s
    delete_all(connect(s), s)


@pytest.fixture
def es(settings: Settings) -> Elasticsearch:
    return connect(settings)


@pytest.fixture
def ready_es(es: Elasticsearch, settings: Settings) -> Elasticsearch:
    """A client whose test prefix has templates, index and aliases set up."""
    setup_indices(es, settings)
    return es


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect server for the session (real API, throwaway SQLite database)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def sample_text(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")
