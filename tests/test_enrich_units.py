"""Enrichment building blocks on small hand-made data: language, canonical names, topics."""

from __future__ import annotations

import textwrap

import pytest

from tasks.enrich.canonical import clean_mention, country_code, load_alias_table, resolve_short_names, tokens
from tasks.enrich.enricher import canonical_mentions, to_entities
from tasks.enrich.language import detect_language
from tasks.enrich.topics import classify, load_taxonomy

ACTORS = textwrap.dedent("""
    version: "test-1"
    entries:
      - {name: Volodymyr Zelenskyy, kind: person, country: UA,
         aliases: [Zelensky, Zelenskyy, Zelenskiy, Volodymyr Zelensky, Зеленський, زيلينسكي]}
      - {name: Donald Trump, kind: person, country: US, aliases: [Trump]}
      - {name: Kursk, kind: location, country: RU, aliases: [Kursk region, Kursk Oblast, Курськ]}
      - {name: Black Sea, kind: location, aliases: [Mer Noire, Чорне море]}
      - {name: Hamas, kind: group, aliases: [حماس, ХАМАС]}
      - {name: Gaza, kind: location, country: PS, aliases: [Gaza Strip, غزة]}
""")
TAXONOMY = textwrap.dedent("""
    version: "test-1"
    languages: [en, fr, uk, ar]
    ceasefire_terms: {en: [ceasefire, truce], fr: [cessez-le-feu, trêve], uk: [перемир*], ar: [وقف إطلاق النار, هدنة]}
    topics:
      energy-infrastructure-ceasefire:
        label: Energy
        patterns: {en: [strikes on energy, energy infrastructure], fr: [infrastructures énergétiques]}
      prisoner-exchange:
        label: Prisoners
        patterns: {en: [prisoner exchange, release of pows, prisoners of war], uk: [обмін полонен*]}
    conflicts:
      russia-ukraine:
        label: Russia-Ukraine
        patterns: {en: [war in ukraine], uk: [війна в україні]}
        places: [Kursk, Ukraine, Russia]
        actors: [Volodymyr Zelenskyy]
      israel-gaza:
        label: Israel-Gaza
        patterns: {en: [gaza war], ar: [الحرب على غزة]}
        places: [Gaza]
        actors: [Hamas]
""")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "actors.yaml"
    path.write_text(ACTORS, encoding="utf-8")
    return load_alias_table(path)


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "taxonomy.yaml"
    path.write_text(TAXONOMY, encoding="utf-8")
    return load_taxonomy(path)


@pytest.mark.parametrize(("text", "code"), [
    ("The two leaders agreed on a partial ceasefire against energy infrastructure and discussed "
     "the release of prisoners of war.", "en"),
    ("Les deux dirigeants se sont mis d'accord sur un cessez-le-feu partiel visant les "
     "infrastructures énergétiques.", "fr"),
    ("Die beiden Präsidenten einigten sich auf eine teilweise Waffenruhe für die Energieinfrastruktur.", "de"),
    ("Обидва лідери домовилися про часткове перемир'я щодо енергетичної інфраструктури.", "uk"),
    ("Оба лидера договорились о частичном прекращении огня в отношении энергетической инфраструктуры.", "ru"),
    ("اتفق الزعيمان على وقف جزئي لإطلاق النار يستهدف البنية التحتية للطاقة في البلاد.", "ar"),
])
def test_language_detection(text, code):
    guess = detect_language(text)
    assert guess.code == code and guess.confidence > 0.8


def test_language_short_text_and_hints():
    assert detect_language("Truce?").code == "und"
    assert detect_language("", hint="fr").code == "fr"
    english = "The ceasefire between the two countries held overnight, officials said on Tuesday morning."
    mismatch = detect_language(english, hint="de")
    assert mismatch.code == "en" and mismatch.hint_mismatch
    # Deterministic: the same text always gets the same answer.
    assert {detect_language(english).confidence for _ in range(5)} == {detect_language(english).confidence}


@pytest.mark.parametrize(("raw", "clean"), [
    ("Jacob Paul ·", "Jacob Paul"), ("Jacob Paul\n", "Jacob Paul"), ("President Trump", "Trump"),
    ("Mr Zelenskyy's", "Zelenskyy"), ("the Kremlin", "Kremlin"),
    ("Secretary of State Marco Rubio", "Marco Rubio"), ("“Putin", "Putin"),
])
def test_clean_mention(raw, clean):
    assert clean_mention(raw) == clean


def test_alias_lookup_folds_case_diacritics_and_inflection(table):
    assert table.lookup("ZELENSKIY").name == "Volodymyr Zelenskyy"
    assert table.lookup("Зеленського").name == "Volodymyr Zelenskyy"  # Ukrainian genitive
    assert table.lookup("Trump").kind == "person"
    assert [a.name for a, _ in table.scan("Talks in the Kursk region and on the Mer Noire.")] == \
        ["Kursk", "Black Sea"]
    assert [a.name for a, _ in table.scan("قالت حماس إن وقف إطلاق النار في غزة صامد")] == ["Hamas", "Gaza"]


def test_ner_output_is_canonicalised(table):
    ents = [("Zelenskyy", "PERSON"), ("Trump", "ORG"), ("Jacob Paul ·", "PERSON"),
            ("Kursk", "PRODUCT"), ("Ukrainian", "NORP"), ("Marco Rubio", "PERSON"),
            ("Rubio", "PERSON"), ("Smith", "PERSON"), ("Ukraine", "GPE"), ("the Kremlin", "ORG")]
    text = "Zelenskyy spoke to Trump about Kursk and the Black Sea."
    entities, countries = to_entities(canonical_mentions(ents, text, table))
    assert entities.persons == ["Volodymyr Zelenskyy", "Donald Trump", "Jacob Paul", "Marco Rubio"]
    assert entities.locations == ["Kursk", "Ukraine", "Black Sea"]
    assert entities.organizations == ["Kremlin"]
    assert entities.groups == []  # "Ukrainian" is a demonym, not an armed group
    assert countries == ["RU", "UA"]


def test_short_names_resolve_within_a_document():
    assert resolve_short_names(["Jacob Paul", "Paul", "Anna Lee", "Lee", "Kim"]) == \
        {"Paul": "Jacob Paul", "Lee": "Anna Lee"}


def test_country_codes_come_from_pycountry():
    assert country_code("Saudi Arabia") == "SA" and country_code("Atlantis") is None


def test_topics_conflicts_and_relevance(taxonomy):
    result = classify("Partial ceasefire on energy agreed",
                      "Strikes on energy infrastructure will stop. The release of PoWs was discussed.",
                      ["Volodymyr Zelenskyy", "Kursk"], taxonomy)
    assert result.topics == ["energy-infrastructure-ceasefire", "prisoner-exchange"]
    assert result.conflicts == ["russia-ukraine"]
    assert result.relevance > 0.6
    ukrainian = classify("Обмін полоненими", "Сторони провели обмін полоненими та обговорили перемир'я.",
                         [], taxonomy)
    assert ukrainian.topics == ["prisoner-exchange"] and ukrainian.relevance > 0.2
    football = classify("Cup final", "The home side won the cup final 2-1 in extra time.", [], taxonomy)
    assert (football.topics, football.conflicts, football.relevance) == ([], [], 0.0)


def test_tokens_keep_scripts():
    assert tokens("Cessez-le-feu à Gaza") == ["cessez", "le", "feu", "a", "gaza"]
