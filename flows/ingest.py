"""Ingest flow: local files -> extract -> clean -> identity -> near-dup clusters -> bulk index."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ceasefire.elastic import connect
from ceasefire.index_setup import setup_indices
from ceasefire.settings import Settings
from tasks.clean import clean_article
from tasks.dedupe import DedupeResult, dedupe_batch, relabel_clusters
from tasks.identity import assign_identity, drop_batch_duplicates
from tasks.index import IndexReport, index_articles, write_dead_letters
from tasks.models import Article, Skip
from tasks.read_files import discover_files, read_file
from tasks.report import RunReport


def prepare_articles(articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Clean, identify and drop in-batch exact duplicates (pure)."""
    ready: list[Article] = []
    skips: list[Skip] = []
    for article in articles:
        clean_article(article)
        if not article.body:
            skips.append(Skip(article.origin or "?", "empty-after-cleaning"))
            continue
        ready.append(assign_identity(article))
    kept, dups = drop_batch_duplicates(ready)
    return kept, skips + dups


@task(cache_policy=NO_CACHE)
def read_inputs(paths: list[str]) -> tuple[list[Article], list[Skip]]:
    """Read every supported file under `paths`."""
    files, skips = discover_files(paths)
    articles: list[Article] = []
    for path in files:
        for item in read_file(path):
            (skips if isinstance(item, Skip) else articles).append(item)
    return articles, skips


@task(cache_policy=NO_CACHE)
def prepare(articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Task wrapper around `prepare_articles`."""
    return prepare_articles(articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def ensure_indices(settings: Settings) -> str:
    """Create or update templates, index and aliases; return the concrete index."""
    return setup_indices(connect(settings), settings).index


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def cluster_batch(articles: list[Article], settings: Settings) -> DedupeResult:
    """Assign near-duplicate clusters against everything indexed so far."""
    return dedupe_batch(connect(settings), settings.read_alias, articles)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5, retry_jitter_factor=0.5)
def index_batch(articles: list[Article], relabel: dict[str, str], settings: Settings) -> IndexReport:
    """Bulk-write one batch, dead-letter what Elasticsearch rejects, relabel merged clusters."""
    es = connect(settings)
    result = index_articles(es, settings.write_alias, articles)
    write_dead_letters(es, settings.deadletter_index, result.rejections)
    relabel_clusters(es, settings.write_alias, relabel)
    es.indices.refresh(index=settings.write_alias)
    return result


@flow(name="ingest-files")
def ingest_files(paths: list[str], batch_size: int = 500, setup: bool = True) -> RunReport:
    """Ingest articles from local files and directories (plain text, HTML, JSONL)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    logger = get_run_logger()
    settings = Settings.from_env()
    if setup:
        ensure_indices(settings)
    report = RunReport()
    articles, skips = read_inputs(paths)
    report.inputs = len(articles) + len(skips)
    report.add_skips(skips)
    ready, skips = prepare(articles)
    report.add_skips(skips)
    for start in range(0, len(ready), batch_size):
        batch = ready[start:start + batch_size]
        clusters = cluster_batch(batch, settings)
        report.near_duplicates += clusters.near_duplicates
        report.clusters_relabelled += len(clusters.plan.relabel)
        report.add_index(index_batch(batch, clusters.plan.relabel, settings))
    report.duration_s = time.monotonic() - started
    for example in report.skip_examples:
        logger.warning("skipped %s", example)
    if not report.balanced:
        raise RuntimeError(f"run does not balance, articles went missing: {report.to_dict()}")
    create_markdown_artifact(report.to_markdown(), key="ingest-summary",
                             description="ceasefire-etl ingest run summary")
    logger.info("ingest summary: %s", report.to_dict())
    return report
