"""Issue 11: one record can never fail a run. Each hostile input, placed beside good files,
yields exactly the good articles plus one named skip for it (or, for a bad date, the article
undated), and every filesystem entry that is not read is accounted for with a reason."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.extract import read_files
from tasks.extract.dates import date_in_range, date_problem, parse_date
from tasks.extract.html import ExtractionError, article_from_record, page_metadata
from tasks.extract.read_files import discover_files, iter_inputs, path_text, read_file, read_paths
from tasks.extract.records import MAX_BODY_CHARS
from tasks.models import Article, Skip
from tests.conftest import FIXTURES

GOOD_RECORDS = [{"title": f"Good record {i}", "body": f"The body of good record {i}.",
                 "url": f"https://e.example/{i}", "published_at": "2025-05-11T08:00:00Z"}
                for i in range(3)]
GOOD_TITLES = {
    "Zelenskyy says he had 'positive, substantive and frank' call with Trump as US claims "
    "'we are on track for peace'",  # good.txt
    "Ceasefire holds in Gaza despite strikes",  # cp1252.txt
    "Le cessez-le-feu tient au Liban",  # latin1-fr.txt
    "Black Sea ceasefire talks resume in Riyadh",  # page.html
    *(r["title"] for r in GOOD_RECORDS),  # good.jsonl
}
GOOD = dict(GOOD_RECORDS[0], title="Kept record")  # a record the hostile ones stand beside


def _jsonl(records: list[str]) -> str:
    return "".join(line + "\n" for line in records)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder of seven good articles in every format."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("good.txt", "cp1252.txt", "latin1-fr.txt"):
        shutil.copy(FIXTURES / "mixed" / name, folder / name)
    shutil.copy(FIXTURES / "html" / "black-sea-talks.html", folder / "page.html")
    (folder / "good.jsonl").write_text(_jsonl([json.dumps(r) for r in GOOD_RECORDS]))
    return folder


def _read(*paths: str | bytes | Path) -> tuple[list[Article], list[tuple[str, str]]]:
    """The articles and (origin relative to the first path, reason) of the skips; the lazy and
    the list readers agree."""
    items = list(iter_inputs(paths))
    articles = [i for i in items if isinstance(i, Article)]
    skips = [i for i in items if isinstance(i, Skip)]
    assert len(articles) + len(skips) == len(items)
    listed, listed_skips = read_paths(paths)
    assert [a.title for a in listed] == [a.title for a in articles]
    assert sorted(map(str, listed_skips)) == sorted(map(str, skips))
    root = path_text(Path(os.fsdecode(paths[0])).absolute()) + os.sep
    return articles, [(s.origin.removeprefix(root), s.reason) for s in skips]


def _titles(articles: list[Article]) -> set[str]:
    return {a.title for a in articles}


def test_the_good_folder_alone(inputs):
    articles, skips = _read(inputs)
    assert (len(articles), _titles(articles), skips) == (7, GOOD_TITLES, [])


# --- records that are not articles -------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5_000


@pytest.mark.parametrize(("line", "reason"), [
    ('{"title": "T", "body": "B", "authors": 5}', "record-invalid:authors"),
    ('{"title": "T", "body": "B", "authors": ["A One", 7]}', "record-invalid:authors"),
    ('{"title": "T", "body": "B", "author": {"name": "A"}}', "record-invalid:author"),
    ('{"title": "T", "body": "B", "url": ["https://e.example/a"]}', "record-invalid:url"),
    ('{"title": "T", "body": "B", "source": {"name": "E"}}', "record-invalid:source"),
    ('{"title": "T", "body": "B", "feed": true}', "record-invalid:feed"),
    ('{"title": "T", "body": "B", "published_at": [1, 2]}', "record-invalid:published_at"),
    ('{"title": "T", "body": "B", "date": 99999}', "record-invalid:date"),
    ('{"title": "T", "body": "B", "published": 1.5e300}', "record-invalid:published"),
    ('{"title": 12, "body": "B"}', "record-invalid:title"),
    ('{"title": "T", "body": ["B"]}', "record-invalid:body"),
    ('{"title": "T", "text": {"p": "B"}}', "record-invalid:text"),
    ('{"html": 5}', "record-invalid:html"),
    (f'{{"title": {HUGE_INT}, "body": "B"}}', "record-invalid:title"),  # past int()'s 4,300 digits
    (f'{{"title": "T", "body": "B", "authors": [{HUGE_INT}]}}', "record-invalid:authors"),
    (json.dumps({"title": "x" * 2_001, "body": "B"}), "record-invalid:title"),
    (json.dumps({"title": "T", "body": "x" * (MAX_BODY_CHARS + 1)}), "record-invalid:body"),
    (json.dumps({"title": "T", "body": "B", "url": "https://e.example/" + "a" * 9_000}), "record-invalid:url"),
    (json.dumps({"title": "T", "body": "B", "authors": ["A"] * 1_000}), "record-invalid:authors"),
    (json.dumps({"title": "T", "body": "B", "date": "2025-01-01 " + "x" * 300}), "record-invalid:date"),
    (DEEP, "jsonl-too-deep"),
    ('{"a": ' * 100_000 + "1" + "}" * 100_000, "jsonl-too-deep"),
    ('{"title": "T", "body": "B", "meta": ' + "[" * 70 + "]" * 70 + "}", "jsonl-too-deep"),
    ('{"title": "T", "body": ', "jsonl-invalid-json"),
    ("not json at all", "jsonl-invalid-json"),
    ('{"title": "T", "body": "B"} trailing', "jsonl-invalid-json"),
    ('"just a string"', "jsonl-not-an-object"),
    ("NaN", "jsonl-not-an-object"),
    (f"{HUGE_INT}", "jsonl-not-an-object"),
    ("[1, 2]", "jsonl-not-an-object"),
    ('{"title": "T"}', "jsonl-missing-body"),
    ('{"title": "T", "body": "   "}', "jsonl-missing-body"),
    ('{"body": "B", "title": null}', "jsonl-missing-title"),
])
def test_a_bad_record_is_one_named_skip(inputs, line, reason):
    (inputs / "good.jsonl").write_text(_jsonl([json.dumps(GOOD), line, json.dumps(GOOD_RECORDS[1])]),
                                       encoding="utf-8")
    articles, skips = _read(inputs)
    assert _titles(articles) == GOOD_TITLES - {"Good record 0", "Good record 2"} | {"Kept record"}
    assert len(articles) == 6
    assert skips == [("good.jsonl:2", reason)]


@pytest.mark.parametrize("extra", [
    f'"views": {HUGE_INT}',  # keys the record does not declare are ignored, whatever they hold
    '"meta": ' + "[" * 60 + "]" * 60,
    '"score": 1e999, "ratio": NaN',
    '"title_en": ["not", "declared"]',
])
def test_undeclared_keys_do_not_matter(inputs, extra):
    line = json.dumps(GOOD)[:-1] + ", " + extra + "}"
    (inputs / "more.jsonl").write_text(line + "\n", encoding="utf-8")
    articles, skips = _read(inputs)
    assert (len(articles), skips) == (8, [])
    assert "Kept record" in _titles(articles)


@pytest.mark.parametrize("value", [
    "2025-01-01T00:00:00+99:00",  # an offset no clock has
    "2025-01-01T00:00:00+2400",
    "99999-01-01T00:00:00Z",  # was read as 9999-01-01
    "9999-12-31T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "0001-01-01",
    "2999-05-11",
    "soon",
    "1 2",  # [1, 2] as text: was 2026-01-02
    "Oct 13",  # no year: it would be this year's
    "Monday",
    "2 days ago",
    "2024-02-30T10:00:00Z",
])
def test_a_record_with_an_impossible_date_is_kept_undated(inputs, value, caplog):
    line = json.dumps(dict(GOOD, published_at=value))
    (inputs / "more.jsonl").write_text(line + "\n", encoding="utf-8")
    articles, skips = _read(inputs)
    assert (len(articles), skips) == (8, [])
    kept = next(a for a in articles if a.title == "Kept record")
    assert kept.published_at is None
    assert f"published date {value!r}, left empty" in caplog.text
    assert date_problem(value) in ("date-unparseable", "date-out-of-range")


def test_lone_surrogates_become_replacement_characters(inputs):
    (inputs / "more.jsonl").write_text('{"title": "Kept \\ud800 record", "body": "B \\udfff",'
                                       ' "authors": ["A \\ud83d"]}\n', encoding="utf-8")
    articles, skips = _read(inputs)
    kept = next(a for a in articles if a.title.startswith("Kept"))
    assert (kept.title, kept.body, kept.authors, skips) == ("Kept \ufffd record", "B \ufffd",
                                                            ["A \ufffd"], [])
    json.dumps(kept.to_document(), ensure_ascii=False).encode("utf-8")


def test_undecodable_and_blank_lines(inputs):
    (inputs / "more.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n\n  \n"
                                        + b'{"title": "\xff\xfe\x00", "body"\n' + b"\xff" * 40 + b"\n")
    articles, skips = _read(inputs)
    assert "Kept record" in _titles(articles)  # a BOM before the first record is no problem
    assert len(articles) == 8
    assert [origin for origin, _ in skips] == ["more.jsonl:4", "more.jsonl:5"]
    assert all(reason in ("jsonl-invalid-json", "undecodable-text") for _, reason in skips)


def test_a_line_over_the_cap_is_skipped_without_reading_it_whole(inputs, monkeypatch):
    monkeypatch.setattr(read_files, "MAX_LINE_BYTES", 1_000)
    long_line = json.dumps(dict(GOOD, body="x" * 5_000))
    (inputs / "more.jsonl").write_text(_jsonl([long_line, json.dumps(GOOD)]), encoding="utf-8")
    articles, skips = _read(inputs)
    assert "Kept record" in _titles(articles)
    assert skips == [("more.jsonl:1", "jsonl-line-too-long")]


def test_utf16_jsonl_is_still_read(inputs):
    (inputs / "more.jsonl").write_text(_jsonl([json.dumps(GOOD, ensure_ascii=False)]), encoding="utf-16")
    articles, skips = _read(inputs)
    assert ("Kept record" in _titles(articles), skips) == (True, [])


def test_an_unexpected_error_in_one_record_is_its_own_skip(inputs, monkeypatch):
    from tasks.extract import html

    real = html.extract_html

    def flaky(page, url=None):
        if "boom" in str(page):
            raise KeyError("boom")
        return real(page, url)

    monkeypatch.setattr(html, "extract_html", flaky)
    (inputs / "more.jsonl").write_text(_jsonl([json.dumps({"html": "<p>boom</p>"}), json.dumps(GOOD)]))
    articles, skips = _read(inputs)
    assert len(articles) == 8
    assert skips == [("more.jsonl:1", "record-error:KeyError")]


def test_an_unexpected_error_in_one_file_is_its_own_skip(inputs, monkeypatch):
    real = read_files.parse_plain_text

    def flaky(text, path=None):
        if path and path.endswith("good.txt"):
            raise RecursionError("deep")
        return real(text, path=path)

    monkeypatch.setattr(read_files, "parse_plain_text", flaky)
    articles, skips = _read(inputs)
    assert len(articles) == 6
    assert skips == [("good.txt", "record-error:RecursionError")]


def test_article_from_record_names_the_field():
    with pytest.raises(ExtractionError) as info:
        article_from_record({"title": "T", "body": "B", "url": ["x"]}, "f.jsonl:1")
    assert info.value.reason == "record-invalid:url"
    assert "list" in info.value.detail


def test_deep_json_ld_in_a_page_is_ignored():
    page = ('<html><head><script type="application/ld+json">' + DEEP + "</script>"
            '<meta property="article:published_time" content="2025-03-24T09:15:00+03:00">'
            "</head><body></body></html>")
    assert page_metadata(page).published.isoformat() == "2025-03-24T09:15:00+03:00"


def test_page_dates_outside_the_range_are_passed_over():
    page = ('<html><head><meta property="article:published_time" content="2999-01-01T00:00:00Z">'
            '<meta name="pubdate" content="2025-01-01T00:00:00+99:00">'
            '<meta name="publishdate" content="2024-06-01T10:00:00+02:00"></head><body></body></html>')
    assert page_metadata(page).published.isoformat() == "2024-06-01T10:00:00+02:00"


# --- dates -------------------------------------------------------------------------------------

def test_parse_date_never_invents_a_date():
    now = datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_date("2025-05-30T10:00:00+05:30", now).isoformat() == "2025-05-30T10:00:00+05:30"
    assert parse_date("October 13, 2024 06:35 IST", now).isoformat() == "2024-10-13T06:35:00+05:30"
    assert parse_date("2025-06-01T23:00:00Z", now) is not None  # within a day of skew
    assert parse_date("2025-06-03T12:00:00Z", now) is None
    assert parse_date("1989-12-31T23:00:00Z", now) is None
    for value in ([1, 2], 20250101, {"y": 2025}, None, "", "2025", "May 2025"):
        assert parse_date(value, now) is None
    assert date_problem([1, 2]) == "date-not-text"
    assert date_problem("2025-06-03T12:00:00Z", now) == "date-out-of-range"
    assert date_problem("2025-01-01T00:00:00+99:00") == "date-unparseable"
    assert date_problem("") is None
    assert date_problem("2025-05-30") is None
    assert not date_in_range(datetime(2025, 6, 2, 12, tzinfo=UTC), now)
    assert date_in_range(datetime(2025, 6, 1, 12), now)  # naive: taken as UTC


# --- the filesystem ----------------------------------------------------------------------------

def test_special_entries_are_each_a_named_skip(inputs, tmp_path):
    os.mkfifo(inputs / "pipe.txt")
    os.symlink("loop.txt", inputs / "loop.txt")
    os.symlink("ping.txt", inputs / "pong.txt")
    os.symlink("pong.txt", inputs / "ping.txt")
    os.symlink(tmp_path / "nowhere.txt", inputs / "dangling.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(FIXTURES / "mixed" / "good.txt", outside / "copy.txt")
    os.symlink(outside, inputs / "linked")  # a directory symlink is not followed
    os.symlink(inputs, inputs / "up")  # (this one would loop)
    os.symlink(outside / "copy.txt", inputs / "also.txt")  # a file symlink is
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(inputs / "sock.txt"))
        articles, skips = _run_with_timeout(lambda: _read(inputs))
    assert len(articles) == 8
    assert sorted(skips) == [
        ("dangling.txt", "dangling-symlink"),
        ("linked", "directory-symlink"),
        ("loop.txt", "symlink-loop"),
        ("ping.txt", "symlink-loop"),
        ("pipe.txt", "not-a-regular-file"),
        ("pong.txt", "symlink-loop"),
        ("sock.txt", "not-a-regular-file"),
        ("up", "directory-symlink"),
    ]


def _run_with_timeout(call, seconds=30):
    """`call()`, failing (rather than hanging the session) if it blocks, as on a FIFO."""
    result: list = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, "reading blocked"
    return result[0]


def test_a_fifo_named_directly_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    _, skips = _run_with_timeout(lambda: _read(tmp_path / "pipe.jsonl", "/dev/null"))
    assert [reason for _, reason in skips] == ["not-a-regular-file", "not-a-regular-file"]
    items = _run_with_timeout(lambda: list(read_file(tmp_path / "pipe.jsonl")))
    assert [item.reason for item in items] == ["not-a-regular-file"]


def test_unreadable_directory(inputs, monkeypatch):
    (inputs / "locked").mkdir()
    real = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(read_files.os, "scandir", scandir)
    articles, skips = _read(inputs)
    assert (len(articles), skips) == (7, [("locked", "unreadable-directory")])


def test_hidden_entries_are_still_passed_over_silently(inputs):
    (inputs / ".draft.txt").write_text("x")
    (inputs / ".cache").mkdir()
    (inputs / ".cache" / "old.jsonl").write_text("not json")
    articles, skips = _read(inputs)
    assert (len(articles), skips) == (7, [])


def test_missing_and_unsupported_and_nul(inputs, tmp_path):
    (inputs / "notes.md").write_text("x")
    _, skips = _read(inputs, tmp_path / "missing", str(tmp_path / "a\x00b.txt"))
    assert [reason for _, reason in skips] == ["unsupported-file-type", "not-found", "undecodable-name"]


def test_a_file_name_that_is_not_utf8_is_read_and_named_as_text(inputs):
    raw_dir = os.fsencode(inputs) + b"/sub\xff"
    os.mkdir(raw_dir)
    with open(raw_dir + b"/caf\xe9.txt", "wb") as out:
        out.write((FIXTURES / "mixed" / "good.txt").read_bytes())
    with open(raw_dir + b"/recs\x80.jsonl", "wb") as out:
        out.write(_jsonl([json.dumps(GOOD), '{"title": 1}']).encode())
    with open(raw_dir + b"/\xfe.md", "wb") as out:
        out.write(b"x")
    for root in (inputs, os.fsencode(inputs)):  # str and bytes paths alike
        articles, skips = _read(root)
        assert len(articles) == 9
        origins = sorted(a.origin for a in articles if "sub" in a.origin)
        assert [o.rsplit(os.sep, 2)[-2:] for o in origins] == [["sub\\xff", "caf\\xe9.txt"],
                                                               ["sub\\xff", "recs\\x80.jsonl:1"]]
        assert skips == [("sub\\xff/recs\\x80.jsonl:2", "record-invalid:title"),
                         ("sub\\xff/\\xfe.md", "unsupported-file-type")]
        for article in articles:  # origins are text every later step can encode and store
            json.dumps(article.to_document(), ensure_ascii=False).encode("utf-8")


def test_discover_files_accounts_for_everything(inputs):
    os.mkfifo(inputs / "pipe.txt")
    (inputs / "deep" / "er").mkdir(parents=True)
    (inputs / "deep" / "er" / "x.htm").write_text("<html></html>")
    files, skips = discover_files([inputs])
    assert [f.name for f in files] == ["cp1252.txt", "x.htm", "good.jsonl", "good.txt",
                                       "latin1-fr.txt", "page.html"]
    assert [(Path(s.origin).name, s.reason) for s in skips] == [("pipe.txt", "not-a-regular-file")]


def test_a_very_deep_directory_tree_is_walked(tmp_path):
    made: list[Path] = []  # removed here: shutil.rmtree (pytest's clean-up) recurses as deep
    try:
        for _ in range(1_200):  # deeper than the recursion limit
            made.append((made[-1] if made else tmp_path) / "d")
            made[-1].mkdir()
        (made[-1] / "r.jsonl").write_text(json.dumps(GOOD) + "\n")
        articles, skips = _read(tmp_path)
        assert (len(articles), skips) == (1, [])
    finally:
        if made:
            (made[-1] / "r.jsonl").unlink(missing_ok=True)
        for directory in reversed(made):
            directory.rmdir()


# --- memory ------------------------------------------------------------------------------------

def test_a_50mb_jsonl_file_is_streamed(tmp_path):
    body = "word " * 200_000  # 1 MB
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(50):
            out.write(json.dumps({"title": f"Record {i}", "body": body}) + "\n")
    assert path.stat().st_size > 50 * 1000 * 1000
    tracemalloc.start()
    try:
        count = sum(isinstance(item, Article) for item in iter_inputs([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        path.unlink()  # pytest keeps the last sessions' temporary folders
    assert count == 50
    assert peak < 15 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_iter_inputs_is_lazy(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(_jsonl([json.dumps(GOOD)] * 3))
    stream = iter_inputs([tmp_path])
    assert isinstance(next(stream), Article)
    with path.open("a") as out:  # read as consumed: a line added now is still seen
        out.write(json.dumps(GOOD) + "\n")
    assert sum(1 for _ in stream) == 3


def test_sane_published_uses_the_one_rule():
    from tasks.fetch.web import sane_published

    now = datetime(2025, 6, 1, tzinfo=UTC)
    naive = datetime(2025, 5, 1)
    assert sane_published(naive, None, now) == naive.replace(tzinfo=UTC)
    assert sane_published(now + timedelta(days=2), naive, now) == naive.replace(tzinfo=UTC)
