"""Enrichment kept from the index: an article read again unchanged (the same file in the next
hourly run, a rerun, a page fetched again) keeps the language, entities, topics and relevance
stored with it instead of running language detection and NER again, when it was enriched by
the same model, alias table and taxonomy (`enrichment_version`) and the same pipeline.

Anything else that differs (text, title, date, source, pipeline version...) means enriching
again: the comparison errs on the side of doing the work."""

from __future__ import annotations

from typing import Any

from tasks.models import Article

ENRICHED = ("language", "language_confidence", "language_hint_mismatch", "entities", "countries",
            "topics", "conflicts", "relevance", "enrichment_version")
SET_LATER = frozenset({*ENRICHED, "cluster_id", "duplicate_of",  # by enrichment, then clustering
                       "fetched_at"})  # a page fetched again is the same page


def _before_enrichment(article: Article) -> dict[str, Any]:
    return {k: v for k, v in article.to_document().items() if k not in SET_LATER}


def reusable(fresh: Article, stored: Article | None, version: str) -> bool:
    """Whether `stored` was enriched by `version` from exactly what `fresh` holds."""
    return (stored is not None and stored.enrichment_version == version
            and _before_enrichment(fresh) == _before_enrichment(stored))


def keep_enrichment(fresh: Article, stored: Article) -> Article:
    """`fresh` with the enrichment of `stored` (in place)."""
    for name in ENRICHED:
        setattr(fresh, name, getattr(stored, name))
    return fresh


def split_reusable(articles: list[Article], stored: dict[str, Article],
                   version: str) -> tuple[list[Article], list[Article]]:
    """(articles given their stored enrichment, articles to enrich), each in input order."""
    kept, todo = [], []
    for article in articles:
        old = stored.get(article.id)
        if old is not None and reusable(article, old, version):
            kept.append(keep_enrichment(article, old))
        else:
            todo.append(article)
    return kept, todo
