"""Search filters as researchers type them: dates checked before Elasticsearch sees them,
keyword values in any case, entity names through the alias table, relevance; hints for values
that match nothing; `ceasefire facets`. Pure parts with hypothesis, the rest on the real node
over a generated corpus whose every count is known (tests/facet_corpus.py)."""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ceasefire.facets import filter_hints, list_facets
from ceasefire.hints import closest, hint, normalise, similarity
from ceasefire.query import (
    FilterError,
    Filters,
    date_range,
    filter_clauses,
    parse_when,
    resolve,
)
from ceasefire.search import search
from enrich_data.schema import load_actors
from tasks.enrich.canonical import DATA_DIR
from tasks.enrich.topics import load_taxonomy
from tests import facet_corpus
from tests.facet_corpus import values

FILTER_OF_KIND = {"person": "person", "location": "place", "organization": "organization",
                  "group": "organization"}


# --- dates ------------------------------------------------------------------------------------

@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)))
def test_a_day_covers_the_whole_day_in_utc(day):
    period = parse_when(day.isoformat())
    assert period.start == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert period.end - period.start == timedelta(days=1) and not period.exact


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)))
def test_a_month_and_a_year_cover_all_of_them(day):
    month = parse_when(f"{day.year:04d}-{day.month:02d}")
    assert month.start.day == 1 and month.start <= datetime.combine(day, datetime.min.time(), UTC)
    assert month.end.day == 1 and (month.end - timedelta(days=1)).month == day.month
    year = parse_when(f"{day.year:04d}")
    assert (year.start.year, year.end.year) == (day.year, day.year + 1)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31),
                    timezones=st.sampled_from([UTC, None])))
def test_an_iso_time_is_one_instant_naive_taken_as_utc(moment):
    period = parse_when(moment.isoformat())
    assert period.exact and period.start == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@given(st.text(max_size=40))
def test_any_text_is_a_period_or_a_clear_error(text):
    try:
        period = parse_when(text, "--from")
    except FilterError as exc:
        assert "--from" in str(exc) and "YYYY-MM-DD" in str(exc)
    else:
        assert period.start <= period.end and period.start.tzinfo is not None


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
       st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
def test_an_inverted_range_is_an_error_and_a_day_range_includes_both_ends(a, b):
    if a > b:
        with pytest.raises(FilterError, match="is after --to"):
            Filters(published_from=a.isoformat(), published_to=b.isoformat())
        return
    rng = date_range(Filters(published_from=a.isoformat(), published_to=b.isoformat()))
    assert datetime.fromisoformat(rng["gte"]).date() == a
    assert datetime.fromisoformat(rng["lt"]).date() == b + timedelta(days=1)  # all of --to


def test_bad_dates_never_reach_elasticsearch():
    for bad in ("yesterday", "2025-13-01", "2025-02-30", "13/10/2025", ""):
        if bad:
            with pytest.raises(FilterError, match="is not a date"):
                Filters(published_from=bad)
    assert date_range(Filters(published_from="2025-10-13T06:30:00+05:30")) == \
        {"gte": "2025-10-13T06:30:00+05:30"}
    with pytest.raises(FilterError, match="date field"):
        Filters(date_field="title")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_min_relevance_must_lie_in_0_1(x):
    if 0 <= x <= 1:
        clauses = filter_clauses(Filters(min_relevance=x))
        assert clauses == ([{"range": {"relevance": {"gte": x}}}] if x else [])
    else:
        with pytest.raises(FilterError, match=r"outside 0\.\.1"):
            Filters(min_relevance=x)


# --- aliases ----------------------------------------------------------------------------------

def test_every_alias_in_the_table_finds_its_canonical_name():
    entries = load_actors(DATA_DIR / "actors.yaml", partial=True).entries
    checked = 0
    for entry in entries:
        filter_ = FILTER_OF_KIND[entry.kind]
        for alias in [entry.name, *entry.aliases, *entry.aliases_exact]:
            resolved = resolve(filter_, alias)
            assert resolved.canonical == entry.name, (alias, entry.name, resolved)
            assert resolved.names[0] == entry.name
            checked += 1
    assert checked > 2000


def test_entity_filters_resolve_names_kinds_and_countries():
    assert resolve("person", "President Zelensky").names == ("Volodymyr Zelenskyy",
                                                             "President Zelensky")
    assert resolve("person", "Jacob Paul").names == ("Jacob Paul",)  # unknown: literal
    assert resolve("person", "Kyiv").other_filter == "place"
    assert resolve("place", "Ukraine").countries == ("UA",)  # a country: places in it too
    assert resolve("place", "Kyiv").countries == ()  # a city: itself only
    assert resolve("place", "UA").countries == ("UA",)
    assert resolve("place", "al").countries == ()  # not taken for Albania's code
    assert resolve("organization", "UN").canonical == "United Nations"
    assert resolve("organization", "Hamas").canonical == "Hamas"  # an armed group


# --- hints (pure) -----------------------------------------------------------------------------

KNOWN = st.lists(st.text(min_size=1, max_size=20), max_size=30)


@given(st.text(max_size=20), KNOWN, st.integers(min_value=0, max_value=5))
def test_closest_offers_at_most_n_known_values_once_each(value, known, n):
    found = closest(value, known, n)
    assert len(found) <= n and len(set(found)) == len(found) and set(found) <= set(known)
    assert found == closest(value, list(known), n)  # deterministic


WORDS = st.lists(st.text(alphabet=string.ascii_letters + string.digits + " -_.éü", min_size=1,
                         max_size=20), max_size=30)


@given(WORDS, st.data())
def test_a_value_equal_but_for_case_and_separators_comes_first(known, data):
    known = [k for k in known if normalise(k)]
    if not known:
        return
    target = data.draw(st.sampled_from(known))
    typed = normalise(target).upper().replace(" ", "_")
    assert similarity(typed, target) == 1.0
    assert normalise(closest(typed, known)[0]) == normalise(target)


@given(st.text(max_size=30))
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


def test_hint_messages():
    topics = load_taxonomy().topics
    assert hint("topic", "prisoner exchange", topics).message == \
        "no topic 'prisoner exchange'; closest: prisoner-exchange"
    assert hint("source", "lbcc", ["LBC", "IANS"]).message == "no source 'lbcc'; closest: LBC"
    assert hint("person", "Zelensky", ["Donald Trump", "Volodymyr Zelenskyy"]).closest == \
        ("Volodymyr Zelenskyy",)
    known = hint("person", "Rubio", ["Marco Rubio", "Donald Trump"], canonical="Marco Rubio")
    assert known.message == "no article has person 'Rubio' (Marco Rubio) yet"
    assert "no known value is close" in hint("topic", "xyzzy", topics).message


# --- on the real node -------------------------------------------------------------------------

@pytest.fixture
def corpus_es(ready_es, settings):
    articles = facet_corpus.corpus()
    facet_corpus.index_corpus(ready_es, settings, articles)
    return ready_es, facet_corpus.documents(articles)


def _count(docs, predicate) -> int:
    return sum(1 for d in docs if predicate(d))


def _total(es, settings, **filters) -> int:
    return search(es, settings.read_alias, "", Filters(**filters), size=0, hints=False).total


def test_keyword_filters_ignore_letter_case(corpus_es, settings):
    es, docs = corpus_es
    lbc = _count(docs, lambda d: d.get("source") == "LBC")
    assert lbc and _total(es, settings, source=["lbc"]) == lbc == _total(es, settings, source=["LBC"])
    assert _total(es, settings, source=["lbc", "IANS"]) == lbc + _count(
        docs, lambda d: d.get("source") == "IANS")
    assert _total(es, settings, language=["EN"]) == _count(docs, lambda d: d["language"] == "en")
    assert _total(es, settings, topic=["Prisoner-Exchange"]) == _count(
        docs, lambda d: "prisoner-exchange" in d.get("topics", []))


def test_entity_filters_go_through_the_alias_table(corpus_es, settings):
    es, docs = corpus_es

    def having(field, value):
        return _count(docs, lambda d: value in values(d, field))

    zelenskyy = having("entities.persons", "Volodymyr Zelenskyy")
    assert zelenskyy
    for alias in ("Zelensky", "Zelenskiy", "Зеленського", "volodymyr zelenskyy"):
        assert _total(es, settings, person=[alias]) == zelenskyy, alias
    assert _total(es, settings, place=["Kiev"]) == having("entities.locations", "Kyiv")
    assert _total(es, settings, place=["Київ"]) == having("entities.locations", "Kyiv")
    # A country: articles naming it or any place in it (countries: UA).
    assert _total(es, settings, place=["Ukraine"]) == having("countries", "UA") > \
        having("entities.locations", "Ukraine")
    assert _total(es, settings, organization=["UN"]) == having("entities.organizations",
                                                                "United Nations")
    assert _total(es, settings, organization=["Hamas"]) == having("entities.groups", "Hamas")
    assert _total(es, settings, person=["Nobody Known"]) == 0  # unknown names filter literally
    both = _total(es, settings, person=["Zelensky"], place=["Kyiv"])
    assert both == _count(docs, lambda d: "Volodymyr Zelenskyy" in values(d, "entities.persons")
                          and "Kyiv" in values(d, "entities.locations"))


def test_relevance_and_dates(corpus_es, settings):
    es, docs = corpus_es
    assert _total(es, settings, min_relevance=0.5) == _count(docs, lambda d: d["relevance"] >= 0.5)
    assert _total(es, settings, min_relevance=0) == len(docs)
    september = _count(docs, lambda d: d.get("published_at", "").startswith("2025-09"))
    assert _total(es, settings, published_from="2025-09", published_to="2025-09") == september
    assert _total(es, settings, published_from="2025-09-01", published_to="2025-09-30") == september
    # By coverage date, undated articles count too (by when they were fetched, or written).
    assert _total(es, settings, published_from="2025-01-01", date_field="coverage_date") == \
        len(docs)
    assert _total(es, settings, published_from="2025-01-01") == \
        _count(docs, lambda d: "published_at" in d)


def test_values_that_match_nothing_get_the_closest_known_values(corpus_es, settings):
    es, _ = corpus_es
    result = search(es, settings.read_alias, "",
                    Filters(topic=["prisoner exchange"], source=["lbcc"], person=["Zelensky"]))
    assert result.total == 0
    assert [h.message for h in result.hints] == [
        "no source 'lbcc'; closest: LBC", "no topic 'prisoner exchange'; closest: prisoner-exchange"]
    assert [(a.value, a.canonical) for a in result.aliases] == [("Zelensky", "Volodymyr Zelenskyy")]
    rubio = filter_hints(es, settings.read_alias, Filters(person=["Rubio"]))
    assert [h.message for h in rubio] == ["no article has person 'Rubio' (Marco Rubio) yet"]
    kyiv = filter_hints(es, settings.read_alias, Filters(person=["Kyiv"]))
    assert kyiv[0].other_filter == "place" and "--place 'Kyiv'" in kyiv[0].message
    assert filter_hints(es, settings.read_alias, Filters(source=["LBC"], topic=["sudan"])) != []
    assert filter_hints(es, settings.read_alias, Filters(source=["lbc"], conflict=["sudan"])) == []


def test_facets_list_the_taxonomy_and_the_top_values(corpus_es, settings):
    es, docs = corpus_es
    facets = list_facets(es, settings.read_alias, size=5)
    taxonomy = load_taxonomy()
    assert facets.total == len(docs)
    assert [t.name for t in facets.topics] == taxonomy.topics
    assert [c.name for c in facets.conflicts] == taxonomy.conflicts
    topics = {t.name: t.count for t in facets.topics}
    assert topics["prisoner-exchange"] == _count(docs, lambda d: "prisoner-exchange" in d.get("topics", []))
    assert topics["air-defence"] == 0
    assert dict(facets.top["source"]) == {s: _count(docs, lambda d, s=s: d.get("source") == s)
                                          for s in ("LBC", "IANS", "Reuters")}
    assert dict(facets.top["places"])["Kyiv"] == _count(
        docs, lambda d: "Kyiv" in values(d, "entities.locations"))
    assert dict(facets.top["groups"]) == {"Hamas": _count(docs, lambda d: "Hamas" in values(
        d, "entities.groups"))}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=120, check=False)


def test_cli_search_hints_facets_and_filter_errors(corpus_es, settings):
    _, docs = corpus_es
    found = _cli("search", "", "--topic", "prisoner exchange", "--person", "Zelensky")
    assert found.returncode == 0, found.stderr
    assert "no topic 'prisoner exchange'; closest: prisoner-exchange" in found.stdout
    assert "person 'Zelensky' = Volodymyr Zelenskyy" in found.stdout
    as_json = json.loads(_cli("search", "", "--source", "lbc", "--min-relevance", "0.5",
                              "--json").stdout)
    assert as_json["total"] == _count(docs, lambda d: d.get("source") == "LBC"
                                      and d["relevance"] >= 0.5) and as_json["hints"] == []
    inverted = _cli("search", "x", "--from", "2025-10-31", "--to", "2025-10-01")
    assert inverted.returncode == 2 and "Traceback" not in inverted.stderr
    assert "--from 2025-10-31 is after --to 2025-10-01" in inverted.stderr
    bad = _cli("search", "x", "--min-relevance", "2")
    assert bad.returncode == 2 and "outside 0..1" in bad.stderr
    facets = _cli("facets", "--json")
    assert facets.returncode == 0, facets.stderr
    listed = json.loads(facets.stdout)
    assert listed["total"] == len(docs) and {"source", "persons", "places", "organizations"} <= \
        set(listed["top"])
    text = _cli("facets")
    assert "prisoner-exchange" in text.stdout and "Prisoner exchange and hostages" in text.stdout
