"""The typed records that flow through the pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

PIPELINE_VERSION = "0.1.0"
NOT_INDEXED = frozenset({"id", "notes"})  # Article fields that are not part of `_source`


@dataclass(slots=True)
class Entities:
    """Canonicalised named entities by kind (filled by enrichment)."""

    persons: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Article:
    """One news article, from extraction to the index."""

    title: str
    body: str
    # identity (filled by tasks.dedupe.identity)
    id: str = ""
    url: str | None = None
    canonical_url: str | None = None
    source: str | None = None
    source_domain: str | None = None
    feed: str | None = None
    origin: str | None = None  # the file path or URL this record was read from
    # content
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None  # always timezone-aware when set
    dateline: str | None = None
    lead: str | None = None
    language_hint: str | None = None  # declared by the page or the source list (ISO 639-1)
    # enrichment
    language: str | None = None
    language_confidence: float | None = None
    language_hint_mismatch: bool | None = None  # detected language differs from the declared one
    entities: Entities = field(default_factory=Entities)
    countries: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    relevance: float | None = None
    enrichment_version: str | None = None  # model + alias table + taxonomy that produced the above
    # dedup
    content_hash: str = ""
    near_dup_bands: list[str] = field(default_factory=list)  # LSH band terms (tasks.dedupe.near_dup)
    near_dup_sig: str = ""  # encoded MinHash signature, for verifying candidates
    near_dup_shingles: int = 0
    cluster_id: str | None = None
    duplicate_of: str | None = None
    # provenance
    extractor: str = ""
    fetched_at: datetime | None = None
    pipeline_version: str = PIPELINE_VERSION
    # What was wrong but not fatal (e.g. "date-out-of-range": the date was dropped): counted in
    # the run report, never indexed.
    notes: list[str] = field(default_factory=list)

    @property
    def word_count(self) -> int:
        """Number of whitespace-separated words in the body."""
        return len(self.body.split())

    def to_document(self) -> dict[str, Any]:
        """The Elasticsearch `_source` for this article (no `id`, empty values dropped)."""
        doc: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in NOT_INDEXED:
                continue
            value = getattr(self, f.name)
            if isinstance(value, Entities):
                value = {k: v for k, v in dataclasses.asdict(value).items() if v}
            elif isinstance(value, datetime):
                value = value.isoformat()
            if value in (None, "", [], {}):
                continue
            doc[f.name] = value
        doc["word_count"] = self.word_count
        return doc

    @classmethod
    def from_document(cls, doc_id: str, source: dict[str, Any]) -> Article:
        """The article an indexed `_source` holds (the inverse of `to_document`)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: v for k, v in source.items() if k in known}
        for name in ("published_at", "fetched_at"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        values["entities"] = Entities(**values.get("entities", {}))
        return cls(id=doc_id, **values)


def _instant(value: str) -> datetime:
    """An ISO time as an aware datetime (naive = UTC), for comparing times with offsets."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def coverage_date(published_at: str | None, seen: Iterable[str | None]) -> str | None:
    """The time an article counts under in time charts: its publication date, else the
    earliest time we saw it (fetched, first ingested, an earlier first-seen date), so an
    undated article still has a place on the time axis instead of vanishing from it."""
    if published_at:
        return published_at
    times = [t for t in seen if t]
    return min(times, key=_instant) if times else None


@dataclass(frozen=True, slots=True)
class Link:
    """An article URL found by discovery, with what the listing said about it."""

    url: str
    source: str  # the source's name in sources.yaml
    title: str | None = None
    published_at: datetime | None = None
    outlet: str | None = None
    language: str | None = None
    listing: str | None = None  # the feed or sitemap URL it came from


@dataclass(frozen=True, slots=True)
class RobotsEntry:
    """A robots.txt as fetched (kept by the fetcher, stored in the state index): HTTP status
    (None: unreachable), text, and when (epoch seconds)."""

    status: int | None
    text: str
    fetched_at: float


@dataclass(slots=True, frozen=True)
class Skip:
    """An input that did not become an article, with a named reason."""

    origin: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


T = TypeVar("T")


def split_skips(items: Iterable[T | Skip]) -> tuple[list[T], list[Skip]]:
    """The items that are not Skips, and the Skips, each in their order."""
    kept: list[T] = []
    skips: list[Skip] = []
    for item in items:
        if isinstance(item, Skip):
            skips.append(item)
        else:
            kept.append(item)
    return kept, skips

