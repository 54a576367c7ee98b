"""Prepare read articles for enrichment: clean, give each its identity and its near-duplicate
signature, drop exact duplicates within the run. Pure: no I/O. One bad record becomes a named
skip, never a failed batch."""

from __future__ import annotations

import logging

from tasks.clean import clean_article
from tasks.dedupe.identity import assign_identity, drop_batch_duplicates
from tasks.dedupe.near_dup import sign
from tasks.models import Article, Skip, split_skips

LOGGER = logging.getLogger(__name__)


def prepare_one(article: Article) -> Article | Skip:
    """One article cleaned, identified and signed, or the named reason it cannot be."""
    origin = article.origin or article.url or "?"
    try:
        clean_article(article)
        if not article.body:
            return Skip(origin, "empty-after-cleaning")
        return sign(assign_identity(article))
    except Exception as exc:  # a record the rules did not foresee must not fail the run
        LOGGER.warning("%s: could not prepare the article: %r", origin, exc)
        return Skip(origin, f"record-error:{type(exc).__name__}", str(exc)[:300])


def prepare_articles(articles: list[Article], seen: dict[str, str] | None = None,
                     ) -> tuple[list[Article], list[Skip]]:
    """Prepare every article; empty ones, failures and copies of an id already in the run
    (`seen`: id -> origin, kept by the caller across batches) become skips."""
    ready, skips = split_skips(prepare_one(article) for article in articles)
    kept, dups = drop_batch_duplicates(ready, seen)
    return kept, skips + dups
