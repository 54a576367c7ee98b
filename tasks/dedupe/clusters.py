"""Near-duplicate clustering against everything already indexed (Elasticsearch I/O).

One `msearch` finds, for every article of a batch, the indexed articles sharing LSH bands;
one `mget` fetches their clusters' representatives; `tasks.near_dup.plan_clusters` decides.
Clusters whose representative changed (an earlier copy arrived, or two clusters were joined)
are relabelled after the batch is written.
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
    band_terms,
    plan_clusters,
    rank_key,
    signature,
)
from tasks.extract.dates import find_iso_datetimes
from tasks.models import Article
from tasks.store.bulk import document_hash

LOGGER = logging.getLogger(__name__)

CANDIDATES_PER_ARTICLE = 50
SOURCE_FIELDS = ["published_at", "near_dup_sig", "near_dup_shingles", "cluster_id"]


@dataclass(slots=True)
class DedupeResult:
    """What clustering did to one batch."""

    plan: ClusterPlan
    near_duplicates: int  # batch articles marked as copies of an earlier one


def sign(article: Article) -> Article:
    """Attach the MinHash signature and band terms to the article."""
    sig = signature(article.body)
    article.near_dup_sig = sig.encode()
    article.near_dup_shingles = sig.shingles
    article.near_dup_bands = band_terms(sig)
    return article


def member_of(article: Article) -> Member:
    sig = Signature.decode(article.near_dup_sig, article.near_dup_shingles) if article.near_dup_sig \
        else None
    return Member(article.id, article.published_at, sig)


def _member_from_hit(hit: dict[str, Any]) -> Member:
    src = hit.get("_source", {})
    dates = find_iso_datetimes(src.get("published_at") or "")
    sig = (Signature.decode(src["near_dup_sig"], src.get("near_dup_shingles", 0))
           if src.get("near_dup_sig") else None)
    # Articles indexed before clustering existed form their own cluster.
    return Member(hit["_id"], dates[0] if dates else None, sig, src.get("cluster_id") or hit["_id"])


def candidate_query(article: Article) -> dict[str, Any]:
    """Indexed articles sharing at least one band, most shared bands first."""
    return {
        "size": CANDIDATES_PER_ARTICLE,
        "track_total_hits": False,  # only the best candidates matter, not how many there are
        "_source": SOURCE_FIELDS,
        "query": {"bool": {
            "should": [{"term": {"near_dup_bands": t}} for t in article.near_dup_bands],
            "minimum_should_match": 1,
            "must_not": [{"ids": {"values": [article.id]}}],
        }},
    }


def find_candidates(es: Elasticsearch, index: str, articles: list[Article]) -> list[Member]:
    """Indexed articles (outside the batch) whose bands collide with some batch article."""
    searchable = [a for a in articles if a.near_dup_bands]
    if not searchable:
        return []
    body: list[dict[str, Any]] = []
    for article in searchable:
        body += [{"index": index}, candidate_query(article)]
    batch_ids = {a.id for a in articles}
    found: dict[str, Member] = {}
    for response in es.msearch(searches=body)["responses"]:
        if "error" in response:
            raise RuntimeError(f"candidate search failed: {response['error']}")
        for hit in response["hits"]["hits"]:
            if hit["_id"] not in batch_ids:  # the batch's own version is authoritative
                found.setdefault(hit["_id"], _member_from_hit(hit))
    return list(found.values())


def fetch_representatives(es: Elasticsearch, index: str, existing: list[Member]) -> dict[str, Member]:
    """The representative of each cluster the candidates belong to."""
    cluster_ids = sorted({m.cluster_id for m in existing if m.cluster_id})
    if not cluster_ids:
        return {}
    reps: dict[str, Member] = {}
    resp = es.mget(index=index, ids=cluster_ids, source_includes=SOURCE_FIELDS)
    for doc in resp["docs"]:
        if doc.get("found"):
            reps[doc["_id"]] = _member_from_hit(doc)
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


def relabel_clusters(es: Elasticsearch, index: str, relabel: dict[str, str]) -> int:
    """Point every member of the relabelled clusters at its new representative."""
    if not relabel:
        return 0
    es.indices.refresh(index=index)
    actions = []
    for hit in helpers.scan(es, index=index, query={"query": {"terms": {"cluster_id": list(relabel)}}},
                            seq_no_primary_term=True, preserve_order=False):
        src = hit["_source"]
        rep = relabel[src["cluster_id"]]
        src["cluster_id"] = rep
        if hit["_id"] == rep:
            src.pop("duplicate_of", None)
        else:
            src["duplicate_of"] = rep
        src["doc_hash"] = document_hash(src)
        actions.append({"_op_type": "index", "_index": hit["_index"], "_id": hit["_id"],
                        "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"],
                        "_source": src})
    ok, errors = helpers.bulk(es, actions, raise_on_error=False, stats_only=False)
    if isinstance(errors, list) and errors:
        raise RuntimeError(f"relabelling {len(errors)} cluster members failed: {errors[:3]}")
    es.indices.refresh(index=index)
    LOGGER.info("relabelled %d members of %d clusters", ok, len(relabel))
    return ok
