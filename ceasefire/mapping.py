"""What the article mapping holds, asked of the cluster: fields such as `coverage_date` arrive
with a mapping change, and export and timelines use them only once the index has them."""

from __future__ import annotations

from elasticsearch import Elasticsearch

COVERAGE_DATE = "coverage_date"  # the published date, else the first-seen date
PUBLISHED_AT = "published_at"


def has_field(es: Elasticsearch, index: str, name: str) -> bool:
    """Whether every index behind `index` maps the field `name`."""
    resp = es.indices.get_field_mapping(index=index, fields=name).body
    return bool(resp) and all(name in entry.get("mappings", {}) for entry in resp.values())


def coverage_field(es: Elasticsearch, index: str) -> str:
    """The date an article counts under: `coverage_date` where mapped (undated articles get their
    first-seen date), else `published_at`."""
    return COVERAGE_DATE if has_field(es, index, COVERAGE_DATE) else PUBLISHED_AT
