"""Secrets reach the Elasticsearch client from the environment or a Prefect Secret block,
and never appear in flow parameters, logs or reprs (real Prefect API, real node)."""

from __future__ import annotations

import time

import pytest

from flows.ingest import ingest_files
from flows.runtime import runtime_settings
from tasks.settings import Settings, secret
from tests.conftest import EXAMPLES

API_KEY = "c2VrcmV0LWFwaS1rZXktNzcx"
PASSWORD = "hunter2-never-logged"


def test_settings_repr_hides_secrets():
    settings = Settings.from_env({"ELASTICSEARCH_API_KEY": API_KEY, "ELASTICSEARCH_PASSWORD": PASSWORD,
                                  "ELASTICSEARCH_USERNAME": "etl"})
    assert secret(settings.es_api_key) == API_KEY
    assert API_KEY not in repr(settings) and PASSWORD not in repr(settings)
    assert "etl" in repr(settings)


def test_secret_blocks_are_read_at_run_time(prefect_api, monkeypatch):
    from prefect.blocks.system import Secret

    Secret(value=API_KEY).save("cftest-es-api-key", overwrite=True)
    Secret(value=PASSWORD).save("cftest-es-password", overwrite=True)
    monkeypatch.setenv("CEASEFIRE_ES_API_KEY_BLOCK", "cftest-es-api-key")
    monkeypatch.setenv("CEASEFIRE_ES_PASSWORD_BLOCK", "cftest-es-password")
    settings = runtime_settings()
    assert (secret(settings.es_api_key), secret(settings.es_password)) == (API_KEY, PASSWORD)
    monkeypatch.setenv("CEASEFIRE_ES_API_KEY_BLOCK", "no-such-block")
    with pytest.raises(ValueError, match="no-such-block"):
        runtime_settings()


def test_a_run_with_secrets_logs_none_of_them(prefect_api, settings, es, monkeypatch):
    """The local node runs without security, so it ignores the credentials; the point is
    what Prefect stores about the run."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    Secret(value=PASSWORD).save("cftest-es-password-2", overwrite=True)
    monkeypatch.setenv("ELASTICSEARCH_URL", f"http://127.0.0.1:{settings.local_port}")
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", API_KEY)
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "etl")
    monkeypatch.setenv("CEASEFIRE_ES_PASSWORD_BLOCK", "cftest-es-password-2")
    state = ingest_files(paths=[str(EXAMPLES)], return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        for _ in range(60):  # logs reach the API in the background: wait for the last one
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            if any("ingest summary" in log.message for log in logs):
                break
            time.sleep(0.5)
        tasks = client.read_task_runs()
    stored = " ".join([str(run.parameters), *(log.message for log in logs),
                       *(str(t.task_inputs) for t in tasks if t.flow_run_id == run.id)])
    assert "ingest summary" in stored and "hunter" not in stored
    assert API_KEY not in stored and PASSWORD not in stored
