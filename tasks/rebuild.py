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

Enrich = Callable[[list[Article]], list[Article]]


def rebuild_hits(hits: list[dict[str, Any]], enrich: Enrich) -> list[dict[str, Any]]:
    """Scan hits in, hits with the rebuilt `_source` out (same ids, same order)."""
    articles = [Article.from_document(hit["_id"], hit["_source"]) for hit in hits]
    for article in articles:
        clean_article(article)
        article.content_hash = content_hash(article.body)
        sign(article)
        article.pipeline_version = PIPELINE_VERSION
    enrich(articles)
    return [{**hit, "_source": article.to_document()}
            for hit, article in zip(hits, articles, strict=True)]
