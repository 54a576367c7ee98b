"""The values researchers can filter on: the taxonomy's topics and conflicts, and the top
values the index holds for each facet (`ceasefire facets`); and, for filter values that match
no article, hints at the closest known values (`ceasefire.hints`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from ceasefire.hints import Hint, hint
from ceasefire.query import ENTITY_KINDS, FIELDS, Filters, Resolved, resolve_all, value_clause
from tasks.enrich.canonical import AliasTable, load_alias_table
from tasks.enrich.topics import load_taxonomy

# `ceasefire facets`: name shown -> keyword field.
TOP_FIELDS = {"source": "source", "language": "language", "persons": "entities.persons",
              "places": "entities.locations", "organizations": "entities.organizations",
              "groups": "entities.groups", "countries": "countries"}
KNOWN_TERMS = 1000  # index values per field considered for hints


@dataclass(frozen=True, slots=True)
class Named:
    """A taxonomy value, its label and how many indexed articles have it."""

    name: str
    label: str
    count: int


@dataclass(slots=True)
class FacetList:
    """What `ceasefire facets` shows."""

    total: int  # articles in the index
    taxonomy_version: str
    topics: list[Named]
    conflicts: list[Named]
    top: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "taxonomy_version": self.taxonomy_version,
                "topics": [{"name": t.name, "label": t.label, "count": t.count}
                           for t in self.topics],
                "conflicts": [{"name": c.name, "label": c.label, "count": c.count}
                              for c in self.conflicts],
                "top": {k: [{"key": key, "count": n} for key, n in v]
                        for k, v in self.top.items()}}


def _terms(resp: dict[str, Any], name: str) -> list[tuple[str, int]]:
    return [(b["key"], b["doc_count"]) for b in resp["aggregations"][name]["buckets"]]


def list_facets(es: Elasticsearch, index: str, size: int = 20) -> FacetList:
    """Valid topics and conflicts (the taxonomy's, plus any older ones the index still holds)
    with their article counts, and the top `size` values of every other facet."""
    taxonomy = load_taxonomy()
    aggs = {name: {"terms": {"field": fld, "size": size}} for name, fld in TOP_FIELDS.items()}
    aggs |= {"topics": {"terms": {"field": "topics", "size": KNOWN_TERMS}},
             "conflicts": {"terms": {"field": "conflicts", "size": KNOWN_TERMS}}}
    resp = es.search(index=index, size=0, track_total_hits=True, aggs=aggs).body

    def named(kind: str, names: list[str], labels: dict[str, str]) -> list[Named]:
        counts = dict(_terms(resp, kind))
        older = [n for n in counts if n not in labels]  # from an earlier taxonomy version
        return [Named(n, labels.get(n, "(not in the current taxonomy)"), counts.get(n, 0))
                for n in [*names, *older]]

    return FacetList(resp["hits"]["total"]["value"], taxonomy.version,
                     named("topics", taxonomy.topics, taxonomy.topic_labels),
                     named("conflicts", taxonomy.conflicts, taxonomy.conflict_labels),
                     {name: _terms(resp, name) for name in TOP_FIELDS})


def unmatched(es: Elasticsearch, index: str, values: list[Resolved]) -> list[Resolved]:
    """The filter values that match no article in the index, each on its own (one request)."""
    if not values:
        return []
    aggs = {f"v{i}": {"filter": value_clause(r)} for i, r in enumerate(values)}
    resp = es.search(index=index, size=0, aggs=aggs).body
    return [r for i, r in enumerate(values) if resp["aggregations"][f"v{i}"]["doc_count"] == 0]


def known_values(es: Elasticsearch, index: str, filters: set[str],
                 aliases: AliasTable | None = None) -> dict[str, list[str]]:
    """Values each filter could take: the taxonomy's topics and conflicts, the alias table's
    canonical names, then what the index holds (most frequent first)."""
    taxonomy = load_taxonomy()
    known: dict[str, list[str]] = {"topic": list(taxonomy.topics),
                                   "conflict": list(taxonomy.conflicts)}
    if filters & ENTITY_KINDS.keys():
        table = aliases or load_alias_table()
        for name, kinds in ENTITY_KINDS.items():
            known[name] = [a.name for a in table.by_name.values() if a.kind in kinds]
    aggs = {f"{name}:{fld}": {"terms": {"field": fld, "size": KNOWN_TERMS}}
            for name in filters for fld in FIELDS[name]}
    resp = es.search(index=index, size=0, aggs=aggs).body
    for key in aggs:
        name = key.split(":", 1)[0]
        held = [k for k, _ in _terms(resp, key)]
        known[name] = list(dict.fromkeys([*held, *known.get(name, [])]))
    return known


def filter_hints(es: Elasticsearch, index: str, filters: Filters,
                 aliases: AliasTable | None = None) -> list[Hint]:
    """A hint for every filter value that matches no article (none when all match)."""
    missing = unmatched(es, index, resolve_all(filters, aliases))
    if not missing:
        return []
    known = known_values(es, index, {r.filter for r in missing}, aliases)
    return [hint(r.filter, r.value, known.get(r.filter, []), r.canonical, r.other_filter)
            for r in missing]
