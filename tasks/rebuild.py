"""Rebuild stored documents with the current pipeline: clean, hash, sign and enrich the text
each document holds, keeping its id and cluster. For a reindex after a change to cleaning
rules, the spaCy model, the alias table or the taxonomy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.clean import clean_article
from tasks.dedupe.identity import content_hash
from tasks.dedupe.near_dup import sign
from tasks.models import PIPELINE_VERSION, Article
from tasks.store.bulk import document_hash, first_seen, set_coverage_date

Enrich = Callable[[list[Article]], list[Article]]
# Kept from the stored document: when we first wrote it and last changed it (not Article fields).
KEPT = ("ingested_at", "updated_at")


def rebuild_hits(hits: list[dict[str, Any]], enrich: Enrich) -> list[dict[str, Any]]:
    """Scan hits in, hits with the rebuilt `_source` out (same ids, same order)."""
    articles = [Article.from_document(hit["_id"], hit["_source"]) for hit in hits]
    for article in articles:
        clean_article(article)
        article.content_hash = content_hash(article.body)
        sign(article)
        article.pipeline_version = PIPELINE_VERSION
    enrich(articles)
    return [{**hit, "_source": stamped(article.to_document(), hit["_source"])}
            for hit, article in zip(hits, articles, strict=True)]


def stamped(doc: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A rebuilt `doc` with what the index step adds: the stored write times, its content
    hash (so the next ingest of the same article finds it unchanged) and its coverage date
    (filled for documents indexed before the field existed, never later than before)."""
    doc |= {k: stored[k] for k in KEPT if stored.get(k)}
    doc["doc_hash"] = document_hash(doc)
    return set_coverage_date(doc, first_seen(stored))
