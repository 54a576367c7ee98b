"""Near-duplicate clustering against everything already indexed (Elasticsearch I/O).

One `msearch` finds, for every article of a batch, the indexed articles sharing LSH bands;
one `mget` fetches their clusters' representatives; `tasks.near_dup.plan_clusters` decides.
Clusters whose representative changed (an earlier copy arrived, or two clusters were joined)
are relabelled after the batch is written; clusters whose representative Elasticsearch
rejected (dead-lettered, so not in the index) are healed: their earliest remaining member
becomes the representative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, helpers

from tasks.dedupe.near_dup import (
    ClusterPlan,
    Member,
    Signature,
    apply_plan,
    plan_clusters,
    rank_key,
    sign,
)
from tasks.extract.dates import find_iso_datetimes
from tasks.models import Article
from tasks.store.bulk import document_hash
from tasks.store.retrying import Retry, TransientError, bulk_items, call, refresh

LOGGER = logging.getLogger(__name__)

CANDIDATES_PER_ARTICLE = 50
SOURCE_FIELDS = ["published_at", "near_dup_sig", "near_dup_shingles", "cluster_id"]


@dataclass(slots=True)
class DedupeResult:
    """What clustering did to one batch."""

    plan: ClusterPlan
    near_duplicates: int  # batch articles marked as copies of an earlier one


def member_of(article: Article) -> Member:
    sig = Signature.decode(article.near_dup_sig, article.near_dup_shingles) if article.near_dup_sig \
        else None
    return Member(article.id, article.published_at, sig)


def member_from_hit(hit: dict[str, Any]) -> Member:
    src = hit.get("_source", {})
    dates = find_iso_datetimes(src.get("published_at") or "")
    sig = (Signature.decode(src["near_dup_sig"], src.get("near_dup_shingles", 0))
           if src.get("near_dup_sig") else None)
    # Articles indexed before clustering existed form their own cluster.
    return Member(hit["_id"], dates[0] if dates else None, sig, src.get("cluster_id") or hit["_id"])


def candidate_query(article_id: str, bands: list[str]) -> dict[str, Any]:
    """Indexed articles sharing at least one band, most shared bands first."""
    return {
        "size": CANDIDATES_PER_ARTICLE,
        "track_total_hits": False,  # only the best candidates matter, not how many there are
        "_source": SOURCE_FIELDS,
        "query": {"bool": {
            "should": [{"term": {"near_dup_bands": t}} for t in bands],
            "minimum_should_match": 1,
            "must_not": [{"ids": {"values": [article_id]}}],
        }},
    }


def band_neighbours(es: Elasticsearch, index: str, queries: list[tuple[str, list[str]]],
                    retry: Retry | None = None) -> list[dict[str, Any]]:
    """Hits (each once) of indexed articles sharing a band with one of the (id, bands)
    queries, in one `msearch`, retried whole on transient failures."""
    body: list[dict[str, Any]] = []
    for article_id, bands in queries:
        if bands:
            body += [{"index": index}, candidate_query(article_id, bands)]
    if not body:
        return []

    def search() -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for response in es.msearch(searches=body)["responses"]:
            if "error" in response:  # e.g. a shard failing over
                raise TransientError(f"candidate search failed: {response['error']}")
            for hit in response["hits"]["hits"]:
                found.setdefault(hit["_id"], hit)
        return list(found.values())

    return call(search, retry, f"candidate search for {len(body) // 2} articles")


def find_candidates(es: Elasticsearch, index: str, articles: list[Article]) -> list[Member]:
    """Indexed articles (outside the batch) whose bands collide with some batch article."""
    batch_ids = {a.id for a in articles}
    hits = band_neighbours(es, index, [(a.id, a.near_dup_bands) for a in articles])
    # The batch's own version is authoritative.
    return [member_from_hit(h) for h in hits if h["_id"] not in batch_ids]


def fetch_representatives(es: Elasticsearch, index: str, existing: list[Member]) -> dict[str, Member]:
    """The representative of each cluster the candidates belong to."""
    cluster_ids = sorted({m.cluster_id for m in existing if m.cluster_id})
    if not cluster_ids:
        return {}

    def read() -> dict[str, Member]:
        found = {}
        for doc in es.mget(index=index, ids=cluster_ids, source_includes=SOURCE_FIELDS)["docs"]:
            if "error" in doc:  # a shard failing over: not the same as "deleted"
                raise TransientError(f"mget of {doc.get('_id')} failed: {doc['error']}")
            if doc.get("found"):
                found[doc["_id"]] = member_from_hit(doc)
        return found

    reps = call(read, None, f"mget of {len(cluster_ids)} representatives")
    for cid in cluster_ids:  # representative gone (deleted): its earliest known member stands in
        if cid not in reps:
            reps[cid] = min((m for m in existing if m.cluster_id == cid), key=rank_key)
    return reps


def dedupe_batch(es: Elasticsearch, index: str, articles: list[Article]) -> DedupeResult:
    """Sign, find candidates across all runs, and assign clusters to the batch."""
    for article in articles:
        if not article.near_dup_sig:
            sign(article)
    existing = find_candidates(es, index, articles)
    reps = fetch_representatives(es, index, existing)
    plan = plan_clusters([member_of(a) for a in articles], existing, reps)
    return DedupeResult(plan, apply_plan(articles, plan))


def scan_index(es: Elasticsearch, index: str, query: dict[str, Any], retry: Retry | None,
          source: list[str] | None = None) -> list[dict[str, Any]]:
    """Every hit of `query` (with versions), the whole scan retried on transient failures."""
    body: dict[str, Any] = {"query": query}
    if source is not None:
        body["_source"] = source
    return call(lambda: list(helpers.scan(es, index=index, query=body, seq_no_primary_term=True,
                                          preserve_order=False)),
                retry, f"scan of {index}")


def relabel_action(hit: dict[str, Any], rep: str) -> dict[str, Any]:
    """A guarded rewrite of one cluster member pointing it at representative `rep`."""
    src = dict(hit["_source"])
    src["cluster_id"] = rep
    if hit["_id"] == rep:
        src.pop("duplicate_of", None)
    else:
        src["duplicate_of"] = rep
    src["doc_hash"] = document_hash(src)
    return {"_op_type": "index", "_index": hit["_index"], "_id": hit["_id"],
            "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"], "_source": src}


def relabel_clusters(es: Elasticsearch, index: str, relabel: dict[str, str],
                     retry: Retry | None = None) -> int:
    """Point every member of the relabelled clusters at its new representative; return how
    many members were rewritten.

    Writes are guarded by the version each member was read at and retried per item on
    429/5xx (`bulk_items`); a member that changed since the scan (409) is read again and
    rewritten if it still belongs to a relabelled cluster. Raises if some member cannot be
    rewritten (a rejection, or retries exhausted)."""
    if not relabel:
        return 0
    retry = retry or Retry()
    refresh(es, index, retry)
    query: dict[str, Any] = {"terms": {"cluster_id": sorted(relabel)}}
    rewritten = 0
    conflicted: list[str] = []
    for round_ in range(retry.attempts):
        if round_:
            retry.wait(round_)
            refresh(es, index, retry)
            query = {"bool": {"filter": [{"terms": {"cluster_id": sorted(relabel)}},
                                         {"ids": {"values": conflicted}}]}}
        hits = scan_index(es, index, query, retry)
        actions = [relabel_action(h, relabel[h["_source"]["cluster_id"]]) for h in hits]
        outcome = bulk_items(es, actions, retry)
        rewritten += len(outcome.succeeded)
        failed = [f for f in outcome.failed if f.status != 409]
        if failed:
            raise RuntimeError(f"relabelling {len(failed)} cluster members failed: "
                               + "; ".join(f"{f.id}: {f.status} {f.error_text()}" for f in failed[:3]))
        conflicted = [f.id for f in outcome.conflicts()]
        if not conflicted:
            break
    else:
        raise RuntimeError(f"relabelling {len(conflicted)} cluster members kept conflicting "
                           f"after {retry.attempts} attempts (e.g. {conflicted[:3]})")
    refresh(es, index, retry)
    LOGGER.info("relabelled %d members of %d clusters", rewritten, len(relabel))
    return rewritten


def heal_plan(members: list[Member], rejected: set[str]) -> dict[str, str]:
    """Clusters whose representative was rejected -> their earliest remaining member.

    `members` are the indexed members of those clusters (`cluster_id` set). A rejected id is
    never chosen, even if an older version of it is still indexed; a cluster with no other
    member is left alone."""
    by_cluster: dict[str, list[Member]] = {}
    for m in members:
        if m.cluster_id in rejected:
            by_cluster.setdefault(m.cluster_id, []).append(m)
    plan = {}
    for cid, ms in by_cluster.items():
        remaining = [m for m in ms if m.id not in rejected]
        if remaining:
            plan[cid] = min(remaining, key=rank_key).id
    return plan


def heal_clusters(es: Elasticsearch, index: str, rejected_ids: list[str],
                  retry: Retry | None = None) -> tuple[int, set[str]]:
    """Re-point the clusters whose representative Elasticsearch rejected (dead-lettered ids
    are not in the index): each gets its earliest remaining member as representative and
    every member is rewritten (`relabel_clusters`). Returns how many members were rewritten,
    and the new representatives."""
    if not rejected_ids:
        return 0, set()
    refresh(es, index, retry)
    hits = scan_index(es, index, {"terms": {"cluster_id": sorted(set(rejected_ids))}}, retry,
                 source=["published_at", "cluster_id"])
    plan = heal_plan([member_from_hit(h) for h in hits], set(rejected_ids))
    if not plan:
        return 0, set()
    LOGGER.warning("healing %d clusters whose representative was dead-lettered", len(plan))
    return relabel_clusters(es, index, plan, retry), set(plan.values())
