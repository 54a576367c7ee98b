"""Dead letters against the real node: real rejections (a field the index's mapping does not
have yet, a value the mapping refuses), listed and shown, then replayed after the mapping is
fixed (`setup_indices`, as `ceasefire setup` does) or the stored data is: replayed articles are
indexed with their near-duplicate clusters and leave the dead-letter index; one still bad stays
with its new error; a replay stopped midway loses nothing and a second one finishes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

import index_mappings
from tasks.dedupe.clusters import dedupe_batch
from tasks.models import Article
from tasks.settings import Settings
from tasks.store.bulk import IndexReport
from tasks.store.client import connect
from tasks.store.deadletter import (
    LetterFilter,
    ReplayError,
    delete_letters,
    get_letter,
    list_letters,
    read_letters,
    replay,
)
from tasks.store.retrying import Retry
from tasks.store.setup import delete_all, setup_indices, stemming_languages
from tasks.store.write import write_batch
from testkit.clusters import assert_clusters_whole, cluster_snapshot
from testkit.fault_proxy import FaultProxy
from testkit.syndication import LabelledArticle, build_corpus, load_stories, prepared_articles

STORIES = load_stories()
NO_WAIT = Retry(attempts=3, sleep=lambda s: None)


def _corpus() -> list[LabelledArticle]:
    """Three stories of one event, each with its original (the earliest copy) and copies."""
    event = STORIES[0]["event"]
    stories = [s for s in STORIES if s["event"] == event][:6]
    corpus = build_corpus(seed=5, max_copies=3, original_missing=0.0, stories=stories)
    copied = {a.story for a in corpus if not a.is_original}
    kept = sorted(copied)[:3]
    assert len(kept) == 3
    return [a for a in corpus if a.story in kept]


CORPUS = _corpus()


def _articles(corpus: list[LabelledArticle] = CORPUS) -> list[Article]:
    return prepared_articles(corpus)


def _originals(articles: list[Article]) -> list[Article]:
    urls = {c.url for c in CORPUS if c.is_original}
    return sorted((a for a in articles if a.url in urls), key=lambda a: a.id)


def _ingest(es: Elasticsearch, settings: Settings, articles: list[Article],
            batch_size: int = 5) -> IndexReport:
    """Cluster and write batch by batch, as the ingest flow does; the reports summed."""
    total = IndexReport()
    for i in range(0, len(articles), batch_size):
        batch = articles[i:i + batch_size]
        plan = dedupe_batch(es, settings.read_alias, batch).plan
        report = write_batch(es, settings, batch, plan.relabel, {}, NO_WAIT)
        total.created += report.created
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.rejections += report.rejections
    return total


def _index_without(es: Elasticsearch, settings: Settings, field: str) -> None:
    """The articles index as an older release made it: its strict mapping lacks `field`, so
    documents carrying it are rejected until `setup_indices` adds it."""
    setup_indices(es, settings)
    body = index_mappings.articles_template(stemming_languages(es))
    del body["template"]["mappings"]["properties"][field]
    es.indices.put_index_template(name=settings.articles_template,
                                  index_patterns=[settings.articles_pattern], **body)
    es.indices.delete(index=settings.articles_index)
    es.indices.create(index=settings.articles_index, aliases={
        settings.read_alias: {}, settings.write_alias: {"is_write_index": True}})


@pytest.fixture
def stale(es: Elasticsearch, settings: Settings) -> Elasticsearch:
    """A prefix whose articles index does not know `dateline` yet."""
    _index_without(es, settings, "dateline")
    return es


def _letter_ids(es: Elasticsearch, settings: Settings) -> list[str]:
    return sorted(letter.id for letter in list_letters(es, settings.deadletter_index,
                                                       limit=1000).letters)


def _clean_snapshot(es: Elasticsearch, settings: Settings) -> dict[str, tuple[str, str | None]]:
    """The clusters of CORPUS ingested with nothing rejected (under another prefix)."""
    clean = settings.replace(index_prefix=f"{settings.index_prefix}-clean")
    setup_indices(es, clean)
    try:
        _ingest(es, clean, _articles())
        return cluster_snapshot(es, clean.read_alias)
    finally:
        delete_all(es, clean)


# --- the whole story ------------------------------------------------------------------------


def test_rejected_articles_are_listed_shown_and_replayed_with_their_clusters(stale, settings):
    es = stale
    clean = _clean_snapshot(es, settings)
    articles = _articles()
    originals = _originals(articles)  # each its story's representative in a clean run
    assert all(clean[a.id] == (a.id, None) for a in originals)
    assert all(sum(c == a.id for c, _ in clean.values()) > 1 for a in originals)  # with copies
    for article in originals:
        article.dateline = "KYIV"  # a field this index's mapping does not have yet
    bad = originals[0]
    bad.relevance = "very"  # type: ignore[assignment]  # and a value no float mapping takes
    before = datetime.now(UTC)
    ingested = _ingest(es, settings, articles)
    assert sorted(r.article_id for r in ingested.rejections) == [a.id for a in originals]
    assert {r.error_type for r in ingested.rejections} == {"strict_dynamic_mapping_exception"}
    snapshot = cluster_snapshot(es, settings.read_alias)
    assert not {a.id for a in originals} & {c for c, _ in snapshot.values()}  # healed

    # list: newest first, filters, pages
    index = settings.deadletter_index
    page = list_letters(es, index)
    assert page.total == 3 and page.next is None
    newest_first = sorted(page.letters, key=lambda x: (-x.at.timestamp(), x.id))  # type: ignore[union-attr]
    assert page.letters == newest_first
    assert all(letter.at and letter.at >= before for letter in page.letters)
    assert all("dateline" in letter.reason and letter.status == 400 for letter in page.letters)
    assert {letter.origin for letter in page.letters} == {a.url for a in originals}
    assert list_letters(es, index, LetterFilter(reason="dateline")).total == 3
    assert list_letters(es, index, LetterFilter(reason="strict_dynamic_mapping_exception")).total == 3
    assert list_letters(es, index, LetterFilter(reason="document_parsing_exception")).total == 0
    assert list_letters(es, index, LetterFilter(since=datetime.now(UTC) + timedelta(1))).total == 0
    first = list_letters(es, index, limit=2)
    second = list_letters(es, index, limit=2, after=first.next)
    assert len(first.letters) == 2 and first.next and len(second.letters) == 1
    assert sorted(x.id for x in first.letters + second.letters) == [a.id for a in originals]
    assert second.next is None

    # show: the whole stored document and the error
    shown = get_letter(es, index, bad.id)
    assert shown is not None and shown.document["title"] == bad.title
    assert shown.document["relevance"] == "very" and shown.document["dateline"] == "KYIV"
    assert shown.error_type == "strict_dynamic_mapping_exception"
    assert get_letter(es, index, "no-such-letter") is None

    # replayed before the fix: rejected again, kept, nothing lost
    again = replay(es, settings, letters=LetterFilter(), retry=NO_WAIT)
    assert not again.complete and not again.replayed
    assert sorted(r.article_id for r in again.rejected) == [a.id for a in originals]
    assert _letter_ids(es, settings) == [a.id for a in originals]
    assert get_letter(es, index, bad.id).at > shown.at  # type: ignore[union-attr,operator]

    # the mapping fixed (`ceasefire setup` adds the field), replayed: two indexed, one not
    setup_indices(es, settings)
    report = replay(es, settings, letters=LetterFilter(), retry=NO_WAIT)
    assert sorted(report.replayed) == sorted(a.id for a in originals[1:])
    assert report.created == 2 and report.clusters_relabelled >= 3  # the bad one's too, then healed
    assert [r.article_id for r in report.rejected] == [bad.id] and not report.complete
    still = get_letter(es, index, bad.id)
    assert still is not None and still.error_type == "document_parsing_exception"
    assert "relevance" in still.reason  # the new error replaces the old one
    assert _letter_ids(es, settings) == [bad.id]
    snapshot = cluster_snapshot(es, settings.read_alias)
    for article in originals[1:]:  # representatives again: their clusters as a clean run's
        members = {d for d, (c, _) in clean.items() if c == article.id}
        assert {d for d, (c, _) in snapshot.items() if c == article.id} == members
    assert_clusters_whole(es, settings.read_alias)

    # the data fixed in the stored letter, replayed by id: indexed, its cluster whole again
    es.update(index=index, id=bad.id, doc={"document": {"relevance": 0.4}}, refresh=True)
    fixed = replay(es, settings, ids=[bad.id], retry=NO_WAIT)
    assert fixed.complete and fixed.replayed == [bad.id] and fixed.created == 1
    assert _letter_ids(es, settings) == []
    assert es.get(index=settings.read_alias, id=bad.id)["_source"]["relevance"] == 0.4
    assert cluster_snapshot(es, settings.read_alias) == clean
    assert_clusters_whole(es, settings.read_alias)

    # run again: nothing to do, nothing rewritten
    versions = {h["_id"]: h["_version"] for h in es.search(
        index=settings.read_alias, size=1000, version=True)["hits"]["hits"]}
    rerun = replay(es, settings, ids=[bad.id, "u-not-an-article"], retry=NO_WAIT)
    assert rerun.already_indexed == [bad.id] and rerun.unknown == ["u-not-an-article"]
    assert not rerun.complete  # an unknown id was asked for
    assert replay(es, settings, letters=LetterFilter(), retry=NO_WAIT).complete
    assert versions == {h["_id"]: h["_version"] for h in es.search(
        index=settings.read_alias, size=1000, version=True)["hits"]["hits"]}


def test_a_letter_superseded_by_a_later_ingest_is_removed_without_being_sent(stale, settings):
    """Fixed upstream and ingested again: the stored (older) document must not overwrite it."""
    es = stale
    article = _articles()[0]
    article.dateline = "GAZA"
    assert len(_ingest(es, settings, [article]).rejections) == 1
    setup_indices(es, settings)
    newer = _articles()[0]
    newer.dateline = "GAZA CITY"
    assert _ingest(es, settings, [newer]).created == 1
    version = es.get(index=settings.read_alias, id=article.id)["_version"]
    report = replay(es, settings, letters=LetterFilter(reason="dateline"), retry=NO_WAIT)
    assert report.superseded == [article.id] and not report.replayed and report.complete
    stored = es.get(index=settings.read_alias, id=article.id)
    assert stored["_version"] == version and stored["_source"]["dateline"] == "GAZA CITY"
    assert _letter_ids(es, settings) == []


@pytest.fixture
def proxy(base_settings: Settings) -> Iterator[FaultProxy]:
    with FaultProxy(base_settings.elasticsearch_url) as p:
        yield p


def test_a_replay_stopped_midway_loses_nothing_and_a_second_one_finishes(stale, settings, proxy):
    es = stale
    articles = _articles()
    for article in _originals(articles):
        article.dateline = "KYIV"
    _ingest(es, settings, articles)
    rejected = _letter_ids(es, settings)
    assert len(rejected) == 3
    setup_indices(es, settings)

    # the articles are written, then every delete of their letters fails: the replay stops
    proxy.throttle_items(1000, index=settings.deadletter_index, op="delete")
    with connect(settings.replace(es_url=proxy.base)) as via_proxy, \
            pytest.raises(RuntimeError, match="could not be deleted"):
        replay(via_proxy, settings, letters=LetterFilter(), retry=NO_WAIT)
    assert proxy.injected["item"] >= 3
    assert _letter_ids(es, settings) == rejected  # nothing lost
    assert all(es.exists(index=settings.read_alias, id=i) for i in rejected)
    versions = {i: es.get(index=settings.read_alias, id=i)["_version"] for i in rejected}

    # a second replay finds them indexed since their rejection: removed, not sent again
    report = replay(es, settings, letters=LetterFilter(), retry=NO_WAIT)
    assert sorted(report.superseded) == rejected and report.complete
    assert (report.created, report.updated) == (0, 0)
    assert _letter_ids(es, settings) == []
    assert versions == {i: es.get(index=settings.read_alias, id=i)["_version"] for i in rejected}
    assert_clusters_whole(es, settings.read_alias)


def test_a_letter_rewritten_meanwhile_is_kept(stale, settings):
    """Deletes are guarded by the version read: a letter another writer rewrote (a newer
    rejection) stays; one deleted already counts as gone."""
    es = stale
    articles = _articles()[:2]
    for article in articles:
        article.dateline = "KYIV"
    _ingest(es, settings, articles)
    index = settings.deadletter_index
    letters = read_letters(es, index, [a.id for a in articles])
    assert len(letters) == 2
    first, second = (letters[a.id] for a in articles)
    es.update(index=index, id=first.id, doc={"reason": "rejected again elsewhere"}, refresh=True)
    es.delete(index=index, id=second.id, refresh=True)
    gone, kept = delete_letters(es, index, [first, second], NO_WAIT)
    assert gone == {second.id} and kept == [first.id]
    assert get_letter(es, index, first.id).reason == "rejected again elsewhere"  # type: ignore[union-attr]


def test_hostile_stored_letters_are_shown_and_kept_with_a_reason(ready_es, settings):
    """Records anyone could have written: an epoch-millis time, arrays, no document, a
    document that is text, a date without a zone. Listed and shown as they are; replay says
    why each cannot be sent and keeps it."""
    es = ready_es
    index = settings.deadletter_index
    records = {
        "h-millis": {"at": 1_700_000_000_000, "status": [400, 500], "origin": 7,
                     "document": {"title": "T", "body": "no time zone",
                                  "published_at": "2025-01-01T10:00:00"}},
        "h-text": {"at": ["2025-01-02", "2025-03-01T00:00:00Z"], "document": "just text"},
        "h-none": {"error_type": "x", "reason": "r"},
        "h-kinds": {"at": "2025-01-03T00:00:00Z",
                    "document": {"title": "T", "body": "B", "entities": {"weapons": ["x"]}}},
    }
    for doc_id, record in records.items():
        es.index(index=index, id=doc_id, document=record, refresh=True)
    page = list_letters(es, index)
    assert page.total == 4
    assert page.letters[-1].id == "h-none"  # no time: last
    by_id = {letter.id: letter for letter in page.letters}
    assert by_id["h-millis"].at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert by_id["h-millis"].status == 400 and by_id["h-millis"].origin == "7"
    assert by_id["h-text"].at == datetime(2025, 1, 2, tzinfo=UTC)
    assert get_letter(es, index, "h-text").document == "just text"  # type: ignore[union-attr]
    report = replay(es, settings, letters=LetterFilter(), retry=NO_WAIT)
    why = dict(report.unreadable)
    assert sorted(why) == sorted(records) and not report.complete
    assert "no time zone" in why["h-millis"] and "no document object" in why["h-text"]
    assert "unknown kinds ['weapons']" in why["h-kinds"]
    assert list_letters(es, index).total == 4  # all kept


def test_replay_needs_an_articles_index(es, settings):
    with pytest.raises(ReplayError, match="ceasefire setup"):
        replay(es, settings, letters=LetterFilter())
    assert list_letters(es, settings.deadletter_index).total == 0  # no index: nothing listed


# --- the command line -----------------------------------------------------------------------


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", "deadletter", *args],
                          capture_output=True, text=True, env={**os.environ, **env},
                          timeout=300, check=False)


def test_cli_lists_shows_and_replays(stale, settings):
    es = stale
    articles = _articles()[:3]
    articles[0].dateline = "KYIV"
    articles[1].dateline = "KYIV"
    articles[1].relevance = "very"  # type: ignore[assignment]
    _ingest(es, settings, articles)

    listed = _cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "2 dead letters" in listed.stdout and "strict_dynamic_mapping_exception 400" in listed.stdout
    assert "dateline" in listed.stdout
    paged = json.loads(_cli("list", "--json", "--limit", "1").stdout)
    assert paged["total"] == 2 and len(paged["letters"]) == 1 and paged["next"]
    rest = json.loads(_cli("list", "--json", "--after", paged["next"]).stdout)
    assert len(rest["letters"]) == 1 and rest["next"] is None
    assert json.loads(_cli("list", "--json", "--reason", "nothing-like-it").stdout)["total"] == 0

    shown = _cli("show", articles[0].id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["document"]["dateline"] == "KYIV"
    text = _cli("show", articles[0].id)
    assert f"id:       {articles[0].id}" in text.stdout and "  dateline: KYIV" in text.stdout
    assert _cli("show", "missing-id").returncode == 1

    assert _cli("replay").returncode == 2  # neither ids nor a selection
    assert _cli("replay", "--all", "--id", "x").returncode == 2
    assert _cli("list", "--after", "not-a-cursor").returncode == 2
    assert _cli("list", "--since", "yesterday").returncode == 2
    unreachable = _cli("replay", "--all", ELASTICSEARCH_URL="http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "no Elasticsearch" in unreachable.stderr

    setup_indices(es, settings)
    replayed = _cli("replay", "--all", "--json")
    assert replayed.returncode == 1, replayed.stderr  # one rejected again
    result = json.loads(replayed.stdout)
    assert result["replayed"] == [articles[0].id]
    assert [r["id"] for r in result["rejected"]] == [articles[1].id]
    assert result["rejected"][0]["error_type"] == "document_parsing_exception"
    es.update(index=settings.deadletter_index, id=articles[1].id,
              doc={"document": {"relevance": 0.9}}, refresh=True)
    done = _cli("replay", "--id", articles[1].id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"1 indexed (1 created, 0 updated, 0 unchanged) and removed "
                                  f"from {settings.deadletter_index}")
    assert "no dead letters" in _cli("list").stdout
