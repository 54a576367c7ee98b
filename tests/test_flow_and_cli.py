"""The ingest flow under a real Prefect API, and the `ceasefire` command line, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from flows.ingest import ingest_files
from testkit.terminal import run_in_terminal
from tests.conftest import EXAMPLES, FIXTURES


@pytest.fixture
def flow_env(prefect_api, settings):
    return settings


def test_ingest_flow_twice_leaves_exactly_two_documents(flow_env, es):
    first = ingest_files(paths=[str(EXAMPLES)])
    assert (first.inputs, first.created, first.unchanged) == (2, 2, 0)
    assert first.balanced
    second = ingest_files(paths=[str(EXAMPLES)])
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert es.count(index=flow_env.read_alias)["count"] == 2
    # Two different calls between the same leaders: two stories, not one.
    docs = es.search(index=flow_env.read_alias, _source=["cluster_id", "duplicate_of"])["hits"]["hits"]
    assert len({d["_source"]["cluster_id"] for d in docs}) == 2
    assert not any(d["_source"].get("duplicate_of") for d in docs)
    assert first.near_duplicates == second.near_duplicates == 0


def test_ingest_flow_reports_bad_inputs_and_indexes_the_rest(flow_env, es):
    report = ingest_files(paths=[str(FIXTURES / "mixed"), str(FIXTURES / "html"),
                                 str(EXAMPLES / "lbc-zelenskyy-trump-call.txt")], batch_size=2)
    assert report.balanced
    assert report.created == 7  # 6 articles in mixed/ + 1 page in html/ (good.txt == the LBC file)
    assert dict(report.skipped) == {
        "unsupported-file-type": 1, "not-an-article": 1, "jsonl-missing-body": 1,
        "jsonl-invalid-json": 1, "no-article-text": 2, "duplicate-in-run": 1,
    }
    assert any("records.jsonl:3: jsonl-invalid-json" in s for s in report.skip_examples)
    assert es.count(index=flow_env.read_alias)["count"] == 7


def test_ingest_flow_validates_parameters(flow_env):
    with pytest.raises(ValueError, match="batch size"):
        ingest_files(paths=[str(EXAMPLES)], batch_size=0)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess, talking to this session's Prefect server."""
    env = {"PREFECT_API_URL": PREFECT_API_URL.value() or "", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300, check=False)


def test_cli_ingest_and_search_json(flow_env):
    ingest = _cli("ingest", str(EXAMPLES), "--json")
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout[ingest.stdout.index("{"):])["created"] == 2
    found = _cli("search", "energy infrastructure", "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["hits"][0]["source"] == "LBC"
    assert any("[[energy infrastructure]]" in s for s in result["hits"][0]["highlights"])
    assert {"source", "language", "published_month"} <= set(result["facets"])
    text = _cli("search", "energy infrastructure")
    assert "LBC" in text.stdout
    assert "[[energy infrastructure]]" in text.stdout  # highlight markers survive a pipe


def test_cli_without_elasticsearch_says_what_to_do(flow_env):
    result = _cli("search", "x", env={"CEASEFIRE_ES_PORT": "9", "ELASTICSEARCH_URL": ""})
    assert result.returncode == 2
    assert "ceasefire es start" in result.stderr and "ELASTICSEARCH_URL" in result.stderr


def test_cli_uses_elasticsearch_url_and_starts_nothing(flow_env):
    url = f"http://127.0.0.1:{flow_env.local_port}" if not flow_env.es_url else flow_env.es_url
    refused = _cli("es", "start", env={"ELASTICSEARCH_URL": url})
    assert refused.returncode == 2 and "not starting a local node" in refused.stderr
    setup = _cli("setup", env={"ELASTICSEARCH_URL": url})
    assert setup.returncode == 0, setup.stderr
    assert f"{flow_env.index_prefix}-articles-v1 ready" in setup.stdout


def test_cli_backfill_over_a_window_names_what_it_left_out(flow_env, es):
    result = _cli("backfill", str(EXAMPLES), "--since", "2025-10-01", "--until", "2025-10-31", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout[result.stdout.index("{"):])
    # The IANS dump is dated 2025-10-13; the LBC one carries no date, so no window holds it.
    assert (report["created"], report["skipped"]) == (1, {"undated": 1})
    bad = _cli("backfill", str(EXAMPLES), "--since", "last week")
    assert bad.returncode == 2 and "since" in bad.stderr and "Traceback" not in bad.stderr


def test_steps_report_progress_to_listeners(flow_env):
    from tasks import progress

    events: list[tuple[str, int, int]] = []
    with progress.listening(lambda *event: events.append(event)):
        ingest_files(paths=[str(EXAMPLES)], batch_size=1)
    # Inputs are streamed: files and inputs are counted as they go, with no total (0).
    assert events.count(("read files", 2, 0)) == 1
    assert [e for e in events if e[0] == "enrich, cluster, index"] == [
        ("enrich, cluster, index", 1, 0), ("enrich, cluster, index", 2, 0)]


def test_cli_draws_progress_bars_on_a_terminal(flow_env):
    """On a terminal (a real pty here) the CLI shows a bar per stage; piped, it prints none."""
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value() or "", "COLUMNS": "120"}
    code, screen = run_in_terminal([sys.executable, "-m", "ceasefire.cli", "ingest", str(EXAMPLES)],
                                   env, 300)
    assert code == 0
    # a stream has no total: the bars count inputs as they go ("2/?")
    assert "read files" in screen and "enrich, cluster, index" in screen and "2/?" in screen
    piped = _cli("ingest", str(EXAMPLES))
    assert "enrich, cluster, index" not in piped.stdout + piped.stderr


def test_exit_codes_for_configuration_problems(flow_env, tmp_path):
    """2, with one plain line and no traceback, before any work: a missing input, an invalid
    variable, no cluster answering."""
    missing = _cli("ingest", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "input not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_port = _cli("ingest", str(EXAMPLES), env={"CEASEFIRE_ES_PORT": "abc"})
    assert bad_port.returncode == 2 and "CEASEFIRE_ES_PORT='abc'" in bad_port.stderr
    closed = _cli("ingest", str(EXAMPLES), env={"ELASTICSEARCH_URL": "http://etl:hunter2@127.0.0.1:1",
                                                "ELASTICSEARCH_TIMEOUT": "2"})
    assert closed.returncode == 2 and "no Elasticsearch at http://***@127.0.0.1:1" in closed.stderr
    assert "hunter2" not in closed.stderr + closed.stdout and "Traceback" not in closed.stderr


def test_the_json_summary_lists_every_skip_with_its_source(flow_env, es, tmp_path):
    (tmp_path / "good.jsonl").write_text("\n".join(
        json.dumps({"title": f"Truce holds in town {i}", "url": f"https://e.example/{i}",
                    "body": f"Ceasefire observers reported calm in town {i} overnight. " * 20})
        for i in range(3)) + "\n" + "\n".join(f'{{"title": "bad {i}", "body": 5}}' for i in range(60)))
    done = _cli("ingest", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["created"] == 3 and summary["skipped"] == {"record-invalid:body": 60}
    assert len(summary["skips"]) == 60  # all of them, not the first 50
    assert {s["origin"] for s in summary["skips"]} == {f"{tmp_path / 'good.jsonl'}:{n}" for n in range(4, 64)}
    es.indices.refresh(index=flow_env.state_index)
    kept = es.count(index=flow_env.state_index, query={"term": {"kind": "skip"}})["count"]
    assert kept == 60  # the state index keeps every skip of the run too
