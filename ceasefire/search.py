"""Full-text search with highlights and facets over the read alias (the query and filters
themselves: `ceasefire.query`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from ceasefire.facets import filter_hints
from ceasefire.hints import Hint
from ceasefire.query import Filters, Resolved, article_query, resolve_all, search_fields

HIGHLIGHT_TAGS = ("[[", "]]")
FACETS = {"source": "source", "language": "language", "conflicts": "conflicts", "topics": "topics",
          "persons": "entities.persons", "countries": "countries"}


@dataclass(slots=True)
class Hit:
    id: str
    score: float
    title: str
    source: str | None
    published_at: str | None
    url: str | None
    origin: str | None
    highlights: list[str]
    cluster_id: str | None = None
    copies: int = 1  # articles in this hit's near-duplicate cluster that match the query
    copy_sources: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SearchResult:
    total: int  # matching articles
    stories: int  # matching near-duplicate clusters (unique stories)
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    took_ms: int
    hints: list[Hint] = field(default_factory=list)  # filter values no article has
    aliases: list[Resolved] = field(default_factory=list)  # values the alias table renamed

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "stories": self.stories, "took_ms": self.took_ms,
            "hits": [asdict(h) for h in self.hits],
            "facets": {k: [{"key": key, "count": n} for key, n in v]
                       for k, v in self.facets.items()},
            "aliases": [{"filter": r.filter, "value": r.value, "canonical": r.canonical}
                        for r in self.aliases],
            "hints": [h.to_dict() for h in self.hints],
        }


HIGHLIGHTS = {"title": {"number_of_fragments": 0},
              "body": {"fragment_size": 180, "number_of_fragments": 2},
              "lead": {"fragment_size": 180, "number_of_fragments": 1}}


def highlight_fields(languages: Collection[str] = ()) -> dict[str, dict[str, Any]]:
    """Highlights of title, lead and body, each also marking what matched in its stemmed
    sub-fields the query searches (unified highlighter, `matched_fields`): "négociations"
    highlights [[négociation]]. A sub-field the cluster lacks is simply not there."""
    searched = [f.partition("^")[0] for f in search_fields(languages)]
    return {base: {**spec, "type": "unified",
                   "matched_fields": [f for f in searched if f.partition(".")[0] == base]}
            for base, spec in HIGHLIGHTS.items()}


def build_query(text: str, filters: Filters | None = None, size: int = 10,
                collapse: bool = False) -> dict[str, Any]:
    """The search request body: all words must match; exact phrases rank higher.

    With `collapse`, one hit per near-duplicate cluster, with the cluster's matching copies.
    """
    body: dict[str, Any] = {
        "size": size,
        "track_total_hits": True,
        "query": article_query(text, filters),
        "_source": ["title", "source", "published_at", "url", "origin", "cluster_id"],
        "highlight": {
            "pre_tags": [HIGHLIGHT_TAGS[0]], "post_tags": [HIGHLIGHT_TAGS[1]],
            "fields": highlight_fields((filters or Filters()).language),
        },
        "aggs": {
            **{name: {"terms": {"field": fld, "size": 10}} for name, fld in FACETS.items()},
            "published_month": {"date_histogram": {"field": "published_at",
                                                   "calendar_interval": "month",
                                                   "format": "yyyy-MM", "min_doc_count": 1}},
            "undated": {"missing": {"field": "published_at"}},
            "stories": {"cardinality": {"field": "cluster_id"}},
        },
    }
    if collapse:
        # Inner hits earliest first: the hit shows the cluster's earliest matching copy.
        body["collapse"] = {"field": "cluster_id", "inner_hits": {
            "name": "copies", "size": 20, "_source": body["_source"],
            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}, {"ingested_at": "asc"}]}}
    return body


def parse_response(resp: dict[str, Any]) -> SearchResult:
    """Hits, highlights and facet counts from a search response."""
    hits = []
    for h in resp["hits"]["hits"]:
        hl = h.get("highlight", {})
        snippets = hl.get("body") or hl.get("lead") or []
        copies = h.get("inner_hits", {}).get("copies", {}).get("hits", {})
        shown = copies["hits"][0] if copies.get("hits") else h
        src = shown.get("_source", {})
        title = next(iter(hl.get("title") or []), None) if shown is h else None
        hits.append(Hit(shown["_id"], h.get("_score") or 0.0, title or src.get("title"),
                        src.get("source"), src.get("published_at"), src.get("url"),
                        src.get("origin"), snippets, src.get("cluster_id"),
                        copies.get("total", {}).get("value", 1),
                        sorted({c["_source"].get("source") or "?" for c in copies.get("hits", [])})))
    aggs = resp.get("aggregations", {})
    facets = {name: [(b["key"], b["doc_count"]) for b in aggs.get(name, {}).get("buckets", [])]
              for name in FACETS}
    months = [(b["key_as_string"], b["doc_count"])
              for b in aggs.get("published_month", {}).get("buckets", [])]
    undated = aggs.get("undated", {}).get("doc_count", 0)
    facets["published_month"] = months + ([("undated", undated)] if undated else [])
    stories = aggs.get("stories", {}).get("value", 0)
    return SearchResult(resp["hits"]["total"]["value"], stories, hits, facets, resp.get("took", 0))


def search(es: Elasticsearch, index: str, text: str, filters: Filters | None = None,
           size: int = 10, collapse: bool = False, hints: bool = True) -> SearchResult:
    """Run a search against `index` (normally the read alias). With `hints`, filter values
    that match no article at all get the closest known values (one more request when there
    are filter values, two when one of them matches nothing)."""
    result = parse_response(es.search(index=index, **build_query(text, filters, size, collapse)).body)
    if filters is not None:
        result.aliases = [r for r in resolve_all(filters)
                          if r.canonical and r.canonical != r.value]
        if hints:
            result.hints = filter_hints(es, index, filters)
    return result
