"""One definition of "about a ceasefire": ceasefire topics and `relevance` agree, in every
language of the taxonomy. Real taxonomy, no spaCy model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.enrich.canonical import tokens
from tasks.enrich.topics import CEASEFIRE, CEASEFIRE_TOPICS, classify, load_taxonomy

TAXONOMY = load_taxonomy()
EVAL = Path(__file__).resolve().parent.parent / "benchmarks" / "enrich_eval" / "articles.jsonl"
ROWS = {row["id"]: row for row in map(json.loads, EVAL.read_text(encoding="utf-8").splitlines())}


def agree(title: str, body: str) -> tuple[bool, float, list[str]]:
    result = classify(title, body, [], TAXONOMY)
    terms = TAXONOMY.phrases.count(tokens(f"{title}\n{body}"))[CEASEFIRE]
    ceasefire_topics = sorted(CEASEFIRE_TOPICS & set(result.topics))
    ok = (not ceasefire_topics or result.relevance > 0) and ((result.relevance > 0) == (terms > 0))
    return ok, result.relevance, ceasefire_topics


def test_ceasefire_topics_are_topics_of_the_taxonomy():
    assert set(TAXONOMY.topics) >= CEASEFIRE_TOPICS


@pytest.mark.parametrize("row_id", sorted(ROWS))
def test_topics_and_relevance_agree_on_the_labelled_set(row_id):
    row = ROWS[row_id]
    ok, _, _ = agree(row["title"], row["body"])
    assert ok


def test_ians_sample_never_speaks_of_a_ceasefire():
    """Strikes on energy facilities and a talk of ending the war: no ceasefire topic, 0.0."""
    row = ROWS["sample-ians"]
    assert row["gold"]["about_ceasefire"] is False
    ok, relevance, ceasefire_topics = agree(row["title"], row["body"])
    assert ok and relevance == 0.0 and ceasefire_topics == []


def test_russian_energy_strike_moratorium_is_about_a_ceasefire():
    """"мораторий на удары по энергетике": a truce on energy strikes, in the title."""
    row = ROWS["ru-ru-ua-moratorii-energetika"]
    assert row["gold"]["about_ceasefire"] is True
    ok, relevance, ceasefire_topics = agree(row["title"], row["body"])
    assert ok and relevance >= 0.5 and "energy-infrastructure-ceasefire" in ceasefire_topics


@pytest.mark.parametrize(("title", "body"), [
    ("Strikes hit power plants", "Russian drones hit energy facilities and energy infrastructure overnight."),
    ("Frappes nocturnes", "Des drones ont visé des infrastructures énergétiques à Kharkiv."),
    ("Nächtliche Angriffe", "Drohnen trafen Energieinfrastruktur und Energieanlagen in der Ukraine."),
    ("Ataques nocturnos", "Drones rusos atacaron infraestructuras energéticas en Kiev."),
    ("Удары по энергетике", "Дроны атаковали объекты энергетики и энергетическую инфраструктуру."),
    ("Удари по енергетиці", "Дрони атакували енергетичну інфраструктуру та об'єкти енергетики."),
    ("ضربات على الطاقة", "استهدفت مسيرات البنية التحتية للطاقة ومنشآت الطاقة في كييف."),
])
def test_strikes_on_energy_alone_are_no_energy_ceasefire(title, body):
    result = classify(title, body, [], TAXONOMY)
    assert result.relevance == 0.0 and not CEASEFIRE_TOPICS & set(result.topics)


@pytest.mark.parametrize(("title", "body"), [
    ("Moratorium on strikes on energy agreed", "Both sides agreed to a moratorium on strikes on energy infrastructure."),
    ("Moratoire sur les frappes", "Un moratoire sur les frappes contre les infrastructures énergétiques."),
    ("Angriffsmoratorium vereinbart", "Ein Moratorium für Angriffe auf die Energieinfrastruktur gilt."),
    ("Moratoria de ataques", "Rige una prohibición de ataques contra instalaciones energéticas."),
    ("Мораторий на удары по энергетике", "Мораторий на удары по объектам энергетики истёк."),
    ("Мораторій на удари по енергетиці", "Мораторій на удари по енергетичній інфраструктурі діє."),
    ("وقف الضربات على منشآت الطاقة", "اتفق الطرفان على وقف الضربات على البنية التحتية للطاقة."),
])
def test_an_energy_truce_is_about_a_ceasefire_in_every_language(title, body):
    result = classify(title, body, [], TAXONOMY)
    assert result.relevance >= 0.5 and "energy-infrastructure-ceasefire" in result.topics


def test_a_phrase_listed_in_several_case_forms_counts_once():
    once = classify("Talks", "Стороны обсудили мораторий на удары.", [], TAXONOMY).relevance
    assert once == classify("Talks", "Стороны обсудили моратория на удары.", [], TAXONOMY).relevance
    assert 0 < once < 0.5  # one passing mention


PHRASES = st.sampled_from([
    "ceasefire", "truce", "energy infrastructure", "strikes on energy", "prisoner exchange",
    "safe navigation", "humanitarian pause", "violations", "перемир'я", "перемирие",
    "мораторий на удары", "وقف إطلاق النار", "هدنة", "alto el fuego", "Waffenruhe",
    "cessez-le-feu", "the talks", "drones hit", "энергетической инфраструктуры", "and",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(PHRASES, max_size=8).map(" ".join), st.lists(PHRASES, max_size=20).map(" ".join))
def test_topics_and_relevance_always_agree(title, body):
    assert agree(title, body)[0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=400))
def test_random_text_never_raises(title, body):
    result = classify(title, body, ["Kursk", "Hamas"], TAXONOMY)
    assert 0.0 <= result.relevance <= 1.0
