"""A generated corpus with known answers for export and timeline tests, and how to index it:
documents bulk-written with the store's own `bulk_items`, every count derivable in Python."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from ceasefire.mapping import has_field
from tasks.dedupe.clusters import dedupe_batch
from tasks.extract.html import parse_plain_text
from tasks.prepare import prepare_articles
from tasks.settings import Settings
from tasks.store.retrying import bulk_items
from tasks.store.write import write_batch
from tests.conftest import EXAMPLES

SOURCES = ["LBC", "IANS", "Reuters", "BBC"]
CONFLICTS = [["russia-ukraine", "israel-gaza"], ["russia-ukraine"], ["russia-ukraine"],
             ["israel-gaza"], ["sudan"], [], ["russia-ukraine"]]
START = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)
TRICKY_TITLE = 'Ceasefire "talks", día 1; Zelenskyy — Трамп\nsecond line'


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    source: dict[str, Any]

    @property
    def matches(self) -> bool:
        """Whether the query "ceasefire" finds it."""
        return "ceasefire" in self.source["title"].lower()

    @property
    def story(self) -> str:
        return self.source.get("cluster_id") or self.id

    @property
    def month(self) -> str | None:
        published = self.source.get("published_at")
        return published[:7] if published else None


def corpus(n: int = 90) -> list[Doc]:
    """`n` articles: two in three match "ceasefire"; every tenth is undated; clusters of three
    (the first of each, the representative, does not match) except the last six articles,
    which have no `cluster_id`; conflicts 0-2 per article (two: every seventh), sources and languages in turn."""
    docs = []
    for i in range(n):
        matching = i % 3 != 0
        title = TRICKY_TITLE if i == 1 else (
            f"Ceasefire talks resume in town {i}" if matching else f"Market report {i}")
        src: dict[str, Any] = {
            "title": title, "body": f"Report number {i} from the region.", "source": SOURCES[i % 4],
            "language": "fr" if i % 5 == 0 else "en", "conflicts": CONFLICTS[i % 7],
            "topics": ["prisoner-exchange"] if i % 2 else ["humanitarian-aid", "talks-mediation"],
            "entities": {"persons": ["Volodymyr Zelenskyy"]} if i % 7 == 0 else {},
            "relevance": round((i % 10) / 10, 1),
            "ingested_at": (START + timedelta(days=100, seconds=i)).isoformat(),
        }
        if i % 10 != 9:
            src["published_at"] = (START + timedelta(days=i)).isoformat()
        if i < n - 6:
            rep = f"doc-{3 * (i // 3):05d}"
            src["cluster_id"] = rep
            if i % 3:
                src["duplicate_of"] = rep
        docs.append(Doc(f"doc-{i:05d}", {k: v for k, v in src.items() if v not in ([], {})}))
    return docs


def index_docs(es: Elasticsearch, settings: Settings, docs: list[Doc]) -> None:
    """Bulk-create `docs` through the write alias and refresh; where the mapping has
    `coverage_date`, set as the pipeline does (published, else first seen)."""
    coverage = has_field(es, settings.read_alias, "coverage_date")

    def source(d: Doc) -> dict[str, Any]:
        seen = d.source.get("published_at") or d.source.get("ingested_at")
        return {**d.source, "coverage_date": seen} if coverage and seen else d.source

    outcome = bulk_items(es, [{"_op_type": "create", "_index": settings.write_alias, "_id": d.id,
                               "_source": source(d)} for d in docs], chunk_size=2000)
    assert not outcome.failed, outcome.failed[0].error_text()
    es.indices.refresh(index=settings.read_alias)


def months(docs: list[Doc]) -> Counter[str]:
    """Dated articles per month."""
    return Counter(m for d in docs if (m := d.month))


def ingest_samples(es: Elasticsearch, settings: Settings) -> None:
    """The two sample articles through the pipeline's own steps (prepare, cluster, write; no
    enrichment, so no spaCy)."""
    articles, skips = prepare_articles([parse_plain_text(p.read_text(), str(p))
                                        for p in sorted(EXAMPLES.glob("*.txt"))])
    assert not skips
    write_batch(es, settings, articles, dedupe_batch(es, settings.read_alias, articles).plan.relabel)
