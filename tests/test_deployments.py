"""deploy/prefect.yaml: valid for Prefect's own deploy model, every entrypoint imports as a flow."""

from __future__ import annotations

import pytest
import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.flows import Flow, load_flow_from_entrypoint

from tests.conftest import ROOT

CONFIG = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
DEPLOYMENTS = CONFIG["deployments"]


def test_prefect_accepts_the_file():
    model = PrefectYamlModel.model_validate(CONFIG)
    assert {(d.entrypoint, d.name) for d in model.deployments} == {
        ("flows/ingest.py:ingest_sources", "hourly"), ("flows/ingest.py:ingest_files", "files"),
        ("flows/backfill.py:backfill", "on-demand"), ("flows/reindex.py:reindex_flow", "on-demand")}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["entrypoint"])
def test_entrypoints_import_as_flows_and_accept_the_parameters(deployment, monkeypatch):
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    flow.validate_parameters(deployment.get("parameters", {}))  # raises on a bad parameter


def test_hourly_schedule_never_overlaps():
    hourly = next(d for d in DEPLOYMENTS if d["name"] == "hourly")
    assert hourly["schedules"] == [{"cron": "0 * * * *", "timezone": "UTC"}]
    assert hourly["concurrency_limit"]["limit"] == 1
    assert "secret" not in str(hourly["parameters"]).lower()


def test_prefect_api_list_endpoints_work(prefect_api):
    """The Prefect UI and `prefect deployment ls` use the filter endpoints, which a too-new
    FastAPI breaks (422 on `limit: null`) while flows still run: catch that here."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert isinstance(client.read_work_pools(), list)
        assert isinstance(client.read_deployments(), list)
        assert isinstance(client.read_flow_runs(), list)
