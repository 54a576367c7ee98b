"""`plan_clusters` on hand-built members: which cluster each batch article joins, which indexed
clusters are relabelled, and that none of it depends on the order the inputs arrive in.

Signatures are made by hand so that copies and distinct stories are exact: every article of a
story carries the story's MinHash values (estimated Jaccard 1.0, all 64 bands collide) and
different stories share no value (no band collides)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.dedupe.near_dup import MIN_SHINGLES, NUM_PERM, ROWS, Member, Signature, plan_clusters

T0 = datetime(2025, 10, 13, 8, 0, tzinfo=UTC)


def story(n: int, shingles: int = 200) -> Signature:
    """Signature of story n: values no other story has."""
    return Signature(np.arange(n * NUM_PERM, (n + 1) * NUM_PERM, dtype=np.uint32), shingles)


def bridge(m: int, n: int) -> Signature:
    """Half its values from story m, half from story n: a copy of both (estimated Jaccard 0.5)."""
    half = NUM_PERM // 2
    return Signature(np.concatenate([story(m).values[:half], story(n).values[half:]]), 200)


def at(hours: float | None) -> datetime | None:
    return None if hours is None else T0 + timedelta(hours=hours)


def new(id_: str, hours: float | None, sig: Signature | None) -> Member:
    """A batch article (not indexed yet)."""
    return Member(id_, at(hours), sig)


def indexed(id_: str, hours: float | None, sig: Signature | None, cluster: str) -> Member:
    """An indexed article in `cluster`."""
    return Member(id_, at(hours), sig, cluster)


def reps_of(*members: Member) -> dict[str, Member]:
    """Representatives of the given indexed members' clusters (each rep's id is its cluster id)."""
    return {m.cluster_id: m for m in members}


def plan(batch, existing=(), representatives=None):
    return plan_clusters(list(batch), list(existing), representatives or {})


# --- one decision at a time ------------------------------------------------------------------


def test_empty_batch_plans_nothing():
    result = plan([])
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({}, {}, 0)


def test_article_without_candidates_starts_its_own_cluster():
    result = plan([new("a", 0, story(1))])
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"a": "a"}, {}, 0)


def test_distinct_stories_in_a_batch_stay_apart():
    result = plan([new("a", 0, story(1)), new("b", 0, story(2)), new("c", None, story(3))])
    assert (result.cluster_of, result.relabel, result.verified_pairs) == (
        {"a": "a", "b": "b", "c": "c"}, {}, 0)


def test_unsigned_article_is_its_own_cluster():
    rep = indexed("r", -1, story(1), "r")
    result = plan([new("a", 0, None), new("b", 1, story(1))], [rep], reps_of(rep))
    assert result.cluster_of == {"a": "a", "b": "r"}
    assert (result.relabel, result.verified_pairs) == ({}, 1)


def test_later_copy_of_an_indexed_representative_joins_its_cluster():
    rep = indexed("r", 0, story(1), "r")
    result = plan([new("copy", 5, story(1))], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"copy": "r"}, {}, 1)


def test_copy_of_a_non_representative_member_joins_through_it():
    # The candidate search found only a later member of cluster r; r itself comes from the mget.
    rep = indexed("r", 0, story(1), "r")
    member = indexed("m", 2, story(1), "r")
    result = plan([new("copy", 5, story(1))], [member], reps_of(rep))
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"copy": "r"}, {}, 1)


def test_earlier_published_copy_becomes_representative_and_cluster_is_relabelled():
    rep = indexed("r", 0, story(1), "r")
    member = indexed("m", 2, story(1), "r")
    result = plan([new("orig", -3, story(1))], [rep, member], reps_of(rep))
    assert result.cluster_of == {"orig": "orig"}
    assert result.relabel == {"r": "orig"}
    assert result.verified_pairs == 2  # against both indexed members


def test_new_article_bridging_two_clusters_merges_them_under_the_earliest():
    a, b = indexed("a", 0, story(1), "a"), indexed("b", 1, story(2), "b")
    result = plan([new("n", 4, bridge(1, 2))], [a, b], reps_of(a, b))
    assert result.cluster_of == {"n": "a"}
    assert result.relabel == {"b": "a"}
    assert result.verified_pairs == 2


def test_bridge_that_is_earliest_represents_both_merged_clusters():
    a, b = indexed("a", 0, story(1), "a"), indexed("b", 1, story(2), "b")
    result = plan([new("n", -1, bridge(1, 2))], [a, b], reps_of(a, b))
    assert result.cluster_of == {"n": "n"}
    assert result.relabel == {"a": "n", "b": "n"}


def test_indexed_clusters_are_not_merged_without_a_new_article_between_them():
    # Two indexed clusters of the same story (e.g. from before a threshold change) stay apart:
    # only pairs with a new article are verified.
    a, b = indexed("a", 0, story(1), "a"), indexed("b", 1, story(1), "b")
    result = plan([new("x", 2, story(2))], [a, b], reps_of(a, b))
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"x": "x"}, {}, 0)


def test_in_batch_copies_cluster_under_the_earliest():
    batch = [new("c", 2, story(1)), new("b", 1, story(1)), new("a", 3, story(1)), new("z", 0, story(2))]
    result = plan(batch)
    assert result.cluster_of == {"a": "b", "b": "b", "c": "b", "z": "z"}
    assert (result.relabel, result.verified_pairs) == ({}, 3)


def test_in_batch_copies_and_an_indexed_cluster_form_one_cluster():
    rep = indexed("r", 1, story(1), "r")
    result = plan([new("x", 0, story(1)), new("y", 2, story(1))], [rep], reps_of(rep))
    assert result.cluster_of == {"x": "x", "y": "x"}
    assert result.relabel == {"r": "x"}
    assert result.verified_pairs == 3  # x-y, x-r, y-r


def test_same_time_ties_go_to_the_smallest_id():
    result = plan([new("b", 0, story(1)), new("a", 0, story(1))])
    assert result.cluster_of == {"a": "a", "b": "a"}
    rep = indexed("m", 0, story(1), "m")
    result = plan([new("k", 0, story(1)), new("z", 0, story(1))], [rep], reps_of(rep))
    assert result.cluster_of == {"k": "k", "z": "k"}
    assert result.relabel == {"m": "k"}


def test_undated_copies_rank_after_dated_ones():
    # An undated new copy never displaces a dated representative, even with a smaller id...
    rep = indexed("r", 100, story(1), "r")
    result = plan([new("a", None, story(1))], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel) == ({"a": "r"}, {})
    # ...a dated one displaces an undated representative, however late it is...
    rep = indexed("r", None, story(1), "r")
    result = plan([new("z", 1000, story(1))], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel) == ({"z": "z"}, {"r": "z"})
    # ...and among undated copies the smallest id represents.
    result = plan([new("q", None, story(1)), new("p", None, story(1))], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel) == ({"p": "p", "q": "p"}, {"r": "p"})


def test_colliding_band_without_verification_is_not_a_copy():
    # Shares exactly one band (estimated Jaccard 2/128): a candidate, but not a copy.
    rep = indexed("r", 0, story(1), "r")
    one_band = story(2).values.copy()
    one_band[:ROWS] = story(1).values[:ROWS]
    result = plan([new("n", 1, Signature(one_band, 200))], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"n": "n"}, {}, 0)


def test_short_bodies_never_cluster_even_when_identical():
    short = story(1, shingles=MIN_SHINGLES - 1)
    rep = indexed("r", 0, short, "r")
    result = plan([new("a", 1, short), new("b", 2, short)], [rep], reps_of(rep))
    assert (result.cluster_of, result.relabel, result.verified_pairs) == ({"a": "a", "b": "b"}, {}, 0)


def test_representative_missing_from_candidates_still_competes():
    # The indexed representative r is earlier than the new copy although only m collided.
    rep = indexed("r", -10, None, "r")
    member = indexed("m", 0, story(1), "r")
    result = plan([new("n", -5, story(1))], [member], reps_of(rep))
    assert (result.cluster_of, result.relabel) == ({"n": "r"}, {})


def test_same_plan_whatever_the_input_order():
    a, b = indexed("a", 3, story(1), "a"), indexed("b", 1, story(2), "b")
    a2 = indexed("a2", 5, story(1), "a")
    batch = [new("n", 4, bridge(1, 2)), new("p", None, story(1)), new("q", 2, story(2)),
             new("s", 0, story(3)), new("t", 0, story(3)), new("u", 7, None)]
    expected = plan(batch, [a, a2, b], reps_of(a, b))
    assert expected.cluster_of == {"n": "b", "p": "b", "q": "b", "s": "s", "t": "s", "u": "u"}
    assert expected.relabel == {"a": "b"}
    rng = random.Random(7)
    for _ in range(20):
        batch_order, existing_order = batch[:], [a, a2, b]
        rng.shuffle(batch_order)
        rng.shuffle(existing_order)
        reps = dict(rng.sample(sorted(reps_of(a, b).items()), 2))
        got = plan(batch_order, existing_order, reps)
        assert (got.cluster_of, got.relabel, got.verified_pairs) == (
            expected.cluster_of, expected.relabel, expected.verified_pairs)


# --- properties ------------------------------------------------------------------------------

HOURS = st.one_of(st.none(), st.integers(-5, 5))  # few values: plenty of ties and undated


@st.composite
def scenarios(draw):
    """A batch and the indexed clusters it may collide with, over a few stories.

    Returns (batch, existing, representatives, story_of) where story_of maps each batch id and
    cluster id to its story (None: unsigned batch article)."""
    n_stories = draw(st.integers(1, 4))
    story_id = st.integers(0, n_stories - 1)
    story_of: dict[str, int | None] = {}
    existing: list[Member] = []
    reps: dict[str, Member] = {}
    for c in range(draw(st.integers(0, 4))):
        s, cid = draw(story_id), f"e{c}"
        reps[cid] = indexed(cid, draw(HOURS), story(s), cid)
        story_of[cid] = s
        candidates = [reps[cid]] if draw(st.booleans()) else []
        for k in range(draw(st.integers(0 if candidates else 1, 2))):
            candidates.append(indexed(f"{cid}m{k}", draw(HOURS), story(s), cid))
        existing += candidates
    batch = []
    for i in range(draw(st.integers(0, 6))):
        s = draw(st.one_of(st.none(), story_id))
        story_of[f"n{i}"] = s
        batch.append(new(f"n{i}", draw(HOURS), None if s is None else story(s)))
    return batch, existing, reps, story_of


def earliest_first(m: Member) -> tuple[bool, datetime, str]:
    """Earliest published first, undated after dated, then smallest id."""
    return (m.published_at is None, m.published_at or T0, m.id)


def expected_plan(batch, existing, reps, story_of):
    """The plan spelled out: a story's new articles join every indexed cluster of that story
    they collide with, under the earliest of the new articles and those clusters' reps."""
    cluster_of, relabel, pairs = {}, {}, 0
    for m in batch:
        s = story_of[m.id]
        if s is None:
            cluster_of[m.id] = m.id
            continue
        news = [b for b in batch if story_of[b.id] == s]
        olds = [e for e in existing if story_of[e.cluster_id] == s]
        clusters = {e.cluster_id for e in olds}
        best = min([*news, *(reps[c] for c in clusters)], key=earliest_first).id
        cluster_of[m.id] = best
        relabel.update({c: best for c in clusters if c != best})
    for s in set(story_of.values()) - {None}:
        n = sum(story_of[b.id] == s for b in batch)
        pairs += n * (n - 1) // 2 + n * sum(story_of[e.cluster_id] == s for e in existing)
    return cluster_of, relabel, pairs


@settings(max_examples=150, deadline=None, database=None)
@given(scenarios())
def test_plan_matches_the_spelled_out_model(scenario):
    batch, existing, reps, story_of = scenario
    result = plan(batch, existing, reps)
    expected = expected_plan(batch, existing, reps, story_of)
    assert (result.cluster_of, result.relabel, result.verified_pairs) == expected


@settings(max_examples=100, deadline=None, database=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_every_article_gets_one_cluster_whatever_the_order(scenario, rng):
    batch, existing, reps, _ = scenario
    result = plan(batch, existing, reps)
    assert set(result.cluster_of) == {m.id for m in batch}
    # Every cluster is represented by a batch article or an indexed representative, and a
    # batch article chosen as representative represents itself.
    assert set(result.cluster_of.values()) <= {m.id for m in batch} | set(reps)
    for rep in result.cluster_of.values():
        assert result.cluster_of.get(rep, rep) == rep
    assert set(result.relabel) <= set(reps)
    shuffled_batch, shuffled_existing = batch[:], existing[:]
    rng.shuffle(shuffled_batch)
    rng.shuffle(shuffled_existing)
    again = plan(shuffled_batch, shuffled_existing, reps)
    assert (again.cluster_of, again.relabel, again.verified_pairs) == (
        result.cluster_of, result.relabel, result.verified_pairs)
