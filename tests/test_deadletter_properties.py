"""Property tests for reading stored dead letters: whatever the dead-letter index holds (any
JSON in any field), reading a record never fails, rebuilding its Article either works or says
which field is wrong (`UnreadableLetter`), and paging cursors are parsed or refused plainly."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tasks.dedupe.identity import assign_identity
from tasks.dedupe.near_dup import sign
from tasks.models import Article, Entities
from tasks.store.deadletter_record import (
    ARTICLE_FIELDS,
    DERIVED,
    CursorError,
    DeadLetter,
    UnreadableLetter,
    article_from_letter,
    encode_cursor,
    parse_cursor,
    parse_when,
    read_letter,
)

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=20)
# Documents shaped like real ones: Article field names (and a few others) with any values.
field_names = st.sampled_from(sorted(ARTICLE_FIELDS | {"id", "notes", "word_count", "doc_hash"}))
documents = st.dictionaries(field_names, json_values, max_size=12)
real_looking = st.fixed_dictionaries(
    {"title": st.text(min_size=1, max_size=40), "body": st.text(min_size=1, max_size=200)},
    optional={"published_at": st.text(max_size=40) | json_values,
              "entities": st.dictionaries(st.sampled_from(["persons", "groups", "weapons"]),
                                          json_values, max_size=3) | json_values,
              "relevance": json_values, "authors": json_values, "url": json_values})
sources = st.dictionaries(st.sampled_from(["article_id", "origin", "status", "error_type",
                                           "reason", "at", "document", "index"]),
                          json_values | documents, max_size=8)


def _letter(document: Any, at: datetime | None = None) -> DeadLetter:
    return DeadLetter("u1", None, 400, "x", "r", at, document)


@PROPERTY
@given(source=sources | json_values, seq_no=json_values)
@example(source={"at": [[]], "status": [True], "origin": {"a": [1]}}, seq_no=None)
@example(source={"at": "99999999999999999999", "status": "400"}, seq_no=3)
def test_reading_any_stored_record_never_fails(source, seq_no):
    letter = read_letter({"_id": "abc", "_source": source, "_seq_no": seq_no})
    assert letter.id == "abc"
    assert letter.at is None or letter.at.tzinfo is not None
    assert letter.status is None or type(letter.status) is int
    assert letter.origin is None or len(letter.origin) <= 2000
    json.dumps(letter.summary())  # what `list --json` prints
    json.dumps(letter.to_dict(), default=str)


@PROPERTY
@given(document=documents | real_looking | json_values)
@example(document={"title": "T", "body": "B", "id": "x", "notes": ["n"]})
@example(document={"title": "T", "body": "B", "entities": {"persons": "one"}})
@example(document={"title": "T", "body": "B", "published_at": "2025-13-45"})
@example(document={"title": "T", "body": "\ud800"})
def test_any_stored_document_rebuilds_or_says_why(document):
    try:
        article = article_from_letter(_letter(document))
    except UnreadableLetter as exc:
        assert str(exc)
        return
    assert article.id == "u1" and isinstance(article.body, str) and article.near_dup_sig
    assert article.published_at is None or article.published_at.tzinfo is not None
    article.to_document()  # what the write path sends


moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                  timezone(timedelta(hours=-8))]))
words = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=12)


@PROPERTY
@given(title=words, body=st.lists(words, min_size=1, max_size=40).map(" ".join),
       published=st.none() | moments, persons=st.lists(words, max_size=3),
       relevance=st.none() | st.floats(0, 1), url=st.none() | words.map(lambda w: f"https://e.example/{w}"))
def test_a_rejected_article_comes_back_as_it_was(title, body, published, persons, relevance, url):
    """The Article rebuilt from what `write_dead_letters` stores is the one that was rejected."""
    article = sign(assign_identity(Article(title=title, body=body, url=url, published_at=published,
                                           entities=Entities(persons=persons),
                                           relevance=relevance, cluster_id="stale")))
    stored = json.loads(json.dumps(article.to_document()))  # as Elasticsearch gives it back
    rebuilt = article_from_letter(_letter(stored))
    assert rebuilt.id == "u1"
    expected = {k: v for k, v in article.to_document().items() if k not in ("cluster_id",)}
    got = rebuilt.to_document()
    assert got == expected  # the derived fields computed again come out the same
    assert "cluster_id" not in got  # clustering decides again


def test_derived_fields_are_computed_again_from_a_corrected_body():
    article = sign(assign_identity(Article(title="T", body="one two three four five six")))
    doc = article.to_document() | {"body": "a corrected body with other words in it"}
    rebuilt = article_from_letter(_letter(doc))
    assert rebuilt.content_hash != article.content_hash
    assert rebuilt.near_dup_sig != article.near_dup_sig
    assert set(DERIVED) >= {"content_hash", "near_dup_sig", "cluster_id"}


@pytest.mark.parametrize(("document", "message"), [
    ("text", "holds no document object"),
    ({"body": "B"}, "'title' is missing"),
    ({"title": "T", "body": 5}, "'body' is missing or not text"),
    ({"title": "T", "body": "B", "published_at": 17}, "not an ISO date string"),
    ({"title": "T", "body": "B", "published_at": "2025-01-01"}, "has no time zone"),
    ({"title": "T", "body": "B", "fetched_at": "soon"}, "'fetched_at' is not an ISO date"),
    ({"title": "T", "body": "B", "entities": ["a"]}, "'entities' is not an object"),
    ({"title": "T", "body": "B", "entities": {"weapons": []}}, "unknown kinds ['weapons']"),
    ({"title": "T", "body": "B\ud800"}, "cannot be sent again"),
])
def test_unreadable_documents_name_the_field(document, message):
    with pytest.raises(UnreadableLetter, match=message.replace("[", r"\[").replace("(", r"\(")):
        article_from_letter(_letter(document))


@PROPERTY
@given(value=json_values)
@example(value=float("inf"))
@example(value="١٢٣")  # digits, but not ASCII ones
@example(value=-(10 ** 30))
def test_parse_when_never_fails(value):
    moment = parse_when(value)
    assert moment is None or moment.tzinfo is not None


def test_parse_when_reads_what_elasticsearch_accepts():
    assert parse_when(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_when("1700000000000") == datetime.fromtimestamp(1_700_000_000, UTC)
    assert parse_when("2025-01-02") == datetime(2025, 1, 2, tzinfo=UTC)
    assert parse_when(["2025-01-02T03:04:05+02:00"]) == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert parse_when("next week") is None and parse_when(True) is None


@PROPERTY
@given(millis=st.integers(-(2 ** 63), 2 ** 63 - 1), last=st.none() | st.text())
def test_cursors_round_trip(millis, last):
    assert parse_cursor(encode_cursor([millis, last])) == [millis, last]


@PROPERTY
@given(token=st.text(max_size=200) | json_values.map(lambda v: encode_cursor(v)
                                                     if isinstance(v, list) else str(v)))
@example(token=encode_cursor([True, "a"]))
@example(token=encode_cursor([1, 2]))
@example(token=base64.urlsafe_b64encode(b"[" * 100_000).decode())  # nested past recursion
@example(token="\u00e9t\u00e9")
def test_any_cursor_is_parsed_or_refused_plainly(token):
    try:
        sort = parse_cursor(token)
    except CursorError as exc:
        assert "not a cursor printed by `deadletter list`" in str(exc)
        return
    assert type(sort[0]) is int and (sort[1] is None or isinstance(sort[1], str))
