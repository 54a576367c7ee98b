"""Which articles a researcher asks for: the query text and the filters, as one Elasticsearch
query shared by search, export and timelines (so all three count the same articles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Language-neutral fields everywhere, English-stemmed `.en` sub-fields where the cluster has
# them (a field missing from the mapping simply matches nothing).
SEARCH_FIELDS = ["title^3", "title.en^2", "lead^2", "lead.en", "body", "body.en",
                 "authors.text", "dateline"]


@dataclass(slots=True)
class Filters:
    """Facet filters a search is restricted to."""

    source: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    conflict: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)
    published_from: str | None = None
    published_to: str | None = None



def filter_clauses(filters: Filters) -> list[dict[str, Any]]:
    """The filters as `bool.filter` clauses (no scoring)."""
    flt: list[dict[str, Any]] = []
    if filters.source:
        flt.append({"terms": {"source": filters.source}})
    for values, fld in ((filters.language, "language"), (filters.conflict, "conflicts"),
                        (filters.topic, "topics"), (filters.person, "entities.persons")):
        if values:
            flt.append({"terms": {fld: values}})
    if filters.published_from or filters.published_to:
        rng = {k: v for k, v in (("gte", filters.published_from), ("lte", filters.published_to))
               if v}
        flt.append({"range": {"published_at": rng}})
    return flt


def article_query(text: str, filters: Filters | None = None) -> dict[str, Any]:
    """The articles matching `text` (all words must match; exact phrases rank higher; empty
    text: every article) and `filters`."""
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if text.strip():
        must.append({"simple_query_string": {"query": text, "fields": SEARCH_FIELDS,
                                             "default_operator": "and"}})
        should += [{"match_phrase": {"title": {"query": text, "slop": 2, "boost": 3}}},
                   {"match_phrase": {"body": {"query": text, "slop": 2, "boost": 2}}}]
    else:
        must.append({"match_all": {}})
    return {"bool": {"must": must, "should": should, "filter": filter_clauses(filters or Filters())}}
