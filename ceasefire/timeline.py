"""Coverage over time: the articles a query matches per day, week or month, optionally split by
conflict, source, topic or language, with the normalised share in each interval (matching
articles / all indexed articles in that interval, so a busier news week does not look like
more attention).

The counts and the denominator come from one request: the query's `date_histogram`, and the
same histogram under a `global` aggregation, which ignores the query and filters. A split
first asks for the top values, then counts each of them (plus `other`: a value, none of them
in the top; `(none)`: no value at all) per interval with exact `filters` buckets. `conflicts`
and `topics` are multi-valued: an article with two conflicts is in both series, so series do
not add up to the total, which is always given. Articles without the date are in no interval;
`undated` says how many.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ceasefire.mapping import coverage_field
from ceasefire.query import DATE_FIELDS, Filters, article_query
from tasks.store.retrying import call

INTERVALS = {"day": "yyyy-MM-dd", "week": "yyyy-MM-dd", "month": "yyyy-MM"}  # label formats
SPLITS = {"conflict": "conflicts", "source": "source", "topic": "topics", "language": "language"}
MULTI_VALUED = frozenset({"conflicts", "topics"})
TOTAL, OTHER, NONE = "total", "other", "(none)"
TOP = 5


def _choose(text: str, names: Iterable[str], what: str) -> str:
    """`text` as one of `names`, ignoring case, spaces and a plural "s"."""
    names = list(names)
    key = text.strip().lower()
    if key not in names and key.endswith("s") and key[:-1] in names:
        key = key[:-1]
    if key not in names:
        raise ValueError(f"unknown {what} {text!r}; choose one of: {', '.join(names)}")
    return key


def parse_interval(text: str) -> str:
    """An interval name: day, week or month (weeks start on Monday, all in UTC)."""
    return _choose(text, INTERVALS, "interval")


def parse_split(text: str) -> str:
    """A split name: conflict, source, topic or language."""
    return _choose(text, SPLITS, "split")


@dataclass(slots=True)
class Series:
    name: str
    counts: list[int]  # per interval, aligned with `Timeline.intervals`


@dataclass(slots=True)
class Timeline:
    date_field: str
    interval: str
    split: str | None
    intervals: list[str]  # labels: day, Monday of the week, or month
    counts: list[int]  # matching articles per interval
    indexed: list[int]  # all indexed articles per interval: the share's denominator
    total: int  # matching articles, dated or not
    undated: int  # matching articles without `date_field`: in no interval
    series: list[Series] = field(default_factory=list)  # per split value, then other, (none)

    @property
    def dated(self) -> int:
        return sum(self.counts)

    @property
    def multi_valued(self) -> bool:
        return self.split is not None and SPLITS[self.split] in MULTI_VALUED

    def share(self, count: int, i: int) -> float | None:
        """`count` as a share of all indexed articles in interval `i`, rounded to 6 places; None
        where nothing at all is indexed (no share, rather than a 0 % that looks like silence)."""
        return round(count / self.indexed[i], 6) if self.indexed[i] else None

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows, one per interval and series (`total` first): what the CSV holds."""
        rows = []
        for i, label in enumerate(self.intervals):
            for s in [Series(TOTAL, self.counts), *self.series]:
                rows.append({"interval": label, "series": s.name, "count": s.counts[i],
                             "indexed": self.indexed[i],
                             "share": self.share(s.counts[i], i)})
        return rows

    def notes(self) -> list[str]:
        """What a reader must know to read the numbers right."""
        notes = [f"{self.total:,} matching article{'' if self.total == 1 else 's'}: {self.dated:,} "
                 f"dated by {self.date_field} (the intervals add up to this) + {self.undated:,} "
                 "undated, left out"]
        if self.multi_valued and self.split:
            notes.append(f"{SPLITS[self.split]} is multi-valued: an article with two {self.split}s "
                         f"is in both series, so the series add up to more than the total")
        if self.split:
            notes.append(f"'{OTHER}': a {self.split}, none in the top {len(self._values())}; "
                         f"'{NONE}': no {self.split}")
        notes.append("share: matching articles / all indexed articles in the interval (none "
                     "where nothing is indexed)")
        return notes

    def _values(self) -> list[Series]:
        return [s for s in self.series if s.name not in (OTHER, NONE)]

    def to_dict(self) -> dict[str, Any]:
        return {"date_field": self.date_field, "interval": self.interval, "split": self.split,
                "total": self.total, "dated": self.dated, "undated": self.undated,
                "multi_valued": self.multi_valued, "series": [s.name for s in self.series],
                "notes": self.notes(),
                "intervals": [
                    {"interval": label, "count": self.counts[i], "indexed": self.indexed[i],
                     "share": self.share(self.counts[i], i),
                     "series": {s.name: {"count": s.counts[i],
                                         "share": self.share(s.counts[i], i)}
                                for s in self.series}}
                    for i, label in enumerate(self.intervals)]}


def top_values_body(query: dict[str, Any], split_field: str, top: int) -> dict[str, Any]:
    """The request for the `top` most frequent values of `split_field` among the matches."""
    return {"size": 0, "query": query, "aggs": {"top": {"terms": {"field": split_field, "size": top}}}}


def timeline_body(query: dict[str, Any], date_field: str, interval: str,
                  split_field: str | None = None, values: list[str] | None = None) -> dict[str, Any]:
    """The request for the matches per interval (per split value), the undated matches, and
    every indexed article per interval (`global`: without the query)."""
    hist = {"field": date_field, "calendar_interval": interval, "format": INTERVALS[interval],
            "time_zone": "UTC", "min_doc_count": 0}
    timeline: dict[str, Any] = {"date_histogram": hist}
    if split_field:
        values = values or []
        sub: dict[str, Any] = {
            "other": {"filter": {"bool": {"filter": [{"exists": {"field": split_field}}],
                                          "must_not": [{"terms": {split_field: values}}]}}},
            "none": {"missing": {"field": split_field}}}
        if values:
            sub["values"] = {"filters": {"filters": {v: {"term": {split_field: v}} for v in values}}}
        timeline["aggs"] = sub
    return {"size": 0, "track_total_hits": True, "query": query, "aggs": {
        "timeline": timeline,
        "undated": {"missing": {"field": date_field}},
        "indexed": {"global": {}, "aggs": {"timeline": {"date_histogram": {**hist, "min_doc_count": 1}}}},
    }}


def parse_timeline(resp: dict[str, Any], date_field: str, interval: str, split: str | None = None,
                   values: list[str] | None = None) -> Timeline:
    """A `Timeline` from the answer to `timeline_body` (series `other` and `(none)` only where
    they count something)."""
    aggs = resp["aggregations"]
    buckets = aggs["timeline"]["buckets"]
    indexed = {b["key"]: b["doc_count"] for b in aggs["indexed"]["timeline"]["buckets"]}
    tl = Timeline(date_field, interval, split, [b["key_as_string"] for b in buckets],
                  [b["doc_count"] for b in buckets], [indexed.get(b["key"], 0) for b in buckets],
                  resp["hits"]["total"]["value"], aggs["undated"]["doc_count"])
    if split:
        tl.series = [Series(v, [b["values"]["buckets"][v]["doc_count"] for b in buckets])
                     for v in values or []]
        for name, key in ((OTHER, "other"), (NONE, "none")):
            counts = [b[key]["doc_count"] for b in buckets]
            if any(counts):
                tl.series.append(Series(name, counts))
    return tl


def timeline(es: Elasticsearch, index: str, text: str, filters: Filters | None, interval: str,
             split: str | None = None, *, top: int = TOP, date_field: str | None = None) -> Timeline:
    """Matching articles per interval (and per top `split` value) with their share of all
    indexed articles; dated by `date_field` (which the filters' date range then applies to),
    by default `coverage_date` where the index has it, else `published_at`."""
    date_field = date_field or coverage_field(es, index)
    if date_field not in DATE_FIELDS:
        raise ValueError(f"cannot count by {date_field!r}: date fields are {', '.join(DATE_FIELDS)}")
    if filters is not None:  # --from/--to bound the date the intervals count by
        filters = dataclasses.replace(filters, date_field=date_field)
    query = article_query(text, filters)
    split_field = SPLITS[split] if split else None
    values: list[str] = []
    if split_field:
        body = top_values_body(query, split_field, top)
        resp = call(lambda: es.search(index=index, **body).body, what="timeline top values")
        values = [str(b["key"]) for b in resp["aggregations"]["top"]["buckets"]]
    body = timeline_body(query, date_field, interval, split_field, values)
    resp = call(lambda: es.search(index=index, **body).body, what="timeline")
    return parse_timeline(resp, date_field, interval, split, values)


def write_csv(tl: Timeline, path: Path) -> None:
    """The timeline as tidy CSV: interval, series, count, indexed, share (UTF-8; the share is
    empty where nothing is indexed)."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, ["interval", "series", "count", "indexed", "share"])
        writer.writeheader()
        writer.writerows(tl.rows())
