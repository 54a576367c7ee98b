"""Every article a query matches, streamed to CSV, JSON Lines or Parquet a page at a time.

Pages come from one point in time (PIT) with `search_after`: the export sees one snapshot of
the index, goes past the 10,000-hit window of from/size, and holds one page in memory (Parquet:
one row group), whatever the size of the result.

`collapse` (one row per near-duplicate cluster) does not use field collapsing: with
`search_after`, Elasticsearch collapses only when the sort is the collapse field alone, so
which copy stands for a cluster is arbitrary, and `inner_hits` to choose it costs one more
search per cluster. A composite aggregation over `cluster_id` pages through the clusters
instead, one request a page: its `top_hits` picks the earliest matching copy (as
`search --collapse` shows it), its doc count is the cluster's matching copies (`copies`), and
articles without a `cluster_id` are each a story of their own. The copies then add up to the
search total, which the result checks.
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from elasticsearch import ApiError, Elasticsearch, TransportError

from ceasefire.query import Filters, article_query
from tasks.store.retrying import call

LOGGER = logging.getLogger(__name__)

Kind = Literal["str", "list", "float", "int", "date", "bool"]
PAGE_SIZE = 1000
ROW_GROUP_ROWS = 10_000  # Parquet rows per row group: bounded memory, few enough groups
KEEP_ALIVE = "5m"  # how long the point in time lives between two pages
LIST_SEPARATOR = "; "  # multi-valued fields in one CSV cell


@dataclass(frozen=True, slots=True)
class Field:
    """An exportable column: where it is in `_source` (empty: not in `_source`) and its type."""

    path: tuple[str, ...]
    kind: Kind


def _f(path: str, kind: Kind = "str") -> Field:
    return Field(tuple(path.split(".")) if path else (), kind)


FIELDS: dict[str, Field] = {
    "id": _f(""), "url": _f("url"), "canonical_url": _f("canonical_url"), "title": _f("title"),
    "lead": _f("lead"), "body": _f("body"), "source": _f("source"),
    "source_domain": _f("source_domain"), "feed": _f("feed"), "origin": _f("origin"),
    "authors": _f("authors", "list"), "published_at": _f("published_at", "date"),
    "coverage_date": _f("coverage_date", "date"), "dateline": _f("dateline"),
    "language": _f("language"), "language_confidence": _f("language_confidence", "float"),
    "conflicts": _f("conflicts", "list"), "topics": _f("topics", "list"),
    "persons": _f("entities.persons", "list"), "organizations": _f("entities.organizations", "list"),
    "locations": _f("entities.locations", "list"), "groups": _f("entities.groups", "list"),
    "events": _f("entities.events", "list"), "countries": _f("countries", "list"),
    "relevance": _f("relevance", "float"), "word_count": _f("word_count", "int"),
    "cluster_id": _f("cluster_id"), "duplicate_of": _f("duplicate_of"),
    "content_hash": _f("content_hash"), "extractor": _f("extractor"),
    "fetched_at": _f("fetched_at", "date"), "ingested_at": _f("ingested_at", "date"),
    "updated_at": _f("updated_at", "date"),
    "copies": _f("", "int"),  # with collapse: the cluster's matching articles
}
DEFAULT_FIELDS = ("id", "url", "title", "source", "published_at", "coverage_date", "language",
                  "conflicts", "topics", "persons", "relevance", "cluster_id", "duplicate_of")
FORMATS = {"csv": (".csv",), "jsonl": (".jsonl", ".ndjson"), "parquet": (".parquet", ".pq")}
# Rows in date order; `_shard_doc` breaks ties, as a PIT's `search_after` needs a unique sort.
SORT = [{"published_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}},
        {"_shard_doc": "asc"}]
# The copy that stands for a cluster: the earliest, as `search --collapse` shows.
EARLIEST = [{"published_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}},
            {"ingested_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}}]


class ExportError(ValueError):
    """An export that cannot be made as asked (unknown field, unknown format)."""


def parse_fields(text: str) -> list[str]:
    """Column names from a comma-separated list (case and spaces ignored, repeats dropped)."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if name and name not in names:
            names.append(name)
    if not names:
        raise ExportError(f"no fields given; known fields: {', '.join(FIELDS)}")
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        hints = [f"{n!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(n, FIELDS, 1))
                 else repr(n) for n in unknown]
        raise ExportError(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                          f"known fields: {', '.join(FIELDS)}")
    return names


def default_fields(has_coverage_date: bool, collapse: bool) -> list[str]:
    """The default columns: `coverage_date` only where the index has it, `copies` with collapse."""
    names = [n for n in DEFAULT_FIELDS if n != "coverage_date" or has_coverage_date]
    return [*names, "copies"] if collapse else names


def format_for(path: Path, fmt: str | None) -> str:
    """The output format: `fmt` if given, else from the file's extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise ExportError(f"cannot tell the format of {path.name!r} from its extension: "
                      f"give --format ({', '.join(FORMATS)})")


def _value(source: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = source
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _typed(value: Any, kind: Kind) -> Any:
    """A `_source` value as its column's type (None when absent)."""
    if kind == "list":
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if value is None or value == []:
        return None
    if isinstance(value, list):  # a single-valued field given as a list in `_source`
        return LIST_SEPARATOR.join(str(v) for v in value) if kind in ("str", "date") else value[0]
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def row_of(hit: dict[str, Any], fields: list[str], copies: int = 1) -> dict[str, Any]:
    """One output row from a search hit: the chosen fields, typed, in order."""
    source = hit.get("_source") or {}
    row: dict[str, Any] = {}
    for name in fields:
        if name == "id":
            row[name] = hit["_id"]
        elif name == "copies":
            row[name] = copies
        else:
            spec = FIELDS[name]
            row[name] = _typed(_value(source, spec.path), spec.kind)
    return row


def source_includes(fields: list[str]) -> list[str]:
    """The `_source` paths the chosen fields need."""
    return sorted({".".join(FIELDS[n].path) for n in fields if FIELDS[n].path})


def csv_cell(value: Any) -> str:
    """A CSV cell: lists joined with "; ", booleans as true/false, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_utc(value: str | None) -> datetime | None:
    """An ISO date or time as an aware UTC datetime (a time without a zone is UTC, as in the
    index)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        if value.lstrip("-").isdigit():  # epoch_millis, which the mapping also accepts
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        raise ExportError(f"{value!r} is not an ISO date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


class RowWriter(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class CsvRows:
    """CSV with a header row, minimal quoting (the csv module's)."""

    def __init__(self, stream: IO[str], fields: list[str]) -> None:
        self._writer = csv.writer(stream)
        self._fields = fields
        self._writer.writerow(fields)

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._writer.writerows([csv_cell(r[f]) for f in self._fields] for r in rows)

    def close(self) -> None:
        pass


class JsonlRows:
    """One JSON object a line, lists kept as lists, text as UTF-8 (not escaped)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._stream.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

    def close(self) -> None:
        pass


class ParquetRows:
    """Parquet with a typed schema (dates as UTC timestamps), written `group_rows` rows a row
    group, so memory holds one group."""

    def __init__(self, path: Path, fields: list[str], group_rows: int = ROW_GROUP_ROWS) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]  # heavy: only when writing Parquet
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        types = {"str": pa.string(), "list": pa.list_(pa.string()), "float": pa.float64(),
                 "int": pa.int64(), "date": pa.timestamp("ms", tz="UTC"), "bool": pa.bool_()}
        self._pa = pa
        self._fields = fields
        self._dates = [f for f in fields if FIELDS[f].kind == "date"]
        self._schema = pa.schema([(f, types[FIELDS[f].kind]) for f in fields])
        self._writer = pq.ParquetWriter(str(path), self._schema)
        self._group_rows = group_rows
        self._pending: list[dict[str, Any]] = []

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            for name in self._dates:
                row[name] = to_utc(row[name])
        self._pending.extend(rows)
        while len(self._pending) >= self._group_rows:
            self._flush(self._group_rows)

    def _flush(self, n: int) -> None:
        group, self._pending = self._pending[:n], self._pending[n:]
        table = self._pa.Table.from_pylist(group, schema=self._schema)
        self._writer.write_table(table, row_group_size=len(group))

    def close(self) -> None:
        if self._pending:
            self._flush(len(self._pending))
        self._writer.close()


@contextmanager
def open_rows(path: Path, fmt: str, fields: list[str]) -> Iterator[RowWriter]:
    """A writer of `fmt` rows into `path`, which appears only once everything is written
    (a failed export leaves no half file that looks whole)."""
    part = path.with_name(path.name + ".part")
    try:
        if fmt == "parquet":
            parquet = ParquetRows(part, fields)
            try:
                yield parquet
            finally:
                parquet.close()
        else:
            with part.open("w", encoding="utf-8", newline="") as stream:
                writer: RowWriter = CsvRows(stream, fields) if fmt == "csv" else JsonlRows(stream)
                yield writer
                writer.close()
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


@dataclass(slots=True)
class ExportResult:
    path: Path
    format: str
    rows: int
    articles: int  # the search total: matching articles
    covered: int  # the articles the rows stand for (with collapse: their copies added up)
    collapse: bool = False

    @property
    def complete(self) -> bool:
        """Every matching article is in the file (once, or counted in its story's copies)."""
        return self.covered == self.articles

    def summary(self) -> str:
        """One line saying what was written and whether it is every matching article."""
        head = f"{_count(self.rows, 'row')} written to {self.path} ({self.format})"
        if self.collapse:
            head += f", one per story: {_count(self.rows, 'story', 'stories')} (near-duplicate clusters)"
            verdict = (f" whose copies add up to all {_count(self.articles, 'matching article')} "
                       "(the search total)" if self.complete else
                       f" covering {_count(self.covered, 'article')}, but the search total is "
                       f"{self.articles:,}: the file is INCOMPLETE")
        else:
            verdict = (f": all {_count(self.articles, 'matching article')} (the search total)"
                       if self.complete else
                       f", but the search total is {self.articles:,}: the file is INCOMPLETE")
        return head + verdict


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


Progress = Callable[[int, int], None]  # articles done, articles in all


@contextmanager
def point_in_time(es: Elasticsearch, index: str) -> Iterator[dict[str, str]]:
    """A point in time on `index` (as a search's `pit`; later answers update its id), closed
    at the end."""
    opened = call(lambda: es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE),
                  what="open point in time")
    pit = {"id": opened["id"], "keep_alive": KEEP_ALIVE}
    try:
        yield pit
    finally:
        with suppress(ApiError, TransportError):  # it expires by itself anyway
            es.close_point_in_time(id=pit["id"])


def _search(es: Elasticsearch, pit: dict[str, str], what: str, **body: Any) -> dict[str, Any]:
    resp = call(lambda: es.search(pit=pit, **body).body, what=what)
    pit["id"] = resp.get("pit_id", pit["id"])
    return resp


def hit_pages(es: Elasticsearch, pit: dict[str, str], query: dict[str, Any], source: list[str],
              page_size: int = PAGE_SIZE) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Pages of hits in date order with the search total (exact), until none is left."""
    after: list[Any] | None = None
    total = 0
    while True:
        extra = {"search_after": after} if after else {}
        resp = _search(es, pit, "export page", size=page_size, query=query, source=source or False,
                       sort=SORT, track_total_hits=after is None, **extra)
        hits = resp["hits"]["hits"]
        if after is None:
            total = resp["hits"]["total"]["value"]
        yield hits, total
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]


def story_pages(es: Elasticsearch, pit: dict[str, str], query: dict[str, Any], source: list[str],
                page_size: int = PAGE_SIZE) -> Iterator[list[tuple[dict[str, Any], int]]]:
    """Pages of (earliest matching copy, matching copies) per cluster, by cluster id: first the
    clusters of the articles that have one, then each article without a `cluster_id`."""
    clustered = {"bool": {"filter": [query, {"exists": {"field": "cluster_id"}}]}}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": page_size,
                                     "sources": [{"cluster": {"terms": {"field": "cluster_id"}}}]}
        if after:
            composite["after"] = after
        aggs = {"stories": {"composite": composite, "aggs": {"first": {"top_hits": {
            "size": 1, "_source": source or False, "sort": EARLIEST}}}}}
        resp = _search(es, pit, "export stories page", size=0, query=clustered, aggs=aggs,
                       track_total_hits=False)
        stories = resp["aggregations"]["stories"]
        buckets = stories["buckets"]
        if not buckets:
            break
        yield [(b["first"]["hits"]["hits"][0], b["doc_count"]) for b in buckets]
        after = stories.get("after_key")
    alone = {"bool": {"filter": [query], "must_not": [{"exists": {"field": "cluster_id"}}]}}
    for hits, _ in hit_pages(es, pit, alone, source, page_size):
        if hits:
            yield [(hit, 1) for hit in hits]


def row_pages(es: Elasticsearch, index: str, text: str, filters: Filters | None,
              fields: list[str], *, collapse: bool = False,
              page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """The rows `export` would write, a page at a time from one point in time (closed when the
    generator is), for callers that stream them elsewhere (the HTTP API's `/export`)."""
    if "copies" in fields and not collapse:
        raise ExportError("the field 'copies' (a story's matching articles) needs collapse")
    query = article_query(text, filters)
    source = source_includes(fields)
    with point_in_time(es, index) as pit:
        if collapse:
            for page in story_pages(es, pit, query, source, page_size):
                yield [row_of(hit, fields, copies) for hit, copies in page]
        else:
            for hits, _ in hit_pages(es, pit, query, source, page_size):
                if hits:
                    yield [row_of(hit, fields) for hit in hits]


def export(es: Elasticsearch, index: str, text: str, filters: Filters | None, path: Path,
           fmt: str, fields: list[str], *, collapse: bool = False, page_size: int = PAGE_SIZE,
           progress: Progress | None = None) -> ExportResult:
    """Write every article matching `text` and `filters` (one row per cluster with `collapse`)
    to `path` as `fmt`, a page at a time; `progress` hears articles done of articles in all."""
    if "copies" in fields and not collapse:
        raise ExportError("the field 'copies' (a story's matching articles) needs --collapse")
    query = article_query(text, filters)
    source = source_includes(fields)
    tell = progress or (lambda done, total: None)
    result = ExportResult(path, fmt, 0, 0, 0, collapse)
    with point_in_time(es, index) as pit, open_rows(path, fmt, fields) as writer:
        if collapse:
            result.articles = _search(es, pit, "export count", size=0, query=query,
                                      track_total_hits=True)["hits"]["total"]["value"]
            tell(0, result.articles)
            for page in story_pages(es, pit, query, source, page_size):
                writer.write([row_of(hit, fields, copies) for hit, copies in page])
                result.rows += len(page)
                result.covered += sum(copies for _, copies in page)
                tell(result.covered, result.articles)
        else:
            for hits, total in hit_pages(es, pit, query, source, page_size):
                result.articles = total
                writer.write([row_of(hit, fields) for hit in hits])
                result.rows += len(hits)
                result.covered = result.rows
                tell(result.rows, total)
    LOGGER.debug("%s", result.summary())
    return result
