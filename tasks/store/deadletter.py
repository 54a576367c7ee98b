"""The dead-letter index read and replayed: list what Elasticsearch rejected and why, show one
letter, and send letters again through the ingest write path once the mapping or the data is
fixed.

Replay loses nothing, wherever it stops: it reads a batch of letters (with their versions),
clusters and writes their articles exactly as ingest does (`dedupe_batch`, `write_batch`:
near-duplicate clusters, relabels, settling; a rejection rewrites its letter with the new
error), checks that the written ones are in the index, and only then deletes their letters,
each guarded by the version it read, so a letter rewritten meanwhile (rejected again, here or
by another writer) stays. Run again, a letter whose article the index holds as written after
the rejection (`ingested_at` or `updated_at` later than the letter's `at`) is removed without
being sent: an old version never overwrites a newer one, and a replay that stopped between
writing and deleting finishes its work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from elasticsearch import Elasticsearch

from tasks import progress
from tasks.dedupe.clusters import dedupe_batch
from tasks.models import Article
from tasks.settings import ConfigError, Settings
from tasks.store.bulk import Rejection
from tasks.store.deadletter_record import (
    DeadLetter,
    UnreadableLetter,
    article_from_letter,
    encode_cursor,
    parse_cursor,
    parse_when,
    read_letter,
)
from tasks.store.retrying import Retry, TransientError, bulk_items, call
from tasks.store.write import write_batch

LOGGER = logging.getLogger(__name__)

LIST_LIMIT = 50
REPLAY_BATCH = 100
MAX_ID_BYTES = 512  # Elasticsearch's limit on `_id`
NEWEST_FIRST = [{"at": {"order": "desc"}}, {"article_id": {"order": "asc"}}]
OLDEST_FIRST = [{"at": {"order": "asc"}}, {"article_id": {"order": "asc"}}]


class ReplayError(ConfigError, RuntimeError):
    """Nothing to replay into: the articles index is not set up."""


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which letters: `reason` is an error type (`document_parsing_exception`) or words of the
    reason text (`dateline`); `since`: rejected at or after."""

    reason: str | None = None
    since: datetime | None = None

    def query(self, until: datetime | None = None) -> dict[str, Any]:
        """The Elasticsearch query; `until` keeps letters rejected at or before it (and
        records without a time)."""
        must: list[dict[str, Any]] = []
        if self.reason:
            must.append({"bool": {"should": [
                {"term": {"error_type": self.reason}},
                {"match": {"reason": {"query": self.reason, "operator": "and"}}},
            ], "minimum_should_match": 1}})
        if self.since:
            must.append({"range": {"at": {"gte": self.since.isoformat()}}})
        if until:
            must.append({"bool": {"should": [
                {"range": {"at": {"lte": until.isoformat()}}},
                {"bool": {"must_not": {"exists": {"field": "at"}}}},
            ], "minimum_should_match": 1}})
        return {"bool": {"filter": must}} if must else {"match_all": {}}


@dataclass(slots=True)
class LetterPage:
    """One page of letters, newest first; `next` is the cursor of the following page."""

    total: int
    letters: list[DeadLetter]
    next: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "next": self.next,
                "letters": [letter.summary() for letter in self.letters]}


def _exists(es: Elasticsearch, index: str, retry: Retry | None) -> bool:
    return bool(call(lambda: es.indices.exists(index=index), retry, f"exists {index}"))


def list_letters(es: Elasticsearch, index: str, letters: LetterFilter | None = None,
                 limit: int = LIST_LIMIT, after: str | None = None,
                 retry: Retry | None = None) -> LetterPage:
    """A page of at most `limit` letters, newest first, from the cursor `after` (a page's
    `next`); raises `CursorError` for a cursor that is not one."""
    search_after = parse_cursor(after) if after else None
    if not _exists(es, index, retry):
        return LetterPage(0, [], None)
    body: dict[str, Any] = {"query": (letters or LetterFilter()).query(), "sort": NEWEST_FIRST,
                            "size": limit, "track_total_hits": True,
                            "_source": {"excludes": ["document"]}}
    if search_after:
        body["search_after"] = search_after
    resp = call(lambda: es.search(index=index, **body), retry, f"search of {index}")
    hits = resp["hits"]["hits"]
    page = [read_letter(hit) for hit in hits]
    more = len(hits) == limit and limit > 0
    return LetterPage(resp["hits"]["total"]["value"], page,
                      encode_cursor(hits[-1]["sort"]) if more else None)


def _valid_id(letter_id: str) -> bool:
    return 0 < len(letter_id.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES


def read_letters(es: Elasticsearch, index: str, ids: Sequence[str],
                 retry: Retry | None = None) -> dict[str, DeadLetter]:
    """The letters stored under `ids` (real time, with versions); absent ids are left out."""
    ids = [i for i in ids if _valid_id(i)]
    if not ids or not _exists(es, index, retry):
        return {}

    def read() -> dict[str, DeadLetter]:
        found = {}
        for doc in es.mget(index=index, ids=list(ids))["docs"]:
            if "error" in doc:  # a shard failing over: not the same as "absent"
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            if doc.get("found"):
                found[doc["_id"]] = read_letter(doc)
        return found

    return call(read, retry, f"mget of {len(ids)} dead letters")


def get_letter(es: Elasticsearch, index: str, letter_id: str,
               retry: Retry | None = None) -> DeadLetter | None:
    """One letter with its stored document, or None."""
    return read_letters(es, index, [letter_id], retry).get(letter_id)


# --- replay ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ReplayReport:
    """What a replay did with every letter it was asked to send."""

    replayed: list[str] = field(default_factory=list)  # indexed now; letter removed
    superseded: list[str] = field(default_factory=list)  # indexed since the rejection; removed
    rejected: list[Rejection] = field(default_factory=list)  # rejected again; kept, new error
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (id, why); kept
    changed: list[str] = field(default_factory=list)  # rewritten by another writer; kept
    already_indexed: list[str] = field(default_factory=list)  # asked for, no letter, indexed
    unknown: list[str] = field(default_factory=list)  # asked for, neither letter nor article
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    near_duplicates: int = 0  # replayed articles marked copies of an earlier one
    clusters_relabelled: int = 0

    @property
    def complete(self) -> bool:
        """Every letter asked for is indexed now and gone from the dead-letter index."""
        return not (self.rejected or self.unreadable or self.changed or self.unknown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete, "replayed": self.replayed, "superseded": self.superseded,
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "near_duplicates": self.near_duplicates,
            "clusters_relabelled": self.clusters_relabelled,
            "rejected": [{"id": r.article_id, "origin": r.origin, "status": r.status,
                          "error_type": r.error_type, "reason": r.reason} for r in self.rejected],
            "unreadable": [{"id": i, "why": why} for i, why in self.unreadable],
            "changed": self.changed, "already_indexed": self.already_indexed,
            "unknown": self.unknown}


def replay(es: Elasticsearch, settings: Settings, ids: Sequence[str] | None = None,
           letters: LetterFilter | None = None, *, batch_size: int = REPLAY_BATCH,
           retry: Retry | None = None,
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ReplayReport:
    """Send the letters `ids` (or every letter `letters` matches, oldest first) through the
    ingest write path and remove the ones now indexed; idempotent (see the module docstring).

    A filtered replay takes the letters rejected before it started: a letter it rejects again
    is rewritten with a later time and is not taken twice."""
    retry = retry or Retry()
    if not call(lambda: es.indices.exists_alias(name=settings.write_alias), retry, "alias check"):
        raise ReplayError(f"no articles index behind {settings.write_alias}: run `ceasefire "
                          f"setup` (or an ingest) first")
    report = ReplayReport()
    index = settings.deadletter_index
    if ids is not None:
        unique = list(dict.fromkeys(ids))
        batches: Iterator[list[str]] = (unique[i:i + batch_size]
                                        for i in range(0, len(unique), batch_size))
        total = len(unique)
    else:
        query = (letters or LetterFilter()).query(until=now())
        total = _count(es, index, query, retry)
        batches = _matching_ids(es, index, query, batch_size, retry)
    done = 0
    progress.advance("replay", done, total)
    for batch in batches:
        _replay_batch(es, settings, batch, report, retry, asked=ids is not None)
        done += len(batch)
        progress.advance("replay", done, total)
    LOGGER.info("replayed %d dead letters, %d superseded, %d rejected again, %d unreadable",
                len(report.replayed), len(report.superseded), len(report.rejected),
                len(report.unreadable))
    return report


def _count(es: Elasticsearch, index: str, query: dict[str, Any], retry: Retry) -> int:
    if not _exists(es, index, retry):
        return 0
    return int(call(lambda: es.count(index=index, query=query)["count"], retry, f"count {index}"))


def _matching_ids(es: Elasticsearch, index: str, query: dict[str, Any], batch_size: int,
                  retry: Retry) -> Iterator[list[str]]:
    """Ids of the matching letters, a batch at a time, oldest first. Paging by sort values
    (`search_after`) stays right while the batches already seen are deleted or rewritten."""
    if not _exists(es, index, retry):
        return
    call(lambda: es.indices.refresh(index=index), retry, f"refresh {index}")
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": query, "sort": OLDEST_FIRST, "size": batch_size,
                                "_source": False, "track_total_hits": False}
        if after is not None:
            body["search_after"] = after
        hits = call(partial(_hits, es, index, body), retry, f"search of {index}")
        if not hits:
            return
        yield [hit["_id"] for hit in hits]
        after = hits[-1]["sort"]


def _hits(es: Elasticsearch, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(es.search(index=index, **body)["hits"]["hits"])


def _indexed_at(es: Elasticsearch, alias: str, ids: list[str],
                retry: Retry) -> dict[str, datetime | None]:
    """For the ids the index holds: when their current version was written (the later of
    `ingested_at` and `updated_at`), None if it does not say."""
    if not ids:
        return {}

    def read() -> dict[str, datetime | None]:
        found: dict[str, datetime | None] = {}
        for doc in es.mget(index=alias, ids=ids,
                           source_includes=["ingested_at", "updated_at"])["docs"]:
            if "error" in doc:
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            if doc.get("found"):
                src = doc.get("_source") or {}
                times = [t for t in (parse_when(src.get("ingested_at")),
                                     parse_when(src.get("updated_at"))) if t]
                found[doc["_id"]] = max(times) if times else None
        return found

    return call(read, retry, f"mget of {len(ids)} articles")


def superseded(letter: DeadLetter, indexed_at: datetime | None) -> bool:
    """Whether the index holds a version of the article written after the letter's rejection."""
    return letter.at is not None and indexed_at is not None and indexed_at > letter.at


def _replay_batch(es: Elasticsearch, settings: Settings, ids: list[str], report: ReplayReport,
                  retry: Retry, asked: bool) -> None:
    letters = read_letters(es, settings.deadletter_index, ids, retry)
    if asked:  # ids named by the operator that have no letter: indexed already, or unknown
        missing = [i for i in ids if i not in letters]
        present = _indexed_at(es, settings.write_alias, [i for i in missing if _valid_id(i)], retry)
        report.already_indexed += [i for i in missing if i in present]
        report.unknown += [i for i in missing if i not in present]
    readable: dict[str, Article] = {}
    for letter in letters.values():
        try:
            readable[letter.id] = article_from_letter(letter)
        except UnreadableLetter as exc:
            report.unreadable.append((letter.id, str(exc)))
    indexed_at = _indexed_at(es, settings.write_alias, list(readable), retry)
    newer = [i for i in readable if superseded(letters[i], indexed_at.get(i))]
    articles = [a for i, a in readable.items() if i not in newer]
    written: list[str] = []
    if articles:
        clusters = dedupe_batch(es, settings.read_alias, articles)
        result = write_batch(es, settings, articles, clusters.plan.relabel, {}, retry)
        rejected = {r.article_id for r in result.rejections}
        written = [a.id for a in articles if a.id not in rejected]
        report.rejected += result.rejections
        report.created += result.created
        report.updated += result.updated
        report.unchanged += result.unchanged
        report.near_duplicates += sum(1 for a in articles
                                      if a.id not in rejected and a.duplicate_of)
        report.clusters_relabelled += len(clusters.plan.relabel)
        absent = set(written) - set(_indexed_at(es, settings.write_alias, written, retry))
        if absent:  # never drop a letter on the word of a report alone
            raise RuntimeError(f"{len(absent)} replayed articles are not in "
                               f"{settings.write_alias} (e.g. {sorted(absent)[:3]}); "
                               f"their dead letters are kept")
    gone, changed = delete_letters(es, settings.deadletter_index,
                                   [letters[i] for i in [*written, *newer]], retry)
    report.replayed += [i for i in written if i in gone]
    report.superseded += [i for i in newer if i in gone]
    report.changed += changed


def delete_letters(es: Elasticsearch, index: str, letters: list[DeadLetter],
                   retry: Retry | None = None) -> tuple[set[str], list[str]]:
    """Delete the letters, each only if unchanged since it was read: (ids gone, ids rewritten
    meanwhile and kept). Raises if some could not be deleted (their articles are indexed: a
    replay run again removes them as superseded)."""
    if not letters:
        return set(), []
    actions = []
    for letter in letters:
        action: dict[str, Any] = {"_op_type": "delete", "_index": index, "_id": letter.id}
        if letter.seq_no is not None and letter.primary_term is not None:
            action.update(if_seq_no=letter.seq_no, if_primary_term=letter.primary_term)
        actions.append(action)
    outcome = bulk_items(es, actions, retry, refresh="wait_for")
    gone = {item.id for item in outcome.succeeded}
    gone |= {item.id for item in outcome.failed if item.status == 404}  # deleted already
    conflicted = [item.id for item in outcome.failed if item.status == 409]
    failed = [item for item in outcome.failed if item.status not in (404, 409)]
    if failed:
        raise RuntimeError(f"{len(failed)} dead letters of indexed articles could not be "
                           f"deleted (e.g. {failed[0].id}: {failed[0].error_text()}); "
                           f"replay again to remove them")
    # 409: rewritten since read, or deleted already (a lost answer re-sent): look again.
    still = read_letters(es, index, conflicted, retry)
    gone |= {i for i in conflicted if i not in still}
    return gone, [i for i in conflicted if i in still]
