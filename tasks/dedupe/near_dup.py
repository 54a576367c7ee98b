"""Near-duplicate detection: shingled MinHash, LSH bands as index terms, clusters (pure logic).

Every article gets a MinHash signature of its body's word shingles, and LSH band terms that
are stored in the index (`near_dup_bands`), so one `terms` query finds candidates among all
earlier runs. Candidates are verified with the signatures: estimated Jaccard, or estimated
containment of the shorter text in the longer (truncated wire copies). Clusters are the
connected components of verified pairs, and the earliest published article (ties: smallest
id) represents its cluster, so clusters do not depend on the order articles arrive in.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import sys
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import numpy as np

from tasks.dedupe.identity import normalized_for_hash
from tasks.models import Article


@contextmanager
def _package_init_skipped(package: str) -> Iterator[None]:
    """Import submodules of `package` without running its `__init__` (unless it is imported
    already); afterwards a plain `import package` runs it as usual. datasketch's `__init__`
    imports every sketch it has, and with them scipy and redis: 1.8 s of every run's start,
    for the one class we use."""
    spec = None if package in sys.modules else importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        yield
        return
    hollow = types.ModuleType(package)
    hollow.__path__ = list(spec.submodule_search_locations)
    sys.modules[package] = hollow
    try:
        yield
    finally:
        if sys.modules.get(package) is hollow:
            del sys.modules[package]


with _package_init_skipped("datasketch"):
    from datasketch.minhash import MinHash

SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS = 64  # 64 bands of 2 rows: pairs at Jaccard 0.3 collide in some band with p > 0.99
ROWS = NUM_PERM // BANDS
SEED = 20251013
SCHEME = "affine32"  # datasketch's permutation scheme: part of what makes signatures comparable
JACCARD_MIN = 0.5  # estimated Jaccard at or above which two bodies are copies
CONTAINMENT_MIN = 0.7  # or: this share of the shorter body's shingles is in the longer one
MIN_SHINGLES = 8  # shorter bodies are too small to compare reliably: exact hash only


@dataclass(frozen=True, slots=True)
class Signature:
    """MinHash values of a body and how many distinct shingles it has."""

    values: np.ndarray  # uint32, NUM_PERM long
    shingles: int

    def encode(self) -> str:
        """Compact form stored in the index (base64 of little-endian uint32)."""
        return base64.b64encode(self.values.astype("<u4").tobytes()).decode("ascii")

    @classmethod
    def decode(cls, text: str, shingles: int) -> Signature:
        return cls(np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32), shingles)


@cache
def _prototype() -> MinHash:
    # Permutations are drawn once; every signature reuses them (and so stays comparable).
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[str]:
    """Distinct k-word shingles of the normalised text (one shingle for shorter texts)."""
    words = normalized_for_hash(text).split()
    if len(words) <= k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def signature(text: str) -> Signature:
    """MinHash signature of a body."""
    grams = shingles(text)
    proto = _prototype()
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=proto.permutations, scheme=SCHEME)
    mh.update_batch([g.encode("utf-8") for g in grams])
    return Signature(mh.hashvalues.astype(np.uint32), len(grams))


def band_terms(sig: Signature) -> list[str]:
    """One keyword term per LSH band: band number plus a hash of its rows."""
    terms = []
    for band in range(BANDS):
        rows = sig.values[band * ROWS:(band + 1) * ROWS].astype("<u4").tobytes()
        terms.append(f"{band:02d}{hashlib.blake2b(rows, digest_size=8).hexdigest()}")
    return terms


def estimated_jaccard(a: Signature, b: Signature) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle-set Jaccard."""
    return float(np.count_nonzero(a.values == b.values)) / NUM_PERM


def is_copy(a: Signature, b: Signature) -> tuple[bool, float]:
    """(same story?, estimated Jaccard) from Jaccard, or containment of the shorter body."""
    if min(a.shingles, b.shingles) < MIN_SHINGLES:
        return False, 0.0
    jac = estimated_jaccard(a, b)
    if jac >= JACCARD_MIN:
        return True, jac
    shared = jac / (1 + jac) * (a.shingles + b.shingles)
    return shared / min(a.shingles, b.shingles) >= CONTAINMENT_MIN, jac


@dataclass(frozen=True, slots=True)
class Member:
    """An article as clustering sees it: identity, date, signature, current cluster."""

    id: str
    published_at: datetime | None
    sig: Signature | None
    cluster_id: str | None = None  # set for articles already in the index


def rank_key(member: Member) -> tuple[int, float, str]:
    """Earliest published first; undated after dated; then smallest id."""
    if member.published_at is None:
        return (1, 0.0, member.id)
    return (0, member.published_at.timestamp(), member.id)


class UnionFind:
    """Disjoint sets of ids; a set's key is its smallest id."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(slots=True)
class ClusterPlan:
    """Cluster decisions for a batch, and relabels of clusters already in the index."""

    cluster_of: dict[str, str]  # batch article id -> representative id
    relabel: dict[str, str]  # existing cluster id -> new representative id
    verified_pairs: int


def sign(article: Article) -> Article:
    """Attach the MinHash signature and band terms to the article."""
    sig = signature(article.body)
    article.near_dup_sig = sig.encode()
    article.near_dup_shingles = sig.shingles
    article.near_dup_bands = band_terms(sig)
    return article


def plan_clusters(batch: list[Member], existing: Iterable[Member],
                  representatives: dict[str, Member]) -> ClusterPlan:
    """Cluster the batch with the indexed candidates it matches.

    `existing` are indexed articles whose bands collide with the batch (cluster_id set);
    `representatives` maps each of their cluster ids to its representative member.
    """
    existing = list(existing)
    uf = UnionFind()
    node = {m.id: m.id for m in batch}
    for m in existing:
        node[m.id] = f"cluster:{m.cluster_id}"  # an indexed cluster is already one component
    for m in batch:
        uf.find(node[m.id])
    pairs = 0
    # Batch against itself through the same bands, and against every indexed candidate.
    by_band: dict[str, list[Member]] = {}
    for m in [*existing, *batch]:
        if m.sig is None:
            continue
        for term in band_terms(m.sig):
            by_band.setdefault(term, []).append(m)
    checked: set[tuple[str, str]] = set()
    for members in by_band.values():
        news = [m for m in members if m.cluster_id is None]
        for a in news:
            for b in members:
                if a.id == b.id:
                    continue
                key = (min(a.id, b.id), max(a.id, b.id))
                if key in checked:
                    continue
                checked.add(key)
                if a.sig is not None and b.sig is not None and is_copy(a.sig, b.sig)[0]:
                    pairs += 1
                    uf.union(node[a.id], node[b.id])
    # Representative of each component: the earliest among new members and existing reps.
    candidates: dict[str, list[Member]] = {}
    for m in batch:
        candidates.setdefault(uf.find(node[m.id]), []).append(m)
    for cid, rep in representatives.items():
        candidates.setdefault(uf.find(f"cluster:{cid}"), []).append(rep)
    best = {root: min(ms, key=rank_key).id for root, ms in candidates.items()}
    cluster_of = {m.id: best[uf.find(node[m.id])] for m in batch}
    relabel = {cid: best[uf.find(f"cluster:{cid}")] for cid in representatives
               if best[uf.find(f"cluster:{cid}")] != cid}
    return ClusterPlan(cluster_of, relabel, pairs)


def apply_plan(articles: list[Article], plan: ClusterPlan) -> int:
    """Set `cluster_id`/`duplicate_of` on the batch; return how many are marked copies."""
    copies = 0
    for article in articles:
        rep = plan.cluster_of[article.id]
        article.cluster_id = rep
        article.duplicate_of = None if rep == article.id else rep
        copies += article.duplicate_of is not None
    return copies
