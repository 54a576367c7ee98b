"""Settle a written batch's clusters so that concurrent writers give the clusters of one writer.

`dedupe_batch` plans a batch's clusters from what `_search` shows before the batch is written;
a copy another writer is indexing at the same moment is not in that picture, so two writers can
each make their copy a representative. Settling closes that gap with the order
*write -> refresh -> search*: of two writers indexing copies of one story, the one that
refreshes last sees the other's copy, because the other's write finished before that refresh.
So every copy pair (two articles sharing an LSH band and verified by their signatures) is seen
by at least one writer after both are indexed, and that writer joins their trees.

The clusters live in the index as a union-find forest (`tasks.dedupe.forest`). Pointer moves
are guarded writes (`if_seq_no`/`if_primary_term`, read in real time with `mget`): a 409 means
another writer moved that pointer, and its own settling (or our next round) accounts for it.
A root that loses a merge is moved first, then the index is refreshed and every member still
pointing at it is moved (flattened). Every round re-reads what it pointed at, so a target that
stopped being a root meanwhile is flattened too; settling ends with a round that writes
nothing. Each move makes a pointer point at an earlier article, so rounds cannot go on forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from tasks.dedupe.clusters import (
    SOURCE_FIELDS,
    band_neighbours,
    member_from_hit,
    relabel_action,
    scan_index,
)
from tasks.dedupe.forest import Pointer, SettlePlan, plan_settle
from tasks.dedupe.near_dup import Signature, is_copy
from tasks.store.retrying import Retry, TransientError, bulk_items, call, refresh

LOGGER = logging.getLogger(__name__)

MAX_ROUNDS = 25
POINTER_FIELDS = ["cluster_id", "published_at"]


@dataclass(frozen=True, slots=True)
class Node:
    """A document's pointer, and its signature when clustering needs it."""

    pointer: Pointer
    seq_no: int
    primary_term: int
    sig: Signature | None = None
    bands: tuple[str, ...] = ()


def _node(doc: dict[str, Any]) -> Node:
    member = member_from_hit(doc)  # read as the planner reads it
    return Node(Pointer(member.id, member.cluster_id, member.published_at), doc.get("_seq_no", -1),
                doc.get("_primary_term", -1), member.sig,
                tuple(doc.get("_source", {}).get("near_dup_bands") or ()))


def read_nodes(es: Elasticsearch, index: str, ids: Iterable[str], fields: list[str],
               retry: Retry) -> dict[str, Node | None]:
    """The current (real-time) state of `ids`; None for those not indexed."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}

    def read() -> dict[str, Node | None]:
        resp = es.mget(index=index, ids=wanted, source_includes=fields, realtime=True)
        found: dict[str, Node | None] = {}
        for doc in resp["docs"]:
            if "error" in doc:
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            found[doc["_id"]] = _node(doc) if doc.get("found") else None
        return found

    return call(read, retry, f"real-time mget of {len(wanted)} ids")


def neighbours(es: Elasticsearch, index: str, batch: list[Node], retry: Retry) -> dict[str, Node]:
    """Indexed articles (the batch included) sharing a band with some batch article."""
    hits = band_neighbours(es, index, [(n.pointer.id, list(n.bands)) for n in batch], retry)
    return {h["_id"]: _node(h) for h in hits}


def copy_pairs(batch: list[Node], others: dict[str, Node]) -> list[tuple[str, str]]:
    """Verified copy pairs between batch articles and their neighbours."""
    pairs = []
    for a in batch:
        for b in others.values():
            if a.pointer.id != b.pointer.id and a.sig is not None and b.sig is not None \
                    and is_copy(a.sig, b.sig)[0]:
                pairs.append((a.pointer.id, b.pointer.id))
    return pairs


def read_forest(es: Elasticsearch, index: str, start: dict[str, Node], retry: Retry) -> dict[str, Node]:
    """`start` and every document its pointers lead to, read in real time."""
    nodes: dict[str, Node] = dict(start)
    wanted = _unread_targets(nodes)
    while wanted:
        found = read_nodes(es, index, wanted, POINTER_FIELDS, retry)
        for node_id, node in found.items():
            nodes[node_id] = node or Node(Pointer(node_id, None), -1, -1)
        wanted = _unread_targets(nodes)
    return nodes


def _unread_targets(nodes: dict[str, Node]) -> set[str]:
    return {n.pointer.cluster_id for n in nodes.values() if n.pointer.cluster_id} - set(nodes)


def move_pointers(es: Elasticsearch, index: str, plan: SettlePlan, forest: dict[str, Node],
                  retry: Retry) -> int:
    """Write `plan.point` guarded by the versions the plan was made from; return how many
    moved. A document changed since the snapshot is left: the next round decides again."""
    if not plan.point:
        return 0
    full = call(lambda: es.mget(index=index, ids=sorted(plan.point), realtime=True),
                retry, "real-time mget for pointer moves")
    actions = [relabel_action(doc, plan.point[doc["_id"]]) for doc in full["docs"]
               if doc.get("found") and (doc["_seq_no"], doc["_primary_term"])
               == (forest[doc["_id"]].seq_no, forest[doc["_id"]].primary_term)]
    outcome = bulk_items(es, actions, retry)
    _raise_failures(outcome.failed)
    return len(outcome.succeeded)


def flatten(es: Elasticsearch, index: str, moves: dict[str, str], retry: Retry) -> int:
    """Point every member still pointing at a key of `moves` at its value (guarded; members
    that changed meanwhile belong to their writer's settling). Returns how many moved."""
    if not moves:
        return 0
    refresh(es, index, retry)
    hits = scan_index(es, index, {"terms": {"cluster_id": sorted(moves)}}, retry)
    actions = [relabel_action(h, moves[h["_source"]["cluster_id"]]) for h in hits
               if h["_source"].get("cluster_id") in moves and h["_id"] != moves[h["_source"]["cluster_id"]]]
    outcome = bulk_items(es, actions, retry)
    _raise_failures(outcome.failed)
    return len(outcome.succeeded)


def _raise_failures(failed: list[Any]) -> None:
    errors = [f for f in failed if f.status != 409]
    if errors:
        raise RuntimeError(f"moving {len(errors)} cluster pointers failed: "
                           + "; ".join(f"{f.id}: {f.status} {f.error_text()}" for f in errors[:3]))


def settle_clusters(es: Elasticsearch, index: str, ids: Iterable[str], targets: Iterable[str] = (),
                    retry: Retry | None = None) -> int:
    """Make the clusters around the written articles `ids` exact whatever other writers did
    meanwhile; `targets` are representatives the caller pointed members at. Returns how many
    pointers moved (0 when no other writer interfered)."""
    retry = retry or Retry()
    ids = sorted(set(ids))
    watch = set(targets)
    moved = 0
    for _ in range(MAX_ROUNDS):
        refresh(es, index, retry)
        batch = [n for n in read_nodes(es, index, ids, [*SOURCE_FIELDS, "near_dup_bands"], retry).values()
                 if n is not None]
        near = neighbours(es, index, batch, retry)
        watched = {k: v for k, v in read_nodes(es, index, watch, POINTER_FIELDS, retry).items() if v}
        forest = read_forest(es, index, {**watched, **near, **{n.pointer.id: n for n in batch}}, retry)
        plan = plan_settle({k: n.pointer for k, n in forest.items()}, copy_pairs(batch, near),
                           [n.pointer.id for n in batch], watched)
        if plan.empty:
            if moved:
                refresh(es, index, retry)
                LOGGER.info("settled clusters: %d pointers moved", moved)
            return moved
        moved += move_pointers(es, index, plan, forest, retry)
        moved += flatten(es, index, plan.flatten, retry)
        watch = plan.roots
    raise RuntimeError(f"clusters of {len(ids)} articles did not settle in {MAX_ROUNDS} rounds")
