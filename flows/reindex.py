"""Reindex flow: a new versioned index from the current one, verified, aliases swapped with no
search downtime; the old index is kept for rollback."""

from __future__ import annotations

from functools import partial

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.runtime import runtime_settings
from tasks.enrich.enricher import enricher_for
from tasks.rebuild import rebuild_hits
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.reindex import ReindexResult, reindex
from tasks.store.setup import setup_indices


@task(cache_policy=NO_CACHE)  # not retried: a half-done copy is rolled back, rerun the flow
def reindex_task(settings: Settings, rebuild: bool) -> ReindexResult:
    """Copy (through the current pipeline if `rebuild`), verify, swap."""
    es = connect(settings)
    setup_indices(es, settings)  # the target is created from the current template
    transform = None
    if rebuild:
        transform = partial(rebuild_hits, enrich=enricher_for(settings).enrich)
    return reindex(es, settings, transform=transform)


@flow(name="reindex")
def reindex_flow(rebuild: bool = False) -> ReindexResult:
    """Rebuild the articles index with the current mapping; searches never stop. With
    `rebuild`, every document also goes through the current cleaning and enrichment (after
    a change to the rules, the spaCy model, the alias table or the taxonomy)."""
    result = reindex_task(runtime_settings(), rebuild)
    summary = (f"| | |\n| --- | --- |\n| from | {result.source} |\n| to | {result.target} |\n"
               f"| rebuilt with the current pipeline | {'yes' if rebuild else 'no'} |\n"
               f"| copied | {result.copied} |\n| written during the copy | {result.newer} |\n"
               f"| documents before / after | {result.source_count} / {result.target_count} |")
    create_markdown_artifact(summary, key="reindex-summary", description="ceasefire-etl reindex")
    get_run_logger().info("reindex: %s", result)
    return result
