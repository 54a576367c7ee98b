"""A generated corpus for facet, filter and dashboard tests: articles whose facets cycle
through known values (multi-valued conflicts and topics, no conflict, undated articles with
and without a fetch time), written through the real write path (`index_articles`, which sets
`coverage_date`), so every count a test asks for can be computed in Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from tasks.models import Article, Entities
from tasks.settings import Settings
from tasks.store.bulk import index_articles

SOURCES = ["LBC", "IANS", "Reuters", None]
LANGUAGES = ["en", "fr", "de"]
CONFLICTS = [[], ["russia-ukraine"], ["russia-ukraine", "israel-gaza"], ["sudan"], ["israel-gaza"]]
TOPICS = [[], ["prisoner-exchange"], ["prisoner-exchange", "humanitarian-aid"], ["full-ceasefire"]]
PERSONS = [[], ["Volodymyr Zelenskyy"], ["Volodymyr Zelenskyy", "Donald Trump"]]
PLACES = [([], []), (["Kyiv"], ["UA"]), (["Ukraine", "Kyiv"], ["UA"]), (["Gaza"], ["PS"]),
          (["Kursk"], ["RU"])]
ORGANIZATIONS = [([], []), (["United Nations"], []), ([], ["Hamas"])]  # (organizations, groups)
START = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)


def corpus(n: int = 60) -> list[Article]:
    """`n` articles; article i is published on day i from START except every fourth (undated:
    first seen when fetched, or, every eighth, when first ingested); clusters of three."""
    articles = []
    for i in range(n):
        locations, countries = PLACES[i % len(PLACES)]
        organizations, groups = ORGANIZATIONS[i % len(ORGANIZATIONS)]
        undated = i % 4 == 3
        articles.append(Article(
            title=f"Ceasefire report {i}", body=f"Report number {i} on the ceasefire talks.",
            id=f"fc-{i:04d}", url=f"https://news.example/fc-{i}", source=SOURCES[i % 4],
            language=LANGUAGES[i % 3], conflicts=CONFLICTS[i % 5], topics=TOPICS[i % 4],
            entities=Entities(persons=PERSONS[i % 3], locations=locations,
                              organizations=organizations, groups=groups),
            countries=countries, relevance=round((i % 11) / 10, 1),
            published_at=None if undated else START + timedelta(days=i),
            fetched_at=None if i % 8 == 7 else START + timedelta(days=i, hours=2),
            cluster_id=f"fc-{3 * (i // 3):04d}", content_hash=f"h{i}"))
    return articles


def index_corpus(es: Elasticsearch, settings: Settings, articles: list[Article]) -> None:
    """Write `articles` through the write alias (as an ingest does) and refresh."""
    report = index_articles(es, settings.write_alias, articles)
    assert report.created == len(articles) and not report.rejections
    es.indices.refresh(index=settings.read_alias)


def documents(articles: list[Article]) -> list[dict[str, Any]]:
    """The `_source` each article has before the index step adds its stamps."""
    return [a.to_document() for a in articles]


def values(source: dict[str, Any], field: str) -> list[Any]:
    """The values of a (dotted) field in a `_source`, as a list."""
    value: Any = source
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return [] if value is None else value if isinstance(value, list) else [value]
