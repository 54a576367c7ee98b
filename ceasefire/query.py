"""Which articles a researcher asks for: the query text and the filters, as one Elasticsearch
query shared by search, export and timelines (so all three count the same articles).

Filters are checked before Elasticsearch sees them (`FilterError`: a bad date, an inverted
range, a relevance outside 0..1) and match the way researchers type: keyword values in any
letter case, and person, place and organization names through the alias table, so any alias
("Zelensky", "Зеленський") finds the canonical name the index holds.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from index_mappings import stemmed_languages
from tasks.enrich.canonical import AliasTable, clean_mention, country_code, load_alias_table
from tasks.settings import ConfigError

# Language-neutral fields match the words as typed; the stemmed sub-fields (`body.fr`: French
# stems) match other forms of them ("négociations" finds "négociation"). A sub-field the
# cluster lacks simply matches nothing, so the same query runs on a node without stemming.
BASE_FIELDS = ("title^3", "lead^2", "body", "authors.text", "dateline")
STEMMED_BOOSTS = {"title": "^2", "lead": "", "body": ""}
STEMMED_LANGUAGES = tuple(stemmed_languages())


def search_fields(languages: Collection[str] = ()) -> list[str]:
    """The fields query text is matched in: the language-neutral ones, and the stemmed
    sub-fields of `languages` (a language filter's values), or of every stemmed language when
    no filter names one. Fewer fields, fewer clauses: a filtered query may be longer."""
    asked = {v.lower() for v in languages}
    chosen = [c for c in STEMMED_LANGUAGES if c in asked] if languages else list(STEMMED_LANGUAGES)
    return [*BASE_FIELDS, *(f"{name}.{code}{boost}" for code in chosen
                            for name, boost in STEMMED_BOOSTS.items())]


# Filter name -> the keyword fields it matches (any of them).
FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("source",), "language": ("language",), "conflict": ("conflicts",),
    "topic": ("topics",), "person": ("entities.persons",), "place": ("entities.locations",),
    "organization": ("entities.organizations", "entities.groups"),
}
# Entity filters -> the alias-table kinds whose canonical names they accept.
ENTITY_KINDS: dict[str, frozenset[str]] = {
    "person": frozenset({"person"}), "place": frozenset({"location"}),
    "organization": frozenset({"organization", "group"}),
}
FILTER_OF_KIND = {"person": "person", "location": "place", "organization": "organization",
                  "group": "organization"}
# What --from/--to may apply to (the dates `ceasefire timeline` can count by).
DATE_FIELDS = ("published_at", "coverage_date", "fetched_at", "ingested_at")


class FilterError(ConfigError, ValueError):
    """A filter no article could match for a reason we can tell before searching; the CLI
    says why in one line and exits 2, like any other usage problem."""


# What one request may ask, the same for the CLI and the HTTP API. Elasticsearch turns every
# word into a clause per search field and refuses more than 8,192 clauses on the smallest node
# we run (512 MB heap: "too many clauses"; larger heaps allow more), so the words a query may
# have depend on how many fields it searches: 352 across every stemmed language, 1,000 with a
# language filter (measured on the local node by tests/test_stemming.py).
MAX_QUERY_CHARS = 10_000  # characters of query text
MAX_QUERY_TERMS = 1_000  # words of query text, at most
MAX_CLAUSES = 8_192  # clauses per query on a 512 MB node
MAX_VALUES = 20  # values per filter
MAX_VALUE_CHARS = 1_000  # characters per filter value


def max_terms(languages: Collection[str] = ()) -> int:
    """The words a query searching these languages' fields may have."""
    return min(MAX_QUERY_TERMS, MAX_CLAUSES // len(search_fields(languages)) - 4)


def check_text(text: str, languages: Collection[str] = ()) -> None:
    """FilterError for query text longer than Elasticsearch can take as one query (searching
    the stemmed fields of `languages`, a language filter's values; every language if none)."""
    terms = len(text.split())
    limit = max_terms(languages)
    if len(text) > MAX_QUERY_CHARS or terms > limit:
        more = "" if languages or limit == MAX_QUERY_TERMS else \
            f" ({MAX_QUERY_TERMS} with --language, which searches fewer fields)"
        raise FilterError(f"the query is too long ({len(text)} characters, {terms} words): at most "
                          f"{MAX_QUERY_CHARS} characters and {limit} words{more}, as "
                          "Elasticsearch refuses longer ones (too many clauses); search for the "
                          "distinctive words, or narrow with filters")


@dataclass(frozen=True, slots=True)
class Period:
    """What a date bound covers: [start, end). An exact time covers one instant (end = start)."""

    start: datetime
    end: datetime

    @property
    def exact(self) -> bool:
        return self.start == self.end


def parse_when(value: str, flag: str = "date") -> Period:
    """`YYYY`, `YYYY-MM`, `YYYY-MM-DD` (the whole year, month or day, UTC) or an ISO time
    (naive = UTC), as the period it covers; FilterError for anything else."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            start = datetime(int(text), 1, 1, tzinfo=UTC)
            return Period(start, start.replace(year=start.year + 1))
        if month := re.fullmatch(r"(\d{4})-(\d{2})", text):
            start = datetime(int(month[1]), int(month[2]), 1, tzinfo=UTC)
            days = calendar.monthrange(start.year, start.month)[1]
            return Period(start, start + timedelta(days=days))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            start = datetime.combine(date.fromisoformat(text), time(), UTC)
            return Period(start, start + timedelta(days=1))
        if not re.match(r"\d{4}-?\d{2}", text):  # fromisoformat also takes times of day alone
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise FilterError(f"{flag} {value!r} is not a date: use YYYY-MM-DD (or YYYY, YYYY-MM, "
                          "or an ISO time such as 2025-10-13T06:30:00+05:30)") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Period(moment, moment)


@dataclass(slots=True)
class Filters:
    """Facet filters a search is restricted to: values of one filter are alternatives (any
    may match), different filters must all match. Checked when made (`FilterError`)."""

    source: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    conflict: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    person: list[str] = field(default_factory=list)
    published_from: str | None = None
    published_to: str | None = None
    place: list[str] = field(default_factory=list)
    organization: list[str] = field(default_factory=list)
    min_relevance: float | None = None
    # The field --from/--to apply to: `coverage_date` (published, else first seen) also
    # places undated articles in time, as timelines and Kibana's time charts do.
    date_field: str = "published_at"

    def __post_init__(self) -> None:
        check(self)

    def values(self) -> list[tuple[str, str]]:
        """(filter, value) for every value of the keyword and entity filters."""
        return [(name, v) for name in FIELDS for v in getattr(self, name)]


def check(filters: Filters) -> None:
    """FilterError unless every filter can be asked of the index."""
    for name in FIELDS:
        values = getattr(filters, name)
        longest = max((len(v) for v in values), default=0)
        if len(values) > MAX_VALUES or longest > MAX_VALUE_CHARS:
            raise FilterError(f"{name}: at most {MAX_VALUES} values of at most {MAX_VALUE_CHARS} "
                              f"characters each (given: {len(values)}, the longest "
                              f"{longest} characters)")
    date_range(filters)
    if filters.min_relevance is not None:
        x = filters.min_relevance
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) \
                or not 0 <= x <= 1:
            raise FilterError(f"--min-relevance {x!r} is outside 0..1 (relevance is 0 for an "
                              "article with no ceasefire vocabulary, near 1 for one about a "
                              "ceasefire)")
    if filters.date_field not in DATE_FIELDS:
        raise FilterError(f"date field {filters.date_field!r} is not one of {DATE_FIELDS}")


def date_range(filters: Filters) -> dict[str, str]:
    """The range on the date field: from the start of `--from` to the end of `--to` (a day,
    month or year given as such is included whole); FilterError if it is inverted."""
    rng: dict[str, str] = {}
    start = end = None
    if filters.published_from:
        start = parse_when(filters.published_from, "--from")
        rng["gte"] = start.start.isoformat()
    if filters.published_to:
        end = parse_when(filters.published_to, "--to")
        rng["lte" if end.exact else "lt"] = end.end.isoformat()
    if start and end and (start.start > end.end or (start.start == end.end and not end.exact)):
        raise FilterError(f"--from {filters.published_from} is after --to "
                          f"{filters.published_to}: no article can match (swap them?)")
    return rng


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one filter value stands for in the index."""

    filter: str  # source | language | conflict | topic | person | place | organization
    value: str  # as given
    names: tuple[str, ...]  # keyword values that match (the canonical name first)
    countries: tuple[str, ...] = ()  # ISO codes: a place filter naming a country
    canonical: str | None = None  # the alias table's name for the value, if it is an alias
    other_filter: str | None = None  # the filter the alias table puts this name under instead


def resolve(name: str, value: str, aliases: AliasTable | None = None) -> Resolved:
    """A filter value as the index holds it: entity names through the alias table (unknown
    names stay as given), a place naming a country also as its ISO code."""
    value = value.strip()
    if name not in ENTITY_KINDS:
        return Resolved(name, value, (value,))
    table = aliases or load_alias_table()
    actor = table.lookup(value) or table.lookup(clean_mention(value) or value)
    if actor is not None and actor.kind not in ENTITY_KINDS[name]:
        return Resolved(name, value, (value,), other_filter=FILTER_OF_KIND.get(actor.kind))
    canonical = actor.name if actor is not None else None
    names = tuple(dict.fromkeys(n for n in (canonical, value) if n))
    countries: tuple[str, ...] = ()
    if name == "place":
        code = country_code(canonical) if canonical else \
            country_code(value) if len(value) > 3 or value.isupper() else None
        if code and (actor is None or actor.country in (None, code)):
            countries = (code,)
    return Resolved(name, value, names, countries, canonical)


def any_term(fields: Iterable[str], values: Iterable[str]) -> dict[str, Any]:
    """Articles with one of `values` in one of the keyword `fields`, in any letter case (the
    minimal node has no normalizers, and `terms` has no case-insensitive option)."""
    terms = [{"term": {f: {"value": v, "case_insensitive": True}}}
             for f in fields for v in dict.fromkeys(values)]
    return terms[0] if len(terms) == 1 else {"bool": {"should": terms, "minimum_should_match": 1}}


def value_clause(resolved: Resolved) -> dict[str, Any]:
    """The articles one resolved filter value matches."""
    clause = any_term(FIELDS[resolved.filter], resolved.names)
    if resolved.countries:
        clause = {"bool": {"should": [clause, any_term(["countries"], resolved.countries)],
                           "minimum_should_match": 1}}
    return clause


def resolve_all(filters: Filters, aliases: AliasTable | None = None) -> list[Resolved]:
    """Every keyword and entity filter value, resolved (the alias table loaded only if needed)."""
    pairs = filters.values()
    if aliases is None and any(name in ENTITY_KINDS for name, _ in pairs):
        aliases = load_alias_table()
    return [resolve(name, value, aliases) for name, value in pairs if value.strip()]


def filter_clauses(filters: Filters, aliases: AliasTable | None = None) -> list[dict[str, Any]]:
    """The filters as `bool.filter` clauses (no scoring)."""
    check(filters)
    by_filter: dict[str, list[dict[str, Any]]] = {}
    for resolved in resolve_all(filters, aliases):
        by_filter.setdefault(resolved.filter, []).append(value_clause(resolved))
    flt = [clauses[0] if len(clauses) == 1 else
           {"bool": {"should": clauses, "minimum_should_match": 1}}
           for clauses in by_filter.values()]
    if rng := date_range(filters):
        flt.append({"range": {filters.date_field: rng}})
    if filters.min_relevance:  # at least 0 is every article, with a relevance or not
        flt.append({"range": {"relevance": {"gte": filters.min_relevance}}})
    return flt


def article_query(text: str, filters: Filters | None = None) -> dict[str, Any]:
    """The articles matching `text` (all words must match; exact phrases rank higher; empty
    text: every article) and `filters`."""
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    filters = filters or Filters()
    check_text(text, filters.language)
    if text.strip():
        fields = search_fields(filters.language)
        must.append({"simple_query_string": {"query": text, "fields": fields,
                                             "default_operator": "and"}})
        should += [{"match_phrase": {"title": {"query": text, "slop": 2, "boost": 3}}},
                   {"match_phrase": {"body": {"query": text, "slop": 2, "boost": 2}}}]
    else:
        must.append({"match_all": {}})
    return {"bool": {"must": must, "should": should, "filter": filter_clauses(filters)}}
