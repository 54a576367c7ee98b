"""Exact accounting under faults: batches written through a real loopback proxy
(`testkit.fault_proxy`) that injects whole-request 429/503s, per-item 429s, dropped connections
and permanent mapping rejections in front of the real node.

Whatever the faults, every input ends created, updated, unchanged or dead-lettered, exactly
once, and the index holds what a fault-free run writes; clusters never point at an id the
index does not hold. Clustering (`dedupe_batch`) reads the node directly: only the writes of
`write_batch` go through the proxy.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError

from tasks.dedupe.clusters import dedupe_batch, heal_plan
from tasks.dedupe.near_dup import Member
from tasks.models import Article
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.store.bulk import (
    DeadLetterError,
    IndexReport,
    Ledger,
    Rejection,
    index_articles,
    write_dead_letters,
)
from tasks.store.client import connect
from tasks.store.retrying import (
    ItemResult,
    Retry,
    bulk_items,
    call,
    is_transient,
    node_gone,
    retryable_status,
)
from tasks.store.setup import delete_all, setup_indices
from tasks.store.write import write_batch
from testkit.clusters import assert_clusters_whole, cluster_snapshot
from testkit.fault_proxy import FaultProxy, parse_bulk
from testkit.syndication import LabelledArticle, build_corpus, load_stories, prepared_articles

STORIES = load_stories()
T0 = datetime(2025, 10, 13, 8, 0, tzinfo=UTC)
BATCH = 7


def _corpus() -> list[LabelledArticle]:
    """24 articles of 7 stories, copies first and originals (each story's earliest) last, so
    the last batch relabels the clusters the copies formed."""
    event = STORIES[0]["event"]
    stories = [s for s in STORIES if s["event"] == event][:4] + STORIES[-3:]
    corpus = build_corpus(seed=3, max_copies=4, original_missing=0.0, stories=stories)
    return [a for a in corpus if not a.is_original] + [a for a in corpus if a.is_original]


CORPUS = _corpus()


def _articles(corpus: list[LabelledArticle] = CORPUS) -> list[Article]:
    return prepared_articles(corpus)


def _ids_of(corpus: list[LabelledArticle]) -> dict[str, str]:
    """url -> id."""
    return {a.url: a.id for a in _articles(corpus)}


@dataclass(slots=True)
class Written:
    """A run's account as the flows keep it (`RunReport`), and how many members were healed."""

    report: RunReport
    healed: int = 0

    def add(self, result: IndexReport) -> None:
        self.report.add_index(result)
        self.healed += result.healed

    @property
    def counts(self) -> tuple[int, int, int, int]:
        r = self.report
        return r.created, r.updated, r.unchanged, r.dead_lettered


def _run(settings: Settings, writer: Elasticsearch, articles: list[Article], retry: Retry,
         batch_size: int = BATCH) -> Written:
    """Cluster (directly) and write (through `writer`) batch by batch, one ledger a batch."""
    written = Written(RunReport(inputs=len(articles)))
    with connect(settings) as direct:
        for i in range(0, len(articles), batch_size):
            batch = articles[i:i + batch_size]
            plan = dedupe_batch(direct, settings.read_alias, batch).plan
            written.report.clusters_relabelled += len(plan.relabel)
            written.add(write_batch(writer, settings, batch, plan.relabel, {}, retry))
    return written


def _recording_retry(waits: list[float], attempts: int = 6) -> Retry:
    """No real waiting: the waits are recorded (faults here are bounded in count, not time)."""
    return Retry(attempts=attempts, sleep=waits.append)


@pytest.fixture(scope="module")
def clean_run(base_settings: Settings) -> tuple[dict[str, tuple[str, str | None]], Written]:
    """The fault-free run of CORPUS, written directly: its index snapshot and counts."""
    settings = base_settings.replace(index_prefix=f"cftest-{uuid.uuid4().hex[:10]}")
    es = connect(settings)
    setup_indices(es, settings)
    try:
        written = _run(settings, es, _articles(), Retry())
        snapshot = cluster_snapshot(es, settings.read_alias)
        assert len(snapshot) == len(CORPUS) == written.report.created
        return snapshot, written
    finally:
        delete_all(es, settings)


@pytest.fixture
def proxy(base_settings: Settings) -> Iterator[FaultProxy]:
    with FaultProxy(base_settings.elasticsearch_url) as p:
        yield p


@pytest.fixture
def via_proxy(ready_es, settings: Settings, proxy: FaultProxy) -> Iterator[Elasticsearch]:
    """A client built like production's (`connect`: 3 transport retries) that talks to the
    proxy."""
    with connect(settings.replace(es_url=proxy.base)) as client:
        yield client


# --- pure pieces ----------------------------------------------------------------------------


def _member(id_: str, minutes: int | None, cluster: str) -> Member:
    return Member(id_, None if minutes is None else T0 + timedelta(minutes=minutes), None, cluster)


def test_heal_plan_picks_the_earliest_remaining_member():
    members = [
        _member("r1", 0, "r1"),  # an older version of a rejected id still indexed: never chosen
        _member("b", 30, "r1"), _member("a", 30, "r1"), _member("c", 10, "r1"),
        _member("u1", None, "r2"), _member("u0", None, "r2"),  # undated only: smallest id
        _member("d", 50, "r3"), _member("e", None, "r3"),  # dated before undated
        _member("x", 5, "kept"),  # not a rejected cluster: not touched
    ]
    assert heal_plan(members, {"r1", "r2", "r3", "r4"}) == {"r1": "c", "r2": "u0", "r3": "d"}
    assert heal_plan([_member("r1", 0, "r1")], {"r1"}) == {}  # nobody else: left alone
    assert heal_plan(members, set()) == {}


def test_retryable_statuses():
    assert [retryable_status(s) for s in (None, 429, 500, 503)] == [True] * 4
    assert [retryable_status(s) for s in (400, 404, 409, 413)] == [False] * 4


def _api_error(status: int, body: dict | None = None) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "127.0.0.1", 9200))
    return ApiError(f"status {status}", meta=meta, body=body or {})


def test_a_node_or_shard_copy_gone_is_transient_whatever_its_status():
    """A node killed mid-request: the shard copy it held answers 404 until the replica is
    promoted; that is worth another try, unlike a missing index or a bad document."""
    gone = {"type": "shard_not_found_exception", "reason": "no such shard"}
    assert node_gone(gone) and node_gone({"type": "remote_transport_exception", "caused_by": gone})
    assert not node_gone({"type": "document_parsing_exception"}) and not node_gone(None)
    assert is_transient(_api_error(404, {"error": gone}))
    assert not is_transient(_api_error(404, {"error": {"type": "index_not_found_exception"}}))
    assert ItemResult({"_id": "a"}, "create", 404, {"status": 404, "error": gone}).transient
    assert ItemResult({"_id": "a"}, "create", None, {"error": {"type": "ConnectionError"}}).transient
    conflict = {"status": 409, "error": {"type": "version_conflict_engine_exception"}}
    assert not ItemResult({"_id": "a"}, "create", 409, conflict).transient


def test_call_retries_transient_failures_only():
    waits: list[float] = []
    failures = [_api_error(429), EsConnectionError("dropped"), _api_error(503)]

    def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    assert call(flaky, Retry(attempts=4, base=0.5, cap=1.0, sleep=waits.append)) == "done"
    assert len(waits) == 3 and all(0 <= w <= 1.0 for w in waits)

    def bad_request() -> None:
        raise _api_error(400)

    waits.clear()
    with pytest.raises(ApiError):
        call(bad_request, Retry(sleep=waits.append))
    assert waits == []  # not retried

    def always_busy() -> None:
        raise _api_error(429)

    with pytest.raises(ApiError):
        call(always_busy, Retry(attempts=3, sleep=waits.append))
    assert len(waits) == 2  # three attempts, then the last failure is raised


def test_parse_bulk_splits_actions_and_sources():
    body = (b'{"index":{"_index":"i","_id":"a"}}\n{"x":1}\n{"delete":{"_id":"b"}}\n'
            b'{"create":{"_id":"c"}}\n{"y":2}\n')
    items = parse_bulk(body, "dflt")
    assert [(i.op, i.index, i.id, len(i.lines)) for i in items] == [
        ("index", "i", "a", 2), ("delete", "dflt", "b", 1), ("create", "dflt", "c", 2)]


# --- one retrying bulk, item by item ------------------------------------------------------


def _docs(index: str, n: int) -> list[dict]:
    return [{"_op_type": "create", "_index": index, "_id": f"d{i}", "_source": {"title": f"t{i}"}}
            for i in range(n)]


def test_bulk_items_retries_only_the_throttled_items(via_proxy, settings, proxy, ready_es):
    waits: list[float] = []
    proxy.throttle_items(3, ids=["d1", "d3"])  # d1, d3 throttled, then d1 once more
    proxy.reject_documents(["d4"])
    outcome = bulk_items(via_proxy, _docs(settings.write_alias, 6), _recording_retry(waits),
                         refresh="wait_for")
    assert sorted(i.id for i in outcome.succeeded) == ["d0", "d1", "d2", "d3", "d5"]
    assert [(i.id, i.status, i.exhausted) for i in outcome.failed] == [("d4", 400, False)]
    assert proxy.faulted["item"] == ["d1", "d3", "d1"] and proxy.faulted["reject"] == ["d4"]
    assert outcome.retries == 2 and len(waits) == 2
    bulk_bodies = [p for m, p in proxy.requests if "_bulk" in p]
    assert len(bulk_bodies) == 3  # the rejected item was not re-sent
    assert ready_es.count(index=settings.read_alias)["count"] == 5


def test_bulk_items_reports_exhausted_items_unwritten(via_proxy, settings, proxy, ready_es):
    proxy.throttle_items(100, ids=["d2"])
    outcome = bulk_items(via_proxy, _docs(settings.write_alias, 3), _recording_retry([], attempts=3),
                         refresh="wait_for")
    assert [(i.id, i.status, i.exhausted) for i in outcome.failed] == [("d2", 429, True)]
    assert proxy.injected["item"] == 3
    assert not ready_es.exists(index=settings.read_alias, id="d2")  # reported failed: not written


def test_bulk_items_retries_whole_requests_past_the_transport(via_proxy, settings, proxy):
    waits: list[float] = []
    proxy.fail_requests(6, 503, path="_bulk")  # the client's own 3 retries absorb 4 of them
    proxy.drop_connections(5, path="_bulk")
    outcome = bulk_items(via_proxy, _docs(settings.write_alias, 4), _recording_retry(waits))
    assert len(outcome.succeeded) == 4 and not outcome.failed
    assert proxy.injected == {"status": 6, "drop": 5}
    assert outcome.retries == len(waits) >= 2


# --- whole batches under faults -------------------------------------------------------------


Arm = Callable[[FaultProxy, Settings], None]
FAULTS: dict[str, tuple[Arm, str, int]] = {
    # name: (arm the proxy, the counter that must have fired, how many times)
    "bulk requests 429": (lambda p, s: p.fail_requests(10, 429, path="_bulk"), "status", 10),
    "any request 503": (lambda p, s: p.fail_requests(14, 503), "status", 14),
    "article items 429": (lambda p, s: p.throttle_items(12, index=s.write_alias), "item", 12),
    "relabel items 429": (lambda p, s: p.throttle_items(9, index=f"^{s.articles_index}$",
                                                        op="index"), "item", 9),
    "bulk connections dropped": (lambda p, s: p.drop_connections(10, path="_bulk"), "drop", 10),
    "bulk answers lost": (lambda p, s: p.drop_connections(10, path="_bulk", after_forward=True),
                          "drop", 10),
    "any answer lost": (lambda p, s: p.drop_connections(12, after_forward=True), "drop", 12),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_counts_and_index_match_a_fault_free_run(fault, via_proxy, settings, proxy, ready_es,
                                                 clean_run):
    clean_snapshot, clean = clean_run
    arm, counter, times = FAULTS[fault]
    arm(proxy, settings)
    waits: list[float] = []
    articles = _articles()
    written = _run(settings, via_proxy, articles, _recording_retry(waits))
    assert proxy.injected[counter] == times  # every fault fired
    assert waits  # and reached our retries, past the client's own
    assert written.counts == (len(articles), 0, 0, 0) == clean.counts
    assert written.report.balanced
    assert written.report.clusters_relabelled == clean.report.clusters_relabelled > 0
    assert cluster_snapshot(ready_es, settings.read_alias) == clean_snapshot
    assert_clusters_whole(ready_es, settings.read_alias)


def _originals() -> list[LabelledArticle]:
    """Originals of stories with copies: each is its cluster's representative."""
    copied = {a.story for a in CORPUS if not a.is_original}
    return [a for a in CORPUS if a.is_original and a.story in copied]


@pytest.mark.parametrize("order", ["copies first, in batches", "one batch, shuffled"])
def test_rejected_representatives_leave_no_cluster_pointing_at_them(
        order, via_proxy, settings, proxy, ready_es, clean_run):
    clean_snapshot, _ = clean_run
    corpus = list(CORPUS)
    batch_size = BATCH
    if order == "one batch, shuffled":
        random.Random(11).shuffle(corpus)
        batch_size = len(corpus)
    urls = _ids_of(corpus)
    rejected = sorted(urls[a.url] for a in _originals()[:2])
    assert all(clean_snapshot[r] == (r, None) for r in rejected)  # representatives
    proxy.reject_documents(rejected, index=settings.write_alias)
    proxy.throttle_items(3, index=settings.deadletter_index)  # dead letters: 429 first
    waits: list[float] = []
    articles = _articles(corpus)
    written = _run(settings, via_proxy, articles, _recording_retry(waits), batch_size)

    assert written.counts == (len(articles) - 2, 0, 0, 2)
    assert written.report.balanced
    assert sorted(d[0] for d in written.report.dead_letters) == rejected
    assert proxy.injected["item"] == 3 and waits  # dead-letter 429s were retried
    ready_es.indices.refresh(index=settings.deadletter_index)
    stored = ready_es.search(index=settings.deadletter_index, _source=["article_id", "error_type"])
    assert sorted(h["_source"]["article_id"] for h in stored["hits"]["hits"]) == rejected
    assert {h["_source"]["error_type"] for h in stored["hits"]["hits"]} == \
        {"document_parsing_exception"}

    snapshot = cluster_snapshot(ready_es, settings.read_alias)
    assert sorted(snapshot) == sorted(set(clean_snapshot) - set(rejected))
    pointing = [d for d, (c, dup) in snapshot.items() if c in rejected or dup in rejected]
    assert pointing == []
    assert written.healed > 0  # some indexed documents did point at them, and were healed
    assert_clusters_whole(ready_es, settings.read_alias)
    # Clusters without a rejected representative are exactly those of the fault-free run.
    for doc_id, (cluster_id, duplicate_of) in clean_snapshot.items():
        if cluster_id not in rejected:
            assert snapshot[doc_id] == (cluster_id, duplicate_of)


def test_a_batch_written_again_after_failing_mid_way_counts_its_own_writes(
        via_proxy, settings, proxy, ready_es, clean_run):
    """Each batch fails once half-written (some articles throttled past the retries; in the
    relabelling batch, after indexing, in the relabel); written again with the same ledger,
    its report counts every article created, none unchanged."""
    clean_snapshot, _ = clean_run
    articles = _articles()
    retry = _recording_retry([], attempts=2)
    written = Written(RunReport(inputs=len(articles)))
    with connect(settings) as direct:
        for i in range(0, len(articles), BATCH):
            batch = articles[i:i + BATCH]
            plan = dedupe_batch(direct, settings.read_alias, batch).plan
            if plan.relabel:
                proxy.throttle_items(1000, index=f"^{settings.articles_index}$", op="index")
            else:
                proxy.throttle_items(1000, index=settings.write_alias, ids=[a.id for a in batch[1::2]])
            ledger: Ledger = {}
            with pytest.raises(RuntimeError, match=r"failing after|relabelling"):
                write_batch(via_proxy, settings, batch, plan.relabel, ledger, retry)
            assert ledger  # the first try wrote some
            proxy.clear()
            written.add(write_batch(via_proxy, settings, batch, plan.relabel, ledger, retry))
    assert written.counts == (len(articles), 0, 0, 0) and written.report.balanced
    assert cluster_snapshot(ready_es, settings.read_alias) == clean_snapshot


def test_without_the_ledger_a_rewritten_batch_says_unchanged(via_proxy, settings, proxy):
    """What the ledger fixes: a batch written again after failing mid-way."""
    retry = _recording_retry([], attempts=2)
    reports = {}
    for name, batch in (("no ledger", _articles()[:BATCH]),
                        ("ledger", _articles()[BATCH:2 * BATCH])):
        ledger: Ledger | None = {} if name == "ledger" else None
        proxy.throttle_items(1000, ids=[batch[0].id])
        with pytest.raises(RuntimeError, match="still failing after 2 attempts"):
            index_articles(via_proxy, settings.write_alias, batch, ledger=ledger, retry=retry)
        proxy.clear()
        reports[name] = index_articles(via_proxy, settings.write_alias, batch, ledger=ledger,
                                       retry=retry)
    assert (reports["no ledger"].created, reports["no ledger"].unchanged) == (1, BATCH - 1)
    assert (reports["ledger"].created, reports["ledger"].unchanged) == (BATCH, 0)


def test_lost_answers_inside_one_call_still_count_created(via_proxy, settings, proxy, ready_es):
    """The node applied the bulk, the answer was lost, the client sent it again (409s): the
    articles were created by this call, not found unchanged."""
    batch = _articles()[:BATCH]
    proxy.drop_connections(1, path="_bulk", after_forward=True)
    report = index_articles(via_proxy, settings.write_alias, batch, retry=_recording_retry([]))
    assert proxy.injected["drop"] == 1
    assert (report.created, report.unchanged, report.dead_lettered) == (BATCH, 0, 0)


def test_dead_letters_that_cannot_be_stored_fail_the_batch(via_proxy, settings, proxy, ready_es):
    rejection = Rejection("gone-1", "feed.jsonl:3", 400, "document_parsing_exception", "bad",
                          {"title": "t"})
    proxy.throttle_items(1000, index=settings.deadletter_index)
    with pytest.raises(DeadLetterError, match="1 dead letters could not be stored") as failure:
        write_dead_letters(via_proxy, settings.deadletter_index, [rejection],
                           retry=_recording_retry([], attempts=3))
    assert [f.id for f in failure.value.failed] == ["gone-1"]
    proxy.clear()
    assert write_dead_letters(via_proxy, settings.deadletter_index, [rejection]) == 1
    assert ready_es.get(index=settings.deadletter_index, id="gone-1")["_source"]["reason"] == "bad"
