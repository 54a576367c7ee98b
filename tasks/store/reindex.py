"""Zero-downtime reindex into a new versioned index (client-side scan + bulk: the reindex
module is not on every cluster).

Order matters: the write alias moves to the new index first, so writes arriving during the
copy land there; the copy uses `create`, so such newer documents win over their old copies;
searches keep using the old index until the copy is verified, then the read alias moves in
one atomic `update_aliases`. The old index is kept for rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, helpers

from tasks.settings import Settings
from tasks.store.bulk import set_coverage_date

LOGGER = logging.getLogger(__name__)
CHUNK = 1000
CATCH_UP_ROUNDS = 5
Transform = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]  # scan hits -> hits


class ReindexError(RuntimeError):
    """The copy is incomplete; aliases were left (or put back) on the old index."""


@dataclass(frozen=True, slots=True)
class ReindexResult:
    source: str
    target: str
    copied: int  # documents created in the target by the copy
    newer: int  # documents already written to the target during the copy (409 on create)
    source_count: int
    target_count: int


def _single_target(es: Elasticsearch, alias: str) -> str:
    targets = sorted(es.indices.get_alias(name=alias))
    if len(targets) != 1:
        raise ReindexError(f"{alias} points to {targets}; expected exactly one index")
    return targets[0]


def _create_actions(hits: Iterable[dict[str, Any]], target: str) -> Iterator[dict[str, Any]]:
    # Every copy fills `coverage_date` (derived, not content): documents indexed before the
    # field existed get it from a plain reindex too, without a full rebuild.
    for hit in hits:
        yield {"_op_type": "create", "_index": target, "_id": hit["_id"],
               "_source": set_coverage_date(hit["_source"])}


def _transformed(hits: Iterable[dict[str, Any]], transform: Transform) -> Iterator[dict[str, Any]]:
    """Apply `transform` to the hits CHUNK at a time."""
    chunk: list[dict[str, Any]] = []
    for hit in hits:
        chunk.append(hit)
        if len(chunk) == CHUNK:
            yield from transform(chunk)
            chunk = []
    if chunk:
        yield from transform(chunk)


def copy_documents(es: Elasticsearch, source: str, target: str, ids: list[str] | None = None,
                   transform: Transform | None = None) -> tuple[int, int]:
    """Copy documents (all, or these ids) with `create`, through `transform` if given; return
    (created, already there)."""
    if ids is None:
        hits: Iterable[dict[str, Any]] = helpers.scan(
            es, index=source, query={"query": {"match_all": {}}}, size=CHUNK, preserve_order=False)
    else:
        hits = (d for start in range(0, len(ids), CHUNK)
                for d in es.mget(index=source, ids=ids[start:start + CHUNK])["docs"] if d.get("found"))
    if transform is not None:
        hits = _transformed(hits, transform)
    created = existing = 0
    for ok, item in helpers.streaming_bulk(es, _create_actions(hits, target), chunk_size=CHUNK,
                                           raise_on_error=False,
                                           max_retries=5, initial_backoff=1, max_backoff=30):
        result = item["create"]
        if ok:
            created += 1
        elif result.get("status") == 409:
            existing += 1  # written through the write alias during the copy: newer, keep it
        else:
            raise ReindexError(f"copying {result.get('_id')} failed: {result.get('error')}")
    return created, existing


def reindex(es: Elasticsearch, settings: Settings, target: str | None = None,
            transform: Transform | None = None) -> ReindexResult:
    """Build a new index from the current one and move both aliases to it. `transform`
    rewrites documents on the way (e.g. `tasks.rebuild.rebuild_hits`: the current pipeline)."""
    source = _single_target(es, settings.write_alias)
    target = target or settings.new_articles_index()
    if es.indices.exists(index=target):
        raise ReindexError(f"{target} exists already")
    es.indices.create(index=target)  # settings and mappings from the current template
    es.cluster.health(index=target, wait_for_status="yellow", timeout="30s")
    es.indices.update_aliases(actions=[
        {"remove": {"index": source, "alias": settings.write_alias}},
        {"add": {"index": target, "alias": settings.write_alias, "is_write_index": True}}])
    try:
        # Writes sent before the swap may not be searchable yet (or still be in flight): make
        # them visible to the scan, then catch up on whatever the scan could not see.
        es.indices.refresh(index=source)
        created, newer = copy_documents(es, source, target, transform=transform)
        for round_ in range(CATCH_UP_ROUNDS + 1):
            es.indices.refresh(index=[source, target])
            missing = _missing_ids(es, source, target)
            if not missing:
                break
            if round_ == CATCH_UP_ROUNDS:
                raise ReindexError(f"{len(missing)} documents of {source} are still not in "
                                   f"{target}, e.g. {missing[:3]}")
            more, already = copy_documents(es, source, target, ids=missing, transform=transform)
            created, newer = created + more, newer + already
        source_count = es.count(index=source)["count"]
        target_count = es.count(index=target)["count"]
    except Exception:
        # Searches never left the old index; send writes back there too.
        es.indices.update_aliases(actions=[
            {"remove": {"index": target, "alias": settings.write_alias}},
            {"add": {"index": source, "alias": settings.write_alias, "is_write_index": True}}])
        raise
    es.indices.update_aliases(actions=[
        {"remove": {"index": source, "alias": settings.read_alias}},
        {"add": {"index": target, "alias": settings.read_alias}}])
    LOGGER.info("reindexed %s -> %s: %d copied, %d newer", source, target, created, newer)
    return ReindexResult(source, target, created, newer, source_count, target_count)


def _missing_ids(es: Elasticsearch, source: str, target: str) -> list[str]:
    """Ids present in `source` but not in `target` (checked in chunks with mget)."""
    ids = [h["_id"] for h in helpers.scan(es, index=source, query={"_source": False},
                                          size=CHUNK, preserve_order=False)]
    missing = []
    for start in range(0, len(ids), CHUNK):
        docs = es.mget(index=target, ids=ids[start:start + CHUNK], source=False)["docs"]
        missing += [d["_id"] for d in docs if not d.get("found")]
    return missing


def rollback(es: Elasticsearch, settings: Settings, to_index: str) -> None:
    """Point both aliases back at an earlier index, atomically."""
    current = _single_target(es, settings.write_alias)
    es.indices.update_aliases(actions=[
        {"remove": {"index": current, "alias": settings.write_alias}},
        {"remove": {"index": current, "alias": settings.read_alias}},
        {"add": {"index": to_index, "alias": settings.write_alias, "is_write_index": True}},
        {"add": {"index": to_index, "alias": settings.read_alias}}])
