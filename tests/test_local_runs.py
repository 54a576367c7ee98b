"""Runs in this process (`local_steps`, the CLI's default) against flow runs (`PREFECT_STEPS`):
the same steps give the same index and the same counts; a plain run never imports Prefect;
the choice between them (`ceasefire.running.use_prefect`) follows the configured Prefect API.
Real node, real Prefect API (the session's temporary server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceasefire import running
from flows.backfill import backfill as backfill_flow
from flows.ingest import ingest_files as ingest_flow
from tasks.pipeline.steps import RetryPolicy, retried
from tasks.settings import ConfigError
from tasks.store.client import connect
from tasks.store.setup import delete_all
from testkit.syndication import build_corpus, load_stories

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = {"duration_s"}  # the only counts allowed to differ between two runs


def _documents(es, settings) -> dict[str, tuple]:
    es.indices.refresh(index=settings.read_alias)
    hits = es.search(index=settings.read_alias, size=5000,
                     _source=["cluster_id", "duplicate_of", "doc_hash", "enrichment_version",
                              "entities", "topics", "relevance"])["hits"]["hits"]
    return {h["_id"]: json.dumps(h["_source"], sort_keys=True) for h in hits}


def _counts(report) -> dict:
    return {k: v for k, v in report.to_dict().items() if k not in VOLATILE}


@pytest.fixture
def corpus_folder(tmp_path) -> Path:
    """Syndicated copies (near-duplicate clusters) over several JSONL files, plus a file that
    cannot be read (a named skip)."""
    corpus = build_corpus(seed=7, max_copies=3, original_missing=0.2, stories=load_stories()[:8])
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(0, len(corpus), 4):
        lines = [json.dumps(a.record()) for a in corpus[i:i + 4]]
        (folder / f"part-{i:03d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "broken.jsonl").write_text('{"title": "no body"\n', encoding="utf-8")
    return folder


@pytest.fixture
def other_prefix(settings, monkeypatch):
    """A second private prefix, exported to the environment (flow runs read settings there)."""
    other = settings.replace(index_prefix=settings.index_prefix + "-flow")
    yield other
    delete_all(connect(other), other)


@pytest.mark.slow
def test_a_plain_run_writes_exactly_what_a_flow_run_writes(prefect_api, settings, es, corpus_folder,
                                                           other_prefix, monkeypatch):
    plain = running.ingest(settings, [str(corpus_folder)], batch_size=5, prefect=False)
    assert plain.balanced and plain.skips and plain.near_duplicates
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", other_prefix.index_prefix)
    flow = ingest_flow(paths=[str(corpus_folder)], batch_size=5)
    assert _counts(plain) == _counts(flow)
    assert _documents(es, settings) == _documents(connect(other_prefix), other_prefix)
    lines = plain.stage_lines()
    assert [line.split()[0] for line in lines] == ["read", "prepare", "enrich", "cluster", "index",
                                                   "skipped"]
    assert f"{plain.created} new" in lines[4]


@pytest.mark.slow
def test_a_plain_backfill_keeps_the_same_window_as_the_flow(prefect_api, settings, es, corpus_folder,
                                                            other_prefix, monkeypatch):
    kwargs = {"paths": [str(corpus_folder)], "url_list": None, "warcs": [], "urls": [],
              "sources_file": None, "only": None, "refetch": False, "batch_size": 6}
    plain = running.backfill(settings, since="2025-10-01", until="2025-10-20", prefect=False, **kwargs)
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", other_prefix.index_prefix)
    flow = backfill_flow(paths=[str(corpus_folder)], since="2025-10-01", until="2025-10-20", batch_size=6)
    assert plain.balanced and _counts(plain) == _counts(flow)
    assert _documents(es, settings) == _documents(connect(other_prefix), other_prefix)


def test_a_plain_run_never_imports_prefect(settings):
    code = ("import sys; from tasks.settings import Settings; from ceasefire import running; "
            f"r = running.ingest(Settings.from_env(), [{str(ROOT / 'examples')!r}], 500); "
            "print(r.indexed, 'prefect' in sys.modules, 'spacy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PREFECT_API_URL": "", "PREFECT_HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "False", "True"]


@pytest.mark.parametrize("bad, message", [
    ({"since": "last week"}, "--since 'last week' is not a date"),
    ({"since": "2025-10-07", "until": "2025-10-01"}, "empty date window"),
    ({"paths": ["/no/such/folder"]}, "input not found: /no/such/folder"),
    ({"paths": []}, "nothing to backfill"),
    ({"batch_size": 0}, "batch size must be at least 1"),
])
def test_bad_backfills_fail_before_any_work(bad, message, settings, es):
    kwargs = {"paths": ["examples"], "url_list": None, "warcs": [], "urls": [], "sources_file": None,
              "only": None, "since": None, "until": None, "refetch": False, "batch_size": 10, **bad}
    with pytest.raises(ConfigError, match=message):
        running.backfill(settings, prefect=False, **kwargs)
    assert not es.indices.exists_alias(name=settings.read_alias)


def _profiles(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(text)


def test_a_flow_run_only_with_a_prefect_api_or_when_asked(tmp_path, monkeypatch):
    home = tmp_path / "prefect"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    for var in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(var, raising=False)
    assert running.use_prefect(None) is False  # no profile file
    assert running.use_prefect(True) is True and running.use_prefect(None, dask=True) is True
    _profiles(home, 'active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "http://prefect:4200/api"\n'
                    '[profiles.local]\n')
    assert running.configured_prefect_api() == "http://prefect:4200/api"
    assert running.use_prefect(None) is True and running.use_prefect(False) is False
    monkeypatch.setenv("PREFECT_PROFILE", "local")
    assert running.use_prefect(None) is False
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert running.configured_prefect_api() == "http://127.0.0.1:4200/api"
    monkeypatch.delenv("PREFECT_API_URL")
    _profiles(home, "not [valid toml")
    assert running.use_prefect(None) is False
    with pytest.raises(running.PrefectNeeded, match="--dask"):
        running.use_prefect(False, dask=True)


def test_plain_steps_are_retried_like_tasks_but_not_for_configuration_errors():
    calls: list[int] = []

    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise ConnectionResetError("dropped")
        return n * 2

    assert retried(flaky, RetryPolicy(retries=2, delay_s=0.0, jitter=0.0))(21) == 42
    assert calls == [21, 21, 21]

    def broken() -> None:
        calls.append(0)
        raise ConfigError("no such setting")

    calls.clear()
    with pytest.raises(ConfigError):
        retried(broken, RetryPolicy(retries=2, delay_s=0.0, jitter=0.0))()
    assert calls == [0]
    calls.clear()
    with pytest.raises(ConnectionResetError):
        retried(flaky, RetryPolicy(retries=1, delay_s=0.0, jitter=0.0))(1)
    assert calls == [1, 1]
