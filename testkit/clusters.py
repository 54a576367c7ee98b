"""What the index says of clusters, for tests and benchmarks that compare runs."""

from __future__ import annotations

from typing import Any


def cluster_snapshot(es: Any, index: str) -> dict[str, tuple[str, str | None]]:
    """id -> (cluster_id, duplicate_of) of every indexed article (refreshed first)."""
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, _source=["cluster_id", "duplicate_of"])["hits"]["hits"]
    return {h["_id"]: (h["_source"]["cluster_id"], h["_source"].get("duplicate_of")) for h in hits}


def assert_clusters_whole(es: Any, index: str) -> None:
    """Every indexed document's cluster_id and duplicate_of name an indexed document, which
    is its cluster's earliest member and its own representative."""
    from tasks.dedupe.clusters import member_from_hit
    from tasks.dedupe.near_dup import Member, rank_key

    snapshot = cluster_snapshot(es, index)
    for doc_id, (cluster_id, duplicate_of) in snapshot.items():
        assert cluster_id in snapshot, f"{doc_id} points at {cluster_id}, which is not indexed"
        assert snapshot[cluster_id] == (cluster_id, None)
        assert duplicate_of == (None if doc_id == cluster_id else cluster_id)
    hits = es.search(index=index, size=10_000, _source=["published_at", "cluster_id"])["hits"]["hits"]
    by_cluster: dict[str, list[Member]] = {}
    for m in map(member_from_hit, hits):
        by_cluster.setdefault(m.cluster_id or m.id, []).append(m)
    for cluster_id, members in by_cluster.items():
        assert min(members, key=rank_key).id == cluster_id
