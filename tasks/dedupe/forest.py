"""Clusters as a union-find forest kept in the index: what settling must write (pure logic).

Every article's `cluster_id` is a pointer. A representative (a root) points at itself, every
other member at a root, and a pointer only ever points at an article that ranks earlier
(`rank_key`), so the forest has no cycles and each root is the earliest of its tree. Writers
that ran concurrently can leave two roots for one story (neither saw the other's copy yet),
or members pointing at an article that has since stopped being a root. `plan_settle` reads
one snapshot of the forest around a batch, plus the verified copy pairs (edges), and says
which pointers to move so that every tree is one connected component with its earliest
member as root and every member points straight at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tasks.dedupe.near_dup import Member, UnionFind, rank_key


@dataclass(frozen=True, slots=True)
class Pointer:
    """One article as the forest sees it; `cluster_id` None: the document is not indexed."""

    id: str
    cluster_id: str | None
    published_at: datetime | None = None

    @property
    def rank(self) -> tuple[int, float, str]:
        return rank_key(Member(self.id, self.published_at, None))


def root_of(forest: Mapping[str, Pointer], node: str) -> str:
    """Follow pointers from `node` to its root. A pointer to a document that is not indexed
    (or not in the snapshot) ends the walk: its holder stands as a root."""
    seen: set[str] = set()
    current = node
    while True:
        target = forest[current].cluster_id
        if target is None or target == current or target in seen:
            return current
        nxt = forest.get(target)
        if nxt is None or nxt.cluster_id is None:
            return current
        seen.add(current)
        current = target


@dataclass(slots=True)
class SettlePlan:
    """Guarded pointer writes, and the pointers to move wherever the index holds them."""

    point: dict[str, str] = field(default_factory=dict)  # document id -> its new cluster_id
    flatten: dict[str, str] = field(default_factory=dict)  # members pointing at key -> value
    roots: set[str] = field(default_factory=set)  # every root this plan points something at

    @property
    def empty(self) -> bool:
        return not self.point and not self.flatten


def plan_settle(forest: Mapping[str, Pointer], edges: Iterable[tuple[str, str]],
                contenders: Iterable[str], watched: Iterable[str] = ()) -> SettlePlan:
    """What to write so the trees in `forest` become the components of `edges`.

    `forest` holds every node of the edges and every node their pointers lead to. Roots
    joined by an edge merge under the earliest of them; a `contender` (an article just
    written, whose date may have changed) can outrank its tree's root and become the root.
    Members pointing at a non-root, and those of a `watched` article (one that members were
    pointed at) that is no longer a root, are moved to their final root (`flatten`)."""
    present = {n for n, p in forest.items() if p.cluster_id is not None}
    roots = {n: root_of(forest, n) for n in present}
    groups = UnionFind()
    for a, b in edges:
        if a in present and b in present:
            groups.union(roots[a], roots[b])
    members: dict[str, set[str]] = {}
    for node in {*roots.values(), *(c for c in contenders if c in present)}:
        members.setdefault(groups.find(roots[node]), set()).add(node)
    final: dict[str, str] = {}  # group key -> the earliest root or contender
    for key, nodes in members.items():
        final[key] = min(nodes, key=lambda n: forest[n].rank)
    plan = SettlePlan()

    def final_root(node: str) -> str:
        return final[groups.find(roots[node])]

    def points_at(node: str) -> str | None:  # a pointer to a missing document counts as none
        target = forest[node].cluster_id
        return node if target not in present else target

    for key, nodes in members.items():
        winner = final[key]
        for node in nodes:
            if points_at(node) != winner:
                plan.point[node] = winner
                plan.roots.add(winner)
            if node != winner and roots[node] == node:  # a root that lost: its members follow
                plan.flatten[node] = winner
    stale = {forest[n].cluster_id for n in present} | set(watched)
    for target in stale:  # pointed at, but no longer a root: its members move on
        if target is not None and target in present and roots[target] != target:
            plan.flatten[target] = final_root(target)
            plan.roots.add(final_root(target))
    return plan
