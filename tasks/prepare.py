"""Prepare read articles for enrichment: clean, give each its identity, drop exact duplicates
within the batch. Pure: no I/O."""

from __future__ import annotations

from tasks.clean import clean_article
from tasks.dedupe.identity import assign_identity, drop_batch_duplicates
from tasks.models import Article, Skip


def prepare_articles(articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Clean and identify articles; empty ones and in-batch exact duplicates become skips."""
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
