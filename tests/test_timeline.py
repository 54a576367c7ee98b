"""`ceasefire timeline`: parsing, turning aggregations into rows (no Elasticsearch), and counts
and shares from the real node checked against a generated corpus with known answers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread

from ceasefire.cli import main
from ceasefire.mapping import coverage_field, has_field
from ceasefire.query import Filters
from ceasefire.timeline import (
    INTERVALS,
    NONE,
    OTHER,
    SPLITS,
    Timeline,
    parse_interval,
    parse_split,
    parse_timeline,
    timeline,
    timeline_body,
    write_csv,
)
from ceasefire.timeline_chart import interval_start, plot_timeline
from tests.research_corpus import Doc, corpus, index_docs, ingest_samples, months

PNG = b"\x89PNG\r\n\x1a\n"

# --- parsing and rows, no Elasticsearch ------------------------------------------------------


@given(st.sampled_from(sorted(INTERVALS)), st.booleans(), st.booleans(), st.sampled_from(["", " ", "\t"]))
def test_parse_interval_ignores_case_space_and_plural(name, upper, plural, pad):
    text = f"{pad}{name.upper() if upper else name}{'s' if plural else ''}{pad}"
    assert parse_interval(text) == name


@given(st.sampled_from(sorted(SPLITS)), st.booleans())
def test_parse_split_ignores_case_and_plural(name, plural):
    assert parse_split(name.title() + ("s" if plural else "")) == name


@given(st.text(max_size=12))
def test_interval_and_split_parsers_accept_known_names_or_list_them(text):
    for parse, names in ((parse_interval, INTERVALS), (parse_split, SPLITS)):
        try:
            assert parse(text) in names
        except ValueError as exc:
            assert f"choose one of: {', '.join(names)}" in str(exc)


def _bucket(key: int, label: str, count: int, values: dict[str, int], other: int, none: int) -> dict:
    return {"key": key, "key_as_string": label, "doc_count": count, "other": {"doc_count": other},
            "none": {"doc_count": none}, "values": {"buckets": {k: {"doc_count": n} for k, n in values.items()}}}


RESPONSE = {"hits": {"total": {"value": 8}}, "aggregations": {
    "timeline": {"buckets": [_bucket(1, "2025-09", 4, {"a": 3, "b": 2}, 0, 1),
                             _bucket(2, "2025-10", 0, {"a": 0, "b": 0}, 0, 0),
                             _bucket(3, "2025-11", 2, {"a": 1, "b": 0}, 0, 1)]},
    "undated": {"doc_count": 2},
    "indexed": {"timeline": {"buckets": [{"key": 1, "doc_count": 10}, {"key": 3, "doc_count": 4}]}}}}


def test_parse_timeline_joins_counts_with_the_denominator(tmp_path):
    tl = parse_timeline(RESPONSE, "published_at", "month", "conflict", ["a", "b"])
    assert tl.intervals == ["2025-09", "2025-10", "2025-11"]
    assert (tl.counts, tl.indexed, tl.total, tl.undated, tl.dated) == ([4, 0, 2], [10, 0, 4], 8, 2, 6)
    assert [(s.name, s.counts) for s in tl.series] == [("a", [3, 0, 1]), ("b", [2, 0, 0]), (NONE, [1, 0, 1])]
    assert [tl.share(c, i) for i, c in enumerate(tl.counts)] == [0.4, None, 0.5]  # nothing indexed: none
    rows = tl.rows()
    assert len(rows) == 3 * 4 and rows[0] == {"interval": "2025-09", "series": "total", "count": 4,
                                              "indexed": 10, "share": 0.4}
    assert tl.multi_valued
    notes = " ".join(tl.notes())
    assert "8 matching articles: 6 dated by published_at" in notes and "2 undated, left out" in notes
    assert "conflicts is multi-valued" in notes and "'other': a conflict, none in the top 2" in notes
    data = tl.to_dict()
    assert data["intervals"][2]["series"]["a"] == {"count": 1, "share": 0.25}
    assert data["series"] == ["a", "b", NONE] and data["undated"] == 2
    write_csv(tl, tmp_path / "t.csv")
    with (tmp_path / "t.csv").open(newline="", encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]


def test_timeline_body_counts_the_denominator_without_the_query():
    body = timeline_body({"match_all": {}}, "published_at", "week", "source", [])
    assert "values" not in body["aggs"]["timeline"]["aggs"]  # no top values: nothing to count
    assert body["aggs"]["indexed"]["global"] == {} and body["track_total_hits"] is True
    assert body["aggs"]["timeline"]["date_histogram"]["calendar_interval"] == "week"


def _png_ok(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG
    height, width, _ = imread(path).shape
    assert height > 300 and width > 500


def test_chart_of_an_empty_timeline(tmp_path):
    plot_timeline(Timeline("published_at", "day", None, [], [], [], 0, 0), tmp_path / "empty.png")
    _png_ok(tmp_path / "empty.png")
    assert interval_start("2025-10") == interval_start("2025-10-01")


# --- against Elasticsearch --------------------------------------------------------------------


@pytest.fixture
def generated(ready_es, settings) -> list[Doc]:
    docs = corpus()
    index_docs(ready_es, settings, docs)
    return docs


def _check_sums(tl: Timeline) -> None:
    assert tl.dated + tl.undated == tl.total
    for counts in [tl.counts, *(s.counts for s in tl.series)]:
        for i, c in enumerate(counts):
            share = tl.share(c, i)
            assert (share is None) if tl.indexed[i] == 0 else (0 <= share <= 1)


def test_monthly_counts_and_shares_match_the_corpus(ready_es, settings, generated):
    tl = timeline(ready_es, settings.read_alias, "ceasefire", None, "month", date_field="published_at")
    matching = [d for d in generated if d.matches]
    want, every = months(matching), months(generated)
    assert tl.intervals == sorted(want) == ["2025-09", "2025-10", "2025-11"]
    assert tl.counts == [want[m] for m in tl.intervals]
    assert tl.indexed == [every[m] for m in tl.intervals]  # all articles, matching or not
    assert (tl.total, tl.undated) == (60, sum(1 for d in matching if not d.month)) == (60, 6)
    _check_sums(tl)
    assert [tl.share(c, i) for i, c in enumerate(tl.counts)] == [round(want[m] / every[m], 6) for m in tl.intervals]
    # Filters narrow the counts, never the denominator.
    lbc = timeline(ready_es, settings.read_alias, "ceasefire", Filters(source=["LBC"]), "month",
                   date_field="published_at")
    assert lbc.indexed == tl.indexed and lbc.total == sum(d.source["source"] == "LBC" for d in matching)


def test_default_date_field_and_the_date_range(ready_es, settings, generated):
    tl = timeline(ready_es, settings.read_alias, "ceasefire", None, "month")
    if has_field(ready_es, settings.read_alias, "coverage_date"):  # undated: first seen instead
        assert (tl.date_field, tl.dated, tl.undated) == ("coverage_date", 60, 0)
    else:
        assert (tl.date_field, tl.dated, tl.undated) == ("published_at", 54, 6)
    # --from/--to bound the date the timeline counts by
    october = timeline(ready_es, settings.read_alias, "ceasefire",
                       Filters(published_from="2025-10", published_to="2025-10"), "month",
                       date_field="published_at")
    want = sum(1 for d in generated if d.matches and d.month == "2025-10")
    assert (october.intervals, october.counts, october.total, october.undated) == (["2025-10"], [want], want, 0)


def _series_truth(docs: list[Doc], field: str) -> dict[str, Counter[str]]:
    truth: dict[str, Counter[str]] = {}
    for d in docs:
        values = d.source.get(field, [])
        for v in [values] if isinstance(values, str) else values:
            truth.setdefault(v, Counter())[d.month] += 1
    return truth


def test_split_on_multi_valued_conflicts(ready_es, settings, generated):
    tl = timeline(ready_es, settings.read_alias, "ceasefire", None, "month", "conflict", top=1,
                  date_field="published_at")
    matching = _series_truth([d for d in generated if d.matches], "conflicts")
    top = max(matching, key=lambda v: sum(matching[v].values()))
    dated = [d for d in generated if d.matches and d.month]
    truth = _series_truth(dated, "conflicts")
    names = [s.name for s in tl.series]
    assert names == [top, OTHER, NONE] and tl.multi_valued
    series = {s.name: s.counts for s in tl.series}
    assert series[top] == [truth[top][m] for m in tl.intervals]
    assert series[NONE] == [sum(1 for d in dated if d.month == m and not d.source.get("conflicts"))
                            for m in tl.intervals]
    assert series[OTHER] == [sum(1 for d in dated if d.month == m and d.source.get("conflicts")
                                 and top not in d.source["conflicts"]) for m in tl.intervals]
    # two-conflict articles count in both series: more than the total, never less
    everything = timeline(ready_es, settings.read_alias, "ceasefire", None, "month", "conflict", top=5,
                          date_field="published_at")
    sums = [sum(s.counts[i] for s in everything.series) for i in range(len(everything.intervals))]
    assert all(s >= c for s, c in zip(sums, everything.counts, strict=True)) and sums != everything.counts
    _check_sums(everything)


def test_split_on_a_single_valued_field_adds_up(ready_es, settings, generated):
    tl = timeline(ready_es, settings.read_alias, "ceasefire", None, "week", "source", top=2,
                  date_field="published_at")
    assert not tl.multi_valued and [s.name for s in tl.series][-1] == OTHER
    for i, count in enumerate(tl.counts):
        assert sum(s.counts[i] for s in tl.series) == count
    assert all(date.fromisoformat(label).weekday() == 0 for label in tl.intervals)  # Mondays
    _check_sums(tl)


def test_daily_intervals_include_empty_days(ready_es, settings, generated):
    tl = timeline(ready_es, settings.read_alias, "ceasefire", None, "day", date_field="published_at")
    first, last = date.fromisoformat(tl.intervals[0]), date.fromisoformat(tl.intervals[-1])
    assert len(tl.intervals) == (last - first).days + 1 and 0 in tl.counts
    _check_sums(tl)


def test_timeline_of_the_sample_articles_with_a_chart(ready_es, settings, tmp_path):
    ingest_samples(ready_es, settings)
    field = coverage_field(ready_es, settings.read_alias)
    assert field == ("coverage_date" if has_field(ready_es, settings.read_alias, "coverage_date")
                     else "published_at")
    assert has_field(ready_es, settings.read_alias, "published_at")
    assert not has_field(ready_es, settings.read_alias, "no_such_field")
    tl = timeline(ready_es, settings.read_alias, "Trump", None, "day", "language")
    assert tl.date_field == field and tl.total == 2
    _check_sums(tl)
    plot_timeline(tl, tmp_path / "samples.png", "samples")
    _png_ok(tmp_path / "samples.png")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120, check=False)


def test_cli_timeline(ready_es, settings, generated, tmp_path, capsys):
    out, png = tmp_path / "t.csv", tmp_path / "t.png"
    done = _cli("timeline", "ceasefire", "--interval", "Month", "--split", "conflicts", "--date-field",
                "published_at", "--csv", str(out), "--chart", str(png), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["total"], data["undated"], data["multi_valued"]) == (60, 6, True)
    assert sum(i["count"] for i in data["intervals"]) + data["undated"] == 60
    assert f"wrote chart: {png}" in done.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    totals = [r for r in rows if r["series"] == "total"]
    assert sum(int(r["count"]) for r in totals) == 54 and all(0 <= float(r["share"]) <= 1 for r in rows)
    assert all(i["share"] is None or 0 <= i["share"] <= 1 for i in data["intervals"])
    _png_ok(png)
    # the same command line in this process (the subprocess above shows it works as a program)
    assert main(["timeline", "ceasefire", "--interval", "week", "--date-field", "published_at"]) == 0
    table = capsys.readouterr().out
    assert "week of" in table and "6 undated, left out" in table
    assert main(["timeline", "x", "--interval", "fortnight"]) == 2
    assert "choose one of: day, week, month" in capsys.readouterr().err
