"""Property tests for the readers and parsers of issue 11: whatever goes in (arbitrary JSON
values, bytes as JSONL lines, text, markup, dates, file names), only Articles and Skips (or the
parser's own declared error) with declared reasons come out, and no date is out of range."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tasks.extract.dates import DATE_PROBLEMS, EARLIEST_DATE, date_problem, parse_date, read_date
from tasks.extract.html import ExtractionError, article_from_record, extract_html, page_metadata
from tasks.extract.plain_text import PlainTextError, parse_plain_text
from tasks.extract.read_files import FORMATS, iter_inputs, read_file, read_record
from tasks.extract.records import JsonRecord, load_json
from tasks.extract.warc import WARC_REASONS
from tasks.models import Article, Skip
from tests.conftest import FIXTURES

HTML_REASONS = {"html-unparseable", "no-article-text", "body-too-short", "no-title"}
RECORD_REASONS = ({"jsonl-not-an-object", "jsonl-missing-body", "jsonl-missing-title"}
                  | {f"record-invalid:{name}" for name in JsonRecord.model_fields} | HTML_REASONS)
LINE_REASONS = RECORD_REASONS | {"jsonl-invalid-json", "jsonl-too-deep", "undecodable-text",
                                 "jsonl-line-too-long"}
FILE_REASONS = (LINE_REASONS | {"not-an-article", "unsupported-file-type", "file-too-large"}
                | set(WARC_REASONS))  # a text file named .warc is no archive: warc-corrupt

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(item: Article | Skip, reasons: set[str]) -> None:
    """A Skip with one of `reasons`, or a sane Article."""
    if isinstance(item, Skip):
        assert item.reason in reasons, item
    else:
        _sane(item)


def _outcome(call: Callable[[], Article], reasons: set[str]) -> Article | None:
    """The Article `call` gives (checked to be sane), or None when it raised an ExtractionError
    with one of `reasons`."""
    try:
        article = call()
    except ExtractionError as exc:
        assert exc.reason in reasons, exc
        return None
    _sane(article)
    return article


def _sane(article: Article) -> None:
    """What every Article must be: a title and body of text that encodes, a believable date."""
    assert isinstance(article.title, str) and isinstance(article.body, str)
    json.dumps(article.to_document(), ensure_ascii=False).encode("utf-8")
    if article.published_at is not None:
        assert article.published_at.tzinfo is not None
        assert EARLIEST_DATE <= article.published_at <= datetime.now(UTC) + timedelta(days=1)


# --- strategies ------------------------------------------------------------------------------

offsets = st.one_of(st.just(""), st.just("Z"), st.from_regex(r"[+-]\d{1,2}:\d{2}", fullmatch=True),
                    st.from_regex(r"[+-]\d{4}", fullmatch=True))
iso_like = st.builds(lambda y, mo, d, h, mi, tz: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:00{tz}",
                     st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
                     st.integers(0, 25), st.integers(0, 61), offsets)
zoned = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.builds(lambda m: timezone(timedelta(minutes=m)),
                                         st.integers(-23 * 60, 23 * 60)))
date_texts = st.one_of(iso_like, zoned.map(datetime.isoformat), zoned.map(lambda d: d.strftime("%B %d, %Y")),
                       st.text(max_size=40), st.from_regex(r"\d{1,6}[-/ ]\d{1,3}[-/ ]\d{1,6}", fullmatch=True))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), date_texts)
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20)
field_values = {name: st.one_of(json_values, st.text(min_size=1, max_size=60)) for name in JsonRecord.model_fields}
field_values.update({name: st.one_of(json_values, date_texts) for name in ("published_at", "published", "date")})
field_values["html"] = st.one_of(st.none(), st.integers(), st.text(max_size=60),
                                 st.just("<html><head><title>T</title></head><body><p>" + "word " * 60
                                         + "</p></body></html>"))
records = st.one_of(json_values, st.fixed_dictionaries({}, optional=field_values))


# --- records ---------------------------------------------------------------------------------

@PROPERTY
@given(records)
def test_article_from_record_gives_an_article_or_a_declared_reason(record):
    article = _outcome(lambda: article_from_record(record, "p.jsonl:1"), RECORD_REASONS)
    assert article is None or article.origin == "p.jsonl:1"


@PROPERTY
@given(records)
def test_a_record_as_a_line_reads_the_same(record):
    line = json.dumps(record, allow_nan=True).encode()
    _check(read_record(line, "p.jsonl:1"), LINE_REASONS)


@PROPERTY
@given(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode),
                 st.from_regex(r'[\[\]{}",:0-9a-z\\ ]{0,200}', fullmatch=True).map(str.encode)))
def test_any_bytes_as_a_jsonl_line(line):
    _check(read_record(line, "p.jsonl:1"), LINE_REASONS)


@PROPERTY
@given(st.text(max_size=300))
@example("[" * 100_000 + "]" * 100_000)
@example("{" * 5_000)
@example("9" * 5_000)
@example("-" + "9" * 5_000 + ".5e1")
@example('"\\ud800"')
def test_load_json_raises_only_extraction_errors(text):
    try:
        load_json(text)
    except ExtractionError as exc:
        assert exc.reason in ("jsonl-invalid-json", "jsonl-too-deep")


@PROPERTY
@given(st.lists(st.one_of(st.binary(max_size=120), records.map(lambda r: json.dumps(r).encode())),
                max_size=8),
       st.sampled_from([b"\n", b"\r\n"]))
def test_a_jsonl_file_of_anything_gives_one_item_a_line(lines, end):
    data = end.join(lines)
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff")))  # UTF-16 files are decoded whole
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.jsonl"
        path.write_bytes(data)
        items = list(read_file(path))
    expected = [n for n, line in enumerate(data.split(b"\n"), 1) if line.rstrip(b"\r").strip()]
    assert [int(i.origin.rsplit(":", 1)[1]) for i in items] == expected
    for item in items:
        _check(item, LINE_REASONS)


# --- plain text and HTML ---------------------------------------------------------------------

header_lines = st.one_of(
    st.text(max_size=80),
    st.builds(lambda who, when: f"By {who} | Updated: {when}", st.text(max_size=20), date_texts),
    st.builds(lambda when: f"Published: {when}", date_texts),
    date_texts,
)


@PROPERTY
@given(st.one_of(st.text(max_size=500),
                 st.lists(header_lines, min_size=1, max_size=6).map("\n".join)
                 .map(lambda head: "A title line\n" + head + "\nThe body of the article.")))
def test_parse_plain_text_gives_an_article_or_plain_text_error(text):
    try:
        article = parse_plain_text(text, path="p.txt")
    except PlainTextError:
        return
    _sane(article)


page_dates = st.builds(
    lambda meta, ld, t: ('<html><head><title>A headline here</title>'
                         f'<meta property="article:published_time" content="{meta}">'
                         f'<script type="application/ld+json">{{"datePublished": {json.dumps(ld)}}}</script>'
                         f"</head><body><article><h1>A headline here</h1><p>{'Words of the story. ' * 20}"
                         f'</p><time datetime="{t}"></time></article></body></html>'),
    date_texts, date_texts, date_texts)


@SLOW
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), page_dates,
                 st.from_regex(r"<[a-z]{1,6}[^>]{0,20}>[^<]{0,40}(</[a-z]{1,6}>)?", fullmatch=True)))
def test_extract_html_gives_an_article_or_a_declared_reason(page):
    page_metadata(page)  # never raises
    _outcome(lambda: extract_html(page), HTML_REASONS)


# --- dates -----------------------------------------------------------------------------------

@PROPERTY
@given(st.one_of(json_values, date_texts))
def test_parse_date_is_none_or_believable(value):
    now = datetime.now(UTC)
    found, problem = read_date(value, now)
    assert parse_date(value, now) == found
    assert date_problem(value, now) == problem
    if found is None:
        assert problem in (*DATE_PROBLEMS, None)
        assert problem is not None or value is None or (isinstance(value, str) and not value.strip())
    else:
        assert problem is None
        assert found.tzinfo is not None and EARLIEST_DATE <= found <= now + timedelta(days=1)


@PROPERTY
@given(zoned)
def test_a_believable_timestamp_is_read_exactly(moment):
    now = datetime.now(UTC)
    found = parse_date(moment.isoformat(), now)
    if EARLIEST_DATE <= moment <= now + timedelta(days=1):
        assert found == moment and found.utcoffset() == moment.utcoffset()
    else:
        assert found is None and date_problem(moment.isoformat(), now) == "date-out-of-range"


# --- file names ------------------------------------------------------------------------------

GOOD_TEXT = (FIXTURES / "mixed" / "good.txt").read_bytes()
stems = st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\x00" not in b)
suffixes = st.one_of(st.sampled_from([b".txt", b".TXT", b".text", b".md", b"", b".jsonl", b".html",
                                      b".warc"]),
                     st.binary(max_size=6).filter(lambda b: b"/" not in b and b"\x00" not in b)
                     .map(lambda b: b"." + b))


@PROPERTY
@given(stems, suffixes, st.sampled_from(["str", "bytes"]))
def test_any_file_name_is_read_or_named(stem, suffix, kind):
    name = stem + suffix
    assume(name not in (b".", b".."))
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(os.fsencode(folder), name), "wb") as out:
            out.write(GOOD_TEXT)
        root = os.fsencode(folder) if kind == "bytes" else folder
        items = list(iter_inputs([root]))
    if name.startswith(b"."):
        assert items == []
        return
    suffix = Path(os.fsdecode(name)).suffix.lower()
    if FORMATS.get(suffix) == "jsonl":  # a text file read as records: a skip a line
        assert items and all(isinstance(i, Skip) and i.reason in FILE_REASONS for i in items)
        return
    assert len(items) == 1
    item = items[0]
    assert item.origin is not None
    item.origin.encode("utf-8")  # text every later step can store
    json.dumps(item.origin)
    _check(item, FILE_REASONS)
    if suffix in (".txt", ".text"):
        assert isinstance(item, Article)
    elif suffix not in FORMATS:
        assert item.reason == "unsupported-file-type"

