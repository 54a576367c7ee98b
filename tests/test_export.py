"""`ceasefire export`: field and format parsing, rows and writers, and every matching article
exported from the real node (the samples, a generated corpus with known answers, and 12,000
articles, past the 10,000-hit window)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ceasefire.cli import main
from ceasefire.export import (
    DEFAULT_FIELDS,
    FIELDS,
    CsvRows,
    ExportError,
    csv_cell,
    default_fields,
    export,
    format_for,
    parse_fields,
    row_of,
    to_utc,
)
from ceasefire.mapping import has_field
from ceasefire.query import Filters
from testkit.terminal import run_in_terminal
from tests.research_corpus import TRICKY_TITLE, Doc, corpus, index_docs, ingest_samples

# --- parsing, rows and writers, no Elasticsearch ---------------------------------------------

names = st.sampled_from(sorted(FIELDS))


@given(st.lists(names, min_size=1), st.lists(st.sampled_from(["", " ", "\t"]), min_size=2, max_size=2),
       st.booleans())
def test_parse_fields_reads_any_list_of_known_names(chosen, pad, upper):
    text = ",".join(f"{pad[0]}{n.upper() if upper else n}{pad[1]}" for n in chosen) + ","
    assert parse_fields(text) == list(dict.fromkeys(chosen))


@given(st.text(max_size=40))
def test_parse_fields_returns_known_names_or_says_what_is_wrong(text):
    try:
        parsed = parse_fields(text)
    except ExportError as exc:
        assert "known fields: id, url" in str(exc)
    else:
        assert parsed and set(parsed) <= set(FIELDS)


def test_unknown_fields_are_named_with_a_suggestion():
    with pytest.raises(ExportError, match=r"unknown fields 'titel' \(did you mean 'title'\?\), 'zzz'"):
        parse_fields("id,titel,zzz")
    with pytest.raises(ExportError, match="no fields given"):
        parse_fields(" , ")


def test_default_fields_follow_the_mapping_and_collapse():
    assert default_fields(True, False) == list(DEFAULT_FIELDS)
    assert "coverage_date" not in default_fields(False, False)
    assert default_fields(False, True)[-1] == "copies"


def test_format_from_flag_or_extension():
    assert format_for(Path("a.CSV"), None) == "csv"
    assert format_for(Path("a.ndjson"), None) == "jsonl"
    assert format_for(Path("a.txt"), "parquet") == "parquet"
    with pytest.raises(ExportError, match="--format"):
        format_for(Path("a.txt"), None)
    with pytest.raises(ExportError, match="unknown format 'xls'"):
        format_for(Path("a.csv"), "xls")


def test_row_of_types_each_field():
    hit = {"_id": "x1", "_source": {"title": "T", "entities": {"persons": ["A", "B"]}, "conflicts": "one",
                                    "relevance": 1, "word_count": "12"}}
    row = row_of(hit, ["id", "title", "persons", "conflicts", "topics", "relevance", "word_count", "url"])
    assert row == {"id": "x1", "title": "T", "persons": ["A", "B"], "conflicts": ["one"], "topics": [],
                   "relevance": 1.0, "word_count": 12, "url": None}
    assert row_of(hit, ["copies"], copies=4) == {"copies": 4}
    assert [csv_cell(v) for v in (None, ["a", "b"], True, 0.5)] == ["", "a; b", "true", "0.5"]


def test_to_utc_keeps_the_instant():
    assert to_utc("2025-10-13T06:32:54+05:30") == datetime(2025, 10, 13, 1, 2, 54, tzinfo=UTC)
    assert to_utc("2025-10-13") == datetime(2025, 10, 13, tzinfo=UTC)
    assert to_utc("0") == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(ExportError):
        to_utc("yesterday")


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.timezones()))
def test_to_utc_reads_any_iso_time_as_its_instant(moment):
    # in UTC both: comparing across zones, a time in a DST fold is never equal (PEP 495)
    assert to_utc(moment.isoformat()) == moment.astimezone(UTC)


cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.lists(st.tuples(cells, st.lists(cells, max_size=3)), max_size=5))
def test_csv_round_trips_any_text(rows):
    out = io.StringIO(newline="")
    CsvRows(out, ["title", "topics"]).write([{"title": t, "topics": ts} for t, ts in rows])
    back = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert back[0] == ["title", "topics"]
    assert back[1:] == [[t, "; ".join(ts)] for t, ts in rows]


# --- against Elasticsearch --------------------------------------------------------------------


def _read(path: Path, fmt: str) -> list[dict]:
    """The exported rows as dicts of strings (CSV) or typed values (JSON Lines, Parquet)."""
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pq.read_table(path).to_pylist()


@pytest.fixture
def generated(ready_es, settings) -> list[Doc]:
    docs = corpus()
    index_docs(ready_es, settings, docs)
    return docs


FIELDS_ALL = ["id", "title", "source", "published_at", "conflicts", "persons", "relevance", "cluster_id"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_writes_every_match_in_each_format(ready_es, settings, generated, tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    seen: list[tuple[int, int]] = []
    result = export(ready_es, settings.read_alias, "ceasefire", None, path, fmt, FIELDS_ALL,
                    page_size=7, progress=lambda done, total: seen.append((done, total)))
    expected = {d.id: d.source for d in generated if d.matches}
    assert (result.rows, result.articles, result.complete) == (len(expected), len(expected), True)
    assert result.summary() == f"60 rows written to {path} ({fmt}): all 60 matching articles (the search total)"
    assert seen[-1] == (60, 60) and len(seen) == 9  # 60 rows in pages of 7
    rows = _read(path, fmt)
    dated = sorted((d for d in expected if "published_at" in expected[d]),
                   key=lambda d: expected[d]["published_at"])
    assert [r["id"] for r in rows[:len(dated)]] == dated  # date order, undated last
    assert {r["id"] for r in rows[len(dated):]} == set(expected) - set(dated)
    for row in rows:
        src = expected[row["id"]]
        want = {"title": src["title"], "source": src["source"], "relevance": src["relevance"],
                "published_at": src.get("published_at"), "cluster_id": src.get("cluster_id"),
                "conflicts": src.get("conflicts", []), "persons": src.get("entities", {}).get("persons", [])}
        if fmt == "csv":
            want = {k: csv_cell(v if not isinstance(v, float) else str(v)) for k, v in want.items()}
        elif fmt == "parquet" and want["published_at"]:
            want["published_at"] = datetime.fromisoformat(want["published_at"])
        assert {k: row[k] for k in want} == want
    by_id = {r["id"]: r for r in rows}
    assert by_id["doc-00001"]["title"] == TRICKY_TITLE
    both = by_id["doc-00007"]["conflicts"]
    assert both == ("russia-ukraine; israel-gaza" if fmt == "csv" else ["russia-ukraine", "israel-gaza"])
    assert by_id["doc-00007"]["persons"] == ("Volodymyr Zelenskyy" if fmt == "csv" else ["Volodymyr Zelenskyy"])
    if fmt == "parquet":
        assert by_id["doc-00004"]["published_at"] == datetime(2025, 9, 5, 8, 30, tzinfo=UTC)
    else:
        assert by_id["doc-00004"]["published_at"] == "2025-09-05T08:30:00+00:00"
    assert not list(tmp_path.glob("*.part"))


def test_export_with_filters_and_no_fields_from_source(ready_es, settings, generated, tmp_path):
    path = tmp_path / "ids.jsonl"
    filters = Filters(source=["LBC"], conflict=["russia-ukraine"])
    result = export(ready_es, settings.read_alias, "", filters, path, "jsonl", ["id"])
    expected = [d.id for d in generated if d.source["source"] == "LBC"
                and "russia-ukraine" in d.source.get("conflicts", [])]
    assert result.rows == result.articles == len(expected) > 0
    assert sorted(r["id"] for r in _read(path, "jsonl")) == sorted(expected)


def _earliest(docs: list[Doc]) -> Doc:
    return min(docs, key=lambda d: (d.source.get("published_at") is None,
                                    d.source.get("published_at", ""), d.source["ingested_at"]))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_collapse_writes_one_row_per_story_with_its_copies(ready_es, settings, generated, tmp_path, fmt):
    path = tmp_path / f"stories.{fmt}"
    fields = default_fields(has_field(ready_es, settings.read_alias, "coverage_date"), collapse=True)
    result = export(ready_es, settings.read_alias, "ceasefire", None, path, fmt, fields,
                    collapse=True, page_size=5)
    stories: dict[str, list[Doc]] = {}
    for d in generated:
        if d.matches:
            stories.setdefault(d.story, []).append(d)
    # 28 clusters, each with its two matching copies (its representative does not match),
    # and 4 matching articles with no cluster_id, 60 articles in all
    assert (result.rows, result.covered, result.articles) == (32, 60, 60) == (len(stories), 60, 60)
    assert result.complete and "one per story: 32 stories (near-duplicate clusters) whose copies add up to all 60" \
        in result.summary()
    rows = _read(path, fmt)
    assert len(rows) == 32
    got = {r["id"]: int(r["copies"]) for r in rows}
    assert got == {_earliest(members).id: len(members) for members in stories.values()}
    assert "doc-00019" not in got and "doc-00020" in got  # undated copy 19 loses to dated 20


def test_collapse_needed_for_copies(ready_es, settings, generated, tmp_path):
    with pytest.raises(ExportError, match="needs --collapse"):
        export(ready_es, settings.read_alias, "", None, tmp_path / "x.csv", "csv", ["id", "copies"])
    assert not list(tmp_path.iterdir())


def test_export_of_no_match_writes_a_header(ready_es, settings, generated, tmp_path):
    path = tmp_path / "none.csv"
    result = export(ready_es, settings.read_alias, "armistice", None, path, "csv", ["id", "title"])
    assert (result.rows, result.articles, result.complete) == (0, 0, True)
    assert path.read_bytes() == b"id,title\r\n"
    parquet = tmp_path / "none.parquet"
    export(ready_es, settings.read_alias, "armistice", None, parquet, "parquet", ["id", "conflicts"],
           collapse=False)
    assert pq.read_table(parquet).num_rows == 0


def test_export_of_the_sample_articles(ready_es, settings, tmp_path):
    ingest_samples(ready_es, settings)
    plain = export(ready_es, settings.read_alias, "Trump", None,
                   tmp_path / "s.jsonl", "jsonl", default_fields(False, False))
    assert plain.rows == plain.articles == 2
    rows = _read(tmp_path / "s.jsonl", "jsonl")
    assert {r["source"] for r in rows} == {"LBC", "IANS"}
    assert rows[-1]["published_at"] is None  # the LBC dump is undated: last
    stories = export(ready_es, settings.read_alias, "", None, tmp_path / "s.csv", "csv",
                     ["id", "cluster_id", "copies"], collapse=True)
    assert (stories.rows, stories.covered, stories.articles) == (2, 2, 2)  # two different calls


def test_export_past_ten_thousand_hits(ready_es, settings, tmp_path):
    """12,000 small documents in 4,000 clusters of three: every row, in one snapshot."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    docs = [Doc(f"n{i:05d}", {"title": f"ceasefire {i}", "body": "x", "cluster_id": f"n{i - i % 3:05d}",
                              "published_at": (start + timedelta(minutes=i)).isoformat()})
            for i in range(12_000)]
    index_docs(ready_es, settings, docs)
    path = tmp_path / "all.csv"
    result = export(ready_es, settings.read_alias, "ceasefire", None, path, "csv", ["id", "published_at"])
    assert result.rows == result.articles == 12_000
    with path.open(newline="") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert ids == [d.id for d in docs]  # date order, each exactly once
    stories = export(ready_es, settings.read_alias, "ceasefire", None, tmp_path / "s.parquet", "parquet",
                     ["id", "copies"], collapse=True)
    assert (stories.rows, stories.covered, stories.complete) == (4_000, 12_000, True)
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.num_rows == 4_000 and sum(table.column("copies").to_pylist()) == 12_000
    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.num_row_groups == 1


# --- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120, check=False)


def test_cli_export(ready_es, settings, generated, tmp_path, capsys):
    out = tmp_path / "out.csv"
    done = _cli("export", "ceasefire", "--source", "LBC", "-o", str(out), "--fields", "id,title,conflicts")
    assert done.returncode == 0, done.stderr
    expected = sum(d.matches and d.source["source"] == "LBC" for d in generated)
    assert f"{expected} rows written to {out} (csv): all {expected} matching articles" in done.stdout
    assert len(_read(out, "csv")) == expected
    assert "exporting" not in done.stderr  # no progress bar when not on a terminal
    # the same command line in this process (the subprocess above shows it works as a program)
    assert main(["export", "ceasefire", "-o", str(tmp_path / "s.jsonl"), "--collapse"]) == 0
    said = capsys.readouterr().out
    assert "32 rows written" in said and "add up to all 60 matching articles" in said
    assert "copies" in _read(tmp_path / "s.jsonl", "jsonl")[0]
    assert main(["export", "x", "-o", str(tmp_path / "b.csv"), "--fields", "id,titel"]) == 2
    assert "did you mean 'title'" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()
    assert main(["export", "x", "-o", str(tmp_path / "b.xlsx")]) == 2
    assert "--format" in capsys.readouterr().err


def test_cli_export_draws_a_progress_bar_on_a_terminal(ready_es, settings, generated, tmp_path):
    code, screen = run_in_terminal([sys.executable, "-m", "ceasefire.cli", "export", "", "-o",
                                    str(tmp_path / "all.jsonl")], {**os.environ, "COLUMNS": "120"}, 120)
    assert code == 0
    assert "exporting articles" in screen and "90/90" in screen
