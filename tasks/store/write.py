"""Write one prepared, clustered batch: bulk index, dead-letter rejections, relabel clusters,
heal clusters whose representative was rejected, settle clusters other writers touched."""

from __future__ import annotations

import time

from elasticsearch import Elasticsearch

from tasks.dedupe.clusters import heal_clusters, relabel_clusters
from tasks.dedupe.settle import settle_clusters
from tasks.models import Article
from tasks.settings import Settings
from tasks.store.bulk import IndexReport, Ledger, index_articles, write_dead_letters
from tasks.store.retrying import Retry, refresh


def write_batch(es: Elasticsearch, settings: Settings, articles: list[Article],
                relabel: dict[str, str], ledger: Ledger | None = None,
                retry: Retry | None = None) -> IndexReport:
    """Bulk-write `articles`, dead-letter what Elasticsearch rejects, move the members of
    relabelled clusters, re-point clusters whose representative was rejected, settle the
    batch's clusters against writers that ran at the same time (`settle_clusters`), and
    refresh so the next batch's clustering sees this one.

    Safe to call again with the same batch after a failure (every step is idempotent). Pass
    the same `ledger` (an empty dict the caller keeps for the batch) to every call: the ids an
    earlier call wrote then count as created or updated in this call's report, not unchanged,
    so the last successful call's report is the batch's exact account."""
    started = time.monotonic()
    retry = retry or Retry()
    result = index_articles(es, settings.write_alias, articles, ledger=ledger, retry=retry)
    write_dead_letters(es, settings.deadletter_index, result.rejections, retry=retry)
    relabel_clusters(es, settings.write_alias, relabel, retry)
    rejected = {r.article_id for r in result.rejections}
    result.healed, healed_to = heal_clusters(es, settings.write_alias, sorted(rejected), retry)
    written = [a for a in articles if a.id not in rejected]
    result.settled = settle_clusters(
        es, settings.write_alias, [a.id for a in written],
        {*relabel.values(), *healed_to, *(a.cluster_id for a in written if a.cluster_id)}, retry)
    refresh(es, settings.write_alias, retry)
    result.seconds = time.monotonic() - started
    return result
