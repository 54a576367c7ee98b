"""Running the pipeline from the command line: in this process, or as a Prefect flow run.

A short run from a terminal should not pay for Prefect: importing it takes seconds, and
without an API it starts a temporary server (10-30 s). So the CLI runs the same pipeline
(`tasks/pipeline/runs.py`) with plain steps in this process, unless a Prefect API is
configured (PREFECT_API_URL, in the environment or the active Prefect profile), `--prefect`
asks for a flow run, or `--dask` needs one. Deployments always run the flows.

What would fail a run is checked first, before any import of Prefect or spaCy: the inputs
exist, the dates parse, the cluster answers. Every such problem is a `ConfigError` (exit 2).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.settings import ConfigError, Settings

if TYPE_CHECKING:
    from tasks.report import RunReport
    from tasks.store.reindex import ReindexResult


class PrefectNeeded(ConfigError):
    """`--dask` with `--no-prefect`: the fan-out runs on prefect-dask."""


def configured_prefect_api() -> str | None:
    """PREFECT_API_URL from the environment, else from the active Prefect profile (read as
    TOML: importing Prefect to ask would cost seconds)."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    url = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None


def use_prefect(prefect: bool | None, dask: bool = False) -> bool:
    """A flow run when asked (`True`), when `dask` needs one, or (`None`: auto) when a
    Prefect API is configured; else plain steps in this process."""
    if dask and prefect is False:
        raise PrefectNeeded("--dask runs as a Prefect flow run: drop --no-prefect")
    if prefect is not None:
        return prefect or dask
    return dask or configured_prefect_api() is not None


FLOW_RUN_ENVIRONMENT = {
    # The temporary Prefect server inherits these: no telemetry calls from offline machines,
    # and 90 s to start instead of 20 (a busy 2-core machine needs longer).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # One "Finished in state Completed()" line per task run says nothing on a terminal; the
    # Prefect UI still shows every task run's state. Warnings and errors are still printed.
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "WARNING",
}


def _for_a_flow_run() -> None:
    """The environment of a flow run started from the command line (unless set already)."""
    for name, value in FLOW_RUN_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def preflight(settings: Settings, batch_size: int | None = None, paths: Sequence[str] = ()) -> None:
    """What a flow run's body checks first, checked before Prefect is imported: the batch size,
    the inputs, the cluster. (A run in this process makes the same checks itself, first.)"""
    from tasks.pipeline.checks import check_batch_size, check_paths
    from tasks.store.client import open_cluster

    if batch_size is not None:
        check_batch_size(batch_size)
    check_paths(paths)
    open_cluster(settings).close()


def ingest(settings: Settings, paths: list[str], batch_size: int, *, dask: bool = False,
           prefect: bool | None = None) -> RunReport:
    """`ceasefire ingest`: files and folders."""
    if not use_prefect(prefect, dask):
        from tasks.pipeline.runs import ingest_files
        from tasks.pipeline.steps import local_steps

        return ingest_files(local_steps(settings), paths, batch_size)
    preflight(settings, batch_size, paths)
    _for_a_flow_run()
    from flows.ingest import ingest_files as flow

    return flow(paths=paths, batch_size=batch_size, dask=dask)


def sources(settings: Settings, sources_file: str, only: list[str] | None, batch_size: int, *,
            prefect: bool | None = None) -> RunReport:
    """`ceasefire run`: everything new from the source list."""
    if not use_prefect(prefect):
        from tasks.pipeline.runs import ingest_sources
        from tasks.pipeline.steps import local_steps

        return ingest_sources(local_steps(settings), sources_file, only, batch_size)
    from tasks.sources import enabled_sources

    enabled_sources(sources_file, only)  # a bad file or name fails here, before the flow run
    preflight(settings, batch_size)
    _for_a_flow_run()
    from flows.ingest import ingest_sources as flow

    return flow(sources_file=sources_file, only=only, batch_size=batch_size)


def backfill(settings: Settings, *, paths: list[str], url_list: str | None, warcs: list[str],
             urls: list[str], sources_file: str | None, only: list[str] | None,
             since: str | None, until: str | None, refetch: bool, batch_size: int,
             dask: bool = False, prefect: bool | None = None) -> RunReport:
    """`ceasefire backfill`: folders, archives, URLs or the sources' archives over a window."""
    from tasks.window import DateWindow, parse_bound

    start = parse_bound(since, "--since") if since else None
    end = parse_bound(until, "--until") if until else None
    params = {"paths": paths or None, "url_list": url_list, "urls": urls or None,
              "sources_file": sources_file, "only": only or None, "since": start, "until": end,
              "refetch": refetch, "batch_size": batch_size, "warcs": warcs or None}
    if not use_prefect(prefect, dask):
        from tasks.pipeline import runs
        from tasks.pipeline.steps import local_steps

        return runs.backfill(local_steps(settings), **params)  # type: ignore[arg-type]
    from tasks.pipeline.runs import backfill_sources

    DateWindow.of(start, end)  # an empty window fails here
    backfill_sources(paths, url_list, urls, sources_file, only, has_warcs=bool(warcs))
    preflight(settings, batch_size, warcs)
    _for_a_flow_run()
    from flows.backfill import backfill as flow

    return flow(**params, dask=dask)  # type: ignore[call-overload]


def reindex(settings: Settings, rebuild: bool, *, prefect: bool | None = None) -> ReindexResult:
    """`ceasefire reindex`: a new index from the current one, aliases swapped."""
    if not use_prefect(prefect):
        from tasks.pipeline.steps import reindex_step
        from tasks.store.client import open_cluster

        with open_cluster(settings) as es:  # checks the cluster answers
            return reindex_step(es, settings, rebuild)
    preflight(settings)
    _for_a_flow_run()
    from flows.reindex import reindex_flow

    return reindex_flow(rebuild=rebuild)
