"""The pipeline's steps as Prefect tasks: the plain steps of `tasks/pipeline/steps.py` with
retries and observability (a task run each), and `PREFECT_STEPS`, how a flow run calls them.

Arguments go to the tasks `quoted`: otherwise Prefect walks every field of every Article
looking for futures before each task (measured: 1.7 s per 500 articles).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows.runtime import current_run_id, runtime_settings
from tasks.pipeline import steps
from tasks.pipeline.steps import Steps
from tasks.report import RunReport

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def quoted(value: T) -> T:
    """`value` passed to a task as is: Prefect does not walk it looking for futures."""
    return cast(T, quote(value))


def _task(fn: Callable[P, R]) -> Task[P, R]:
    """`fn` as a task that is never cached, retried by its policy in `steps.POLICIES` (the
    same as a run in this process)."""
    policy = steps.POLICIES[fn]
    if policy is None:
        return task(cache_policy=NO_CACHE)(fn)
    return task(cache_policy=NO_CACHE, retries=policy.retries, retry_delay_seconds=policy.delay_s,
                retry_jitter_factor=policy.jitter)(fn)


prepare = _task(steps.prepare)
ensure_indices = _task(steps.ensure_indices)
enrich_batch = _task(steps.enrich_batch)
cluster_batch = _task(steps.cluster_batch)
index_batch = _task(steps.index_batch)
discover_links = _task(steps.discover_links)
select_new_links = _task(steps.select_new_links)
fetch_pages = _task(steps.fetch_pages)
keep_skips = _task(steps.keep_skips)
remember_outcomes = _task(steps.remember_outcomes)
reindex_step = _task(steps.reindex_step)


def _called(step: Task[..., Any]) -> Any:
    """`step` called with every positional argument quoted."""
    return lambda *args, **kwargs: step(*map(quoted, args), **kwargs)


def publish(report: RunReport) -> None:
    """The summary as the flow run's artifact and log lines."""
    logger = get_run_logger()
    for example in report.skip_examples:
        logger.warning("skipped %s", example)
    create_markdown_artifact(report.to_markdown(), key="ingest-summary",
                             description="ceasefire-etl ingest run summary")
    logger.info("ingest summary: %s", json.dumps(report.to_dict(full=False)))


PREFECT_STEPS = Steps(
    prepare=_called(prepare),
    enrich_batch=_called(enrich_batch),
    cluster_batch=_called(cluster_batch),
    start_index=lambda *args: index_batch.submit(*map(quoted, args)),
    ensure_indices=_called(ensure_indices),
    discover_links=_called(discover_links),
    select_new_links=_called(select_new_links),
    fetch_pages=_called(fetch_pages),
    keep_skips=_called(keep_skips),
    remember_outcomes=_called(remember_outcomes),
    settings=runtime_settings,
    run_id=current_run_id,
    publish=publish,
)
