"""End to end through a real Prefect server process: register the deployments of
deploy/prefect.yaml, run one through a process worker, find the articles in Elasticsearch."""

from __future__ import annotations

from tests.conftest import EXAMPLES
from tests.prefect_server import deploy_all, prefect_cli, prefect_server, start_worker, stop


def test_deployment_runs_through_a_worker(es, settings, tmp_path):
    with prefect_server(tmp_path) as env:
        deploy_all(env)
        listed = prefect_cli(env, "deployment", "ls")
        for name in ("ingest-sources/hourly", "ingest-files/files", "backfill/on-demand",
                     "reindex/on-demand"):
            assert name in listed.stdout
        schedule = prefect_cli(env, "deployment", "inspect", "ingest-sources/hourly")
        assert "0 * * * *" in schedule.stdout and "UTC" in schedule.stdout
        # The worker polls only the on-demand queue: the hourly run never starts here.
        worker = start_worker(env, tmp_path / "worker.log", "on-demand")
        try:
            run = prefect_cli(env, "deployment", "run", "ingest-files/files",
                              "--param", f'paths=["{EXAMPLES}"]', "--watch", timeout=300)
        finally:
            stop(worker)
    assert run.returncode == 0 and "Completed" in run.stdout, \
        run.stdout[-2000:] + (tmp_path / "worker.log").read_text()[-3000:]
    es.indices.refresh(index=settings.read_alias)
    assert es.count(index=settings.read_alias)["count"] == 2
