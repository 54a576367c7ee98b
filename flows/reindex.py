"""Reindex flow: a new versioned index from the current one, verified, aliases swapped with no
search downtime; the old index is kept for rollback."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ceasefire.elastic import connect
from ceasefire.index_setup import setup_indices
from ceasefire.settings import Settings
from tasks.reindex import ReindexResult, reindex


@task(cache_policy=NO_CACHE)  # not retried: a half-done copy is rolled back, rerun the flow
def reindex_task(settings: Settings) -> ReindexResult:
    """Copy, verify, swap."""
    es = connect(settings)
    setup_indices(es, settings)  # the target is created from the current template
    return reindex(es, settings)


@flow(name="reindex")
def reindex_flow() -> ReindexResult:
    """Rebuild the articles index with the current mapping; searches never stop."""
    result = reindex_task(Settings.from_env())
    summary = (f"| | |\n| --- | --- |\n| from | {result.source} |\n| to | {result.target} |\n"
               f"| copied | {result.copied} |\n| written during the copy | {result.newer} |\n"
               f"| documents before / after | {result.source_count} / {result.target_count} |")
    create_markdown_artifact(summary, key="reindex-summary", description="ceasefire-etl reindex")
    get_run_logger().info("reindex: %s", result)
    return result
