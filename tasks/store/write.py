"""Write one prepared, clustered batch: bulk index, dead-letter rejections, relabel clusters."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from tasks.dedupe.clusters import relabel_clusters
from tasks.models import Article
from tasks.settings import Settings
from tasks.store.bulk import IndexReport, index_articles, write_dead_letters


def write_batch(es: Elasticsearch, settings: Settings, articles: list[Article],
                relabel: dict[str, str]) -> IndexReport:
    """Bulk-write `articles`, dead-letter what Elasticsearch rejects, move the members of
    relabelled clusters, and refresh so the next batch's clustering sees this one."""
    result = index_articles(es, settings.write_alias, articles)
    write_dead_letters(es, settings.deadletter_index, result.rejections)
    relabel_clusters(es, settings.write_alias, relabel)
    es.indices.refresh(index=settings.write_alias)
    return result
