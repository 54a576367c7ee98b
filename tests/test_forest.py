"""The cluster forest's settle plan (pure): applying it gives the components of the copy
pairs, each under its earliest member, every member pointing straight at it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.dedupe.forest import Pointer, plan_settle, root_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), set()).add(n)
    return {n: groups[find(n)] for n in nodes}


def _apply(forest: dict[str, Pointer], plan) -> dict[str, Pointer]:
    """What the index holds after the plan's writes and flattening."""
    out = dict(forest)
    for node, target in plan.point.items():
        out[node] = Pointer(node, target, forest[node].published_at)
    for node, p in list(out.items()):
        if p.cluster_id in plan.flatten and node not in plan.point:
            out[node] = Pointer(node, plan.flatten[p.cluster_id], p.published_at)
    return out


@st.composite
def forests(draw):
    """A valid forest (pointers to earlier articles, depth 1 or 2) and random copy pairs."""
    n = draw(st.integers(2, 12))
    ids = [f"a{i:02d}" for i in range(n)]
    dates = {i: (None if draw(st.booleans()) and draw(st.booleans())
                 else T0 + timedelta(hours=draw(st.integers(0, 5)))) for i in ids}
    probe = {i: Pointer(i, i, dates[i]) for i in ids}
    order = sorted(ids, key=lambda i: probe[i].rank)
    forest: dict[str, Pointer] = {}
    for pos, node in enumerate(order):
        earlier = order[:pos]
        target = draw(st.sampled_from(earlier)) if earlier and draw(st.booleans()) else node
        forest[node] = Pointer(node, target, dates[node])
    edges = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=12))
    return forest, [(a, b) for a, b in edges if a != b]


@given(forests())
@settings(max_examples=300, deadline=None)
def test_settling_converges_to_components_under_their_earliest_member(case):
    forest, edges = case
    # The trees already present are joined, as the index records them, plus the new pairs.
    tree_edges = [(n, p.cluster_id) for n, p in forest.items() if p.cluster_id and p.cluster_id != n]
    expected = _components(list(forest), edges + tree_edges)
    current = forest
    for _ in range(10):
        plan = plan_settle(current, edges, list(forest))
        if plan.empty:
            break
        current = _apply(current, plan)
    else:
        raise AssertionError("did not converge")
    for node, members in expected.items():
        earliest = min(members, key=lambda m: forest[m].rank)
        assert current[node].cluster_id == earliest
        assert root_of(current, node) == earliest


def test_a_pointer_to_a_missing_document_makes_its_holder_a_root():
    forest = {"b": Pointer("b", "gone", T0), "gone": Pointer("gone", None)}
    assert root_of(forest, "b") == "b"


def test_two_representatives_of_one_story_merge_under_the_earliest():
    forest = {"x": Pointer("x", "x", T0 + timedelta(hours=1)), "y": Pointer("y", "y", T0),
              "x2": Pointer("x2", "x", T0 + timedelta(hours=2))}
    plan = plan_settle(forest, [("x", "y")], ["x"])
    assert plan.point == {"x": "y"}
    assert plan.flatten == {"x": "y"}
    assert plan.roots == {"y"}


def test_a_settled_forest_needs_nothing():
    forest = {"x": Pointer("x", "y", T0 + timedelta(hours=1)), "y": Pointer("y", "y", T0)}
    assert plan_settle(forest, [("x", "y")], ["x"], watched=["y"]).empty


def test_a_pointer_to_a_missing_document_is_left_alone_unless_a_copy_needs_it():
    # e.g. during a reindex the representative is not copied yet: nothing to write
    forest = {"b": Pointer("b", "r", T0), "r": Pointer("r", None)}
    assert plan_settle(forest, [], ["b"]).empty
    forest["a"] = Pointer("a", "a", T0 - timedelta(hours=1))
    assert plan_settle(forest, [("a", "b")], ["b"]).point == {"b": "a"}
