"""`plan_actions` on hand-built articles and index states: create what is new, skip what is
unchanged, guard every overwrite with the version that was read, in the order given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.models import Article
from tasks.store.bulk import Existing, document_hash, first_seen, plan_actions

INDEX = "cftest-articles-write"
NOW = datetime(2025, 10, 13, 12, 30, tzinfo=UTC)
STAMP = "2025-10-13T12:30:00+00:00"
FIRST_SEEN = "2025-10-01T06:00:00+00:00"


def article(id_: str, title: str = "Truce holds", **kw) -> Article:
    kw.setdefault("body", f"Body of {id_}. The ceasefire held overnight.")
    kw.setdefault("published_at", datetime(2025, 10, 12, 9, tzinfo=UTC))
    kw.setdefault("fetched_at", datetime(2025, 10, 13, 12, tzinfo=UTC))
    return Article(title=title, id=id_, url=f"https://news.example/{id_}", **kw)


def stored(a: Article, seq_no: int = 7, primary_term: int = 2,
           ingested_at: str | None = FIRST_SEEN) -> Existing:
    """What the index holds after `a` was written earlier."""
    return Existing(document_hash(a.to_document()), ingested_at, seq_no, primary_term)


def content(a: Article) -> dict:
    """The article's `_source` with its content hash, before write-time stamps."""
    doc = a.to_document()
    return {**doc, "doc_hash": document_hash(doc)}


def test_nothing_to_plan():
    assert plan_actions([], {}, INDEX, NOW) == ([], 0)


def test_new_id_is_created_with_first_ingest_time():
    a = article("a1")
    actions, unchanged = plan_actions([a], {}, INDEX, NOW)
    assert unchanged == 0
    assert actions == [{"_op_type": "create", "_index": INDEX, "_id": "a1",
                        "_source": {**content(a), "ingested_at": STAMP,
                                    "coverage_date": content(a)["published_at"]}}]
    assert "id" not in actions[0]["_source"] and "updated_at" not in actions[0]["_source"]


def test_same_document_hash_is_unchanged():
    a = article("a1")
    assert plan_actions([a], {"a1": stored(a)}, INDEX, NOW) == ([], 1)


def test_new_fetch_time_alone_is_not_a_change():
    a = article("a1")
    refetched = replace(a, fetched_at=a.fetched_at + timedelta(hours=6))
    assert plan_actions([refetched], {"a1": stored(a)}, INDEX, NOW) == ([], 1)


def test_changed_content_is_indexed_guarded_by_the_version_read():
    old = article("a1")
    new = replace(old, title="Truce holds, talks resume")
    actions, unchanged = plan_actions([new], {"a1": stored(old, seq_no=41, primary_term=3)}, INDEX, NOW)
    assert unchanged == 0
    assert actions == [{"_op_type": "index", "_index": INDEX, "_id": "a1",
                        "if_seq_no": 41, "if_primary_term": 3,
                        "_source": {**content(new), "ingested_at": FIRST_SEEN, "updated_at": STAMP,
                                    "coverage_date": content(new)["published_at"]}}]
    assert actions[0]["_source"]["doc_hash"] != stored(old).doc_hash


def test_change_without_a_recorded_first_ingest_takes_now():
    old = article("a1")
    new = replace(old, body=old.body + " Shelling resumed at dawn.")
    actions, _ = plan_actions([new], {"a1": stored(old, ingested_at=None)}, INDEX, NOW)
    assert actions[0]["_source"]["ingested_at"] == STAMP
    assert actions[0]["_source"]["updated_at"] == STAMP


def test_document_without_a_stored_hash_is_rewritten():
    # Indexed before hashes were stored: cannot prove it unchanged, so it is overwritten (guarded).
    a = article("a1")
    actions, unchanged = plan_actions([a], {"a1": Existing(None, FIRST_SEEN, 5, 1)}, INDEX, NOW)
    assert unchanged == 0
    assert [(x["_op_type"], x["if_seq_no"], x["if_primary_term"]) for x in actions] == [("index", 5, 1)]
    assert actions[0]["_source"] == {**content(a), "ingested_at": FIRST_SEEN, "updated_at": STAMP,
                                     "coverage_date": content(a)["published_at"]}


def test_written_document_plans_as_unchanged_next_time():
    # The stored hash is the hash of what was written, stamps included: a rerun writes nothing.
    a = article("a1")
    (created,), _ = plan_actions([a], {}, INDEX, NOW)
    written = created["_source"]
    assert written["doc_hash"] == document_hash(written)
    again = Existing(written["doc_hash"], written["ingested_at"], 0, 1)
    assert plan_actions([a], {"a1": again}, INDEX, NOW + timedelta(days=1)) == ([], 1)


def test_coverage_date_is_the_published_date_else_the_first_seen_one():
    dated, fetched, unfetched = (article("d1"), article("u1", published_at=None),
                                 article("u2", published_at=None, fetched_at=None))
    actions, _ = plan_actions([dated, fetched, unfetched], {}, INDEX, NOW)
    assert [x["_source"]["coverage_date"] for x in actions] == [
        "2025-10-12T09:00:00+00:00", "2025-10-13T12:00:00+00:00", STAMP]


def test_an_undated_article_keeps_its_place_in_time():
    """Re-ingesting the same undated article (fetched again later) changes nothing, and a
    changed version keeps the first-seen date, so time charts never move it."""
    a = article("u1", published_at=None)
    (created,), _ = plan_actions([a], {}, INDEX, NOW)
    written = created["_source"]
    again = Existing(written["doc_hash"], written["ingested_at"], 0, 1, first_seen(written))
    refetched = replace(a, fetched_at=a.fetched_at + timedelta(days=3))
    assert plan_actions([refetched], {"u1": again}, INDEX, NOW + timedelta(days=3)) == ([], 1)
    edited = replace(refetched, body=a.body + " Talks resume on Monday.")
    (updated,), _ = plan_actions([edited], {"u1": again}, INDEX, NOW + timedelta(days=3))
    assert updated["_source"]["coverage_date"] == written["coverage_date"] == \
        a.fetched_at.isoformat()
    assert updated["_source"]["fetched_at"] > written["coverage_date"]


def test_mixed_batch_keeps_input_order_and_skips_unchanged():
    same, changed, fresh, also_same, fresh2 = (article(i) for i in ("s1", "c1", "n1", "s2", "n2"))
    existing = {
        "s1": stored(same), "s2": stored(also_same),
        "c1": stored(replace(changed, title="Earlier headline"), seq_no=9, primary_term=1),
        "gone": stored(article("gone")),  # in the index but not in this batch: no action
    }
    batch = [fresh2, same, changed, also_same, fresh]
    actions, unchanged = plan_actions(batch, existing, INDEX, NOW)
    assert unchanged == 2
    assert [(x["_op_type"], x["_id"]) for x in actions] == [("create", "n2"), ("index", "c1"), ("create", "n1")]
    assert {x["_index"] for x in actions} == {INDEX}
    assert [x.get("if_seq_no") for x in actions] == [None, 9, None]


def test_articles_are_not_modified():
    a = article("a1")
    before = a.to_document()
    plan_actions([a], {"a1": Existing("stale", FIRST_SEEN, 1, 1)}, INDEX, NOW)
    assert a.to_document() == before


# --- properties ------------------------------------------------------------------------------

STATES = st.sampled_from(["absent", "same", "changed", "unhashed"])


@st.composite
def batches(draw):
    """Articles with distinct ids and, for each, what the index holds for it."""
    states = draw(st.lists(STATES, max_size=12))
    titles = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
    articles, existing = [], {}
    for i, state in enumerate(states):
        a = article(f"id{i:02d}", draw(titles), body=draw(titles),
                    published_at=draw(st.none() | st.datetimes(timezones=st.just(UTC))))
        articles.append(a)
        if state == "same":
            existing[a.id] = stored(a, seq_no=i)
        elif state == "changed":
            existing[a.id] = stored(replace(a, title=a.title + " (updated)"), seq_no=i)
        elif state == "unhashed":
            existing[a.id] = Existing(None, None, i, 1, draw(st.none() | st.datetimes(
                timezones=st.just(UTC)).map(datetime.isoformat)))
    return articles, existing, states


@settings(max_examples=100, deadline=None, database=None)
@given(batches())
def test_every_article_yields_exactly_one_outcome(batch):
    articles, existing, states = batch
    actions, unchanged = plan_actions(articles, existing, INDEX, NOW)
    assert len(actions) + unchanged == len(articles)
    expected = [("create" if s == "absent" else "index", a.id)
                for a, s in zip(articles, states, strict=True) if s != "same"]
    assert [(x["_op_type"], x["_id"]) for x in actions] == expected
    assert unchanged == states.count("same")
    for x in actions:
        old = existing.get(x["_id"])
        assert x["_source"]["doc_hash"] == document_hash(x["_source"])
        if old is None:
            assert "if_seq_no" not in x and x["_source"]["ingested_at"] == STAMP
        else:
            assert (x["if_seq_no"], x["if_primary_term"]) == (old.seq_no, old.primary_term)
            assert x["_source"]["updated_at"] == STAMP
        src = x["_source"]
        if src.get("published_at"):
            assert src["coverage_date"] == src["published_at"]
        else:  # never later than any time it was seen
            seen = [t for t in (src.get("fetched_at"), src["ingested_at"],
                                old and old.first_seen) if t]
            assert all(datetime.fromisoformat(src["coverage_date"]) <= datetime.fromisoformat(t)
                       for t in seen)


@settings(max_examples=50, deadline=None, database=None)
@given(batches())
def test_planning_again_after_the_writes_does_nothing(batch):
    articles, existing, _ = batch
    actions, _ = plan_actions(articles, existing, INDEX, NOW)
    after = dict(existing)
    for x in actions:
        after[x["_id"]] = Existing(x["_source"]["doc_hash"], x["_source"]["ingested_at"], 100, 1)
    assert plan_actions(articles, after, INDEX, NOW + timedelta(hours=1)) == ([], len(articles))
