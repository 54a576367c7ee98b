"""Reindex flow: a new versioned index from the current one, verified, aliases swapped with no
search downtime; the old index is kept for rollback."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.runtime import runtime_settings
from flows.steps import quoted, reindex_step
from tasks.store.client import open_cluster
from tasks.store.reindex import ReindexResult


@flow(name="reindex")
def reindex_flow(rebuild: bool = False) -> ReindexResult:
    """Rebuild the articles index with the current mapping; searches never stop. With
    `rebuild`, every document also goes through the current cleaning and enrichment (after
    a change to the rules, the spaCy model, the alias table or the taxonomy)."""
    settings = runtime_settings()
    with open_cluster(settings) as es:
        result = reindex_step(quoted(es), settings, rebuild)
    summary = (f"| | |\n| --- | --- |\n| from | {result.source} |\n| to | {result.target} |\n"
               f"| rebuilt with the current pipeline | {'yes' if rebuild else 'no'} |\n"
               f"| copied | {result.copied} |\n| written during the copy | {result.newer} |\n"
               f"| documents before / after | {result.source_count} / {result.target_count} |")
    create_markdown_artifact(summary, key="reindex-summary", description="ceasefire-etl reindex")
    get_run_logger().info("reindex: %s", result)
    return result
