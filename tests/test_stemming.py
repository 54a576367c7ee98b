"""Per-language stemmed sub-fields, on two real nodes of their own: one with the language
analyzers (the local node's plugin, the names analysis-common gives a full cluster) and one
minimal (`CEASEFIRE_ES_LANGUAGE_ANALYZERS=0`, the integ-test node as Maven Central serves it).

Each language has an article that holds one form of a word and a query with another form of
it: the stemming node finds every article through its language's sub-field, with the word
highlighted; the minimal node runs the very same code and finds them only by the exact form.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import string
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from hypothesis import given, settings
from hypothesis import strategies as st

import index_mappings
from ceasefire import language_analyzers, local_es, running
from ceasefire.query import MAX_CLAUSES, FilterError, Filters, article_query, max_terms, search_fields
from ceasefire.search import highlight_fields, search
from tasks.pipeline.steps import ensure_indices
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.reindex import reindex
from tasks.store.setup import setup_indices, stemming_languages
from testkit.private_node import cached_zip, private_node

pytestmark = pytest.mark.skipif(bool(os.environ.get("ELASTICSEARCH_URL")),
                                reason="using an external cluster; no local nodes to start")

# language -> (title, body holding the first form, a query with another form, the exact form)
ARTICLES = {
    "en": ("Talks in Doha",
           "Negotiators met in Doha on Tuesday to discuss a ceasefire in Gaza. The negotiators "
           "said a deal on the release of hostages was close. Mediators from Qatar and Egypt "
           "joined the talks, which are expected to continue next week.",
           "negotiations", "negotiators"),
    "fr": ("Reprise au Caire",
           "La négociation sur le cessez-le-feu à Gaza a repris mardi au Caire. Les médiateurs "
           "égyptiens et qatariens ont rencontré les délégations pendant plusieurs heures. Une "
           "nouvelle réunion est prévue la semaine prochaine selon des sources diplomatiques.",
           "négociations", "négociation"),
    "de": ("Lage in der Ukraine",
           "Der Waffenstillstand in der Ukraine bleibt brüchig. Die Regierung in Kiew meldete am "
           "Dienstag neue Angriffe auf die Energieversorgung des Landes. Beobachter der Vereinten "
           "Nationen sollen die Lage in den kommenden Tagen vor Ort prüfen.",
           "Waffenstillstände", "Waffenstillstand"),
    "es": ("Conversaciones en Yeda",
           "La negociación para un alto el fuego en Sudán continuó el martes en Yeda. Los "
           "mediadores de Arabia Saudí y Estados Unidos pidieron a las partes que protejan a los "
           "civiles. Una nueva ronda está prevista para la próxima semana.",
           "negociaciones", "negociación"),
    "ru": ("Удары по энергетике",
           "Перемирие на энергетических объектах вступило в силу во вторник. Представители "
           "Москвы и Киева обменялись обвинениями в нарушениях договорённостей. Наблюдатели "
           "ожидают новых переговоров на следующей неделе в Стамбуле.",
           "перемирия", "перемирие"),
    "ar": ("غزة",
           "دخلت هدنة إنسانية حيز التنفيذ في غزة صباح الثلاثاء بعد أسابيع من القتال. وقال "
           "الوسطاء في القاهرة إن المحادثات ستستمر خلال الأسبوع المقبل. ورحبت الأمم المتحدة "
           "بالخطوة ودعت إلى إدخال المساعدات.",
           "الهدنة", "هدنة"),
}


def _write_corpus(path: Path) -> Path:
    lines = [json.dumps({"title": title, "body": body, "source": "stemming-test",
                         "url": f"https://example.org/{code}"}, ensure_ascii=False)
             for code, (title, body, _, _) in ARTICLES.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _node(request: pytest.FixtureRequest, analyzers: bool) -> Iterator[Settings]:
    base = request.getfixturevalue("base_settings")
    if cached_zip(base) is None:
        pytest.skip("distribution zip not cached")
    with private_node(base, local_language_analyzers=analyzers, index_prefix="stem") as node:
        yield node


@pytest.fixture(scope="module")
def stemming_node(request: pytest.FixtureRequest) -> Iterator[Settings]:
    yield from _node(request, analyzers=True)


@pytest.fixture(scope="module")
def minimal_node(request: pytest.FixtureRequest) -> Iterator[Settings]:
    yield from _node(request, analyzers=False)


def _ingested(node: Settings, tmp: Path) -> Elasticsearch:
    report = running.ingest(node, [str(_write_corpus(tmp / "articles.jsonl"))], 50, prefect=False)
    assert report.indexed == len(ARTICLES), report.to_dict()
    es = connect(node)
    es.indices.refresh(index=node.read_alias)
    languages = {h["_source"]["title"]: h["_source"]["language"] for h in
                 es.search(index=node.read_alias, size=20, _source=["title", "language"])["hits"]["hits"]}
    assert languages == {title: code for code, (title, *_) in ARTICLES.items()}
    return es


@pytest.fixture(scope="module")
def stemmed_es(stemming_node: Settings, tmp_path_factory: pytest.TempPathFactory) -> Elasticsearch:
    return _ingested(stemming_node, tmp_path_factory.mktemp("stemmed"))


@pytest.fixture(scope="module")
def minimal_es(minimal_node: Settings, tmp_path_factory: pytest.TempPathFactory) -> Elasticsearch:
    return _ingested(minimal_node, tmp_path_factory.mktemp("minimal"))


def _titles(es: Elasticsearch, node: Settings, text: str, language: list[str] | None = None):
    result = search(es, node.read_alias, text, Filters(language=language or []), hints=False)
    return {hit.title.replace("[[", "").replace("]]", ""): hit for hit in result.hits}


# --- without a node ---------------------------------------------------------------------------


def test_the_java_factories_are_the_ones_named_for_elasticsearch():
    """named_components.json (written by Python) names exactly the Java source's classes."""
    declared = dict(re.findall(r'@NamedComponent\("(\w+)"\)\s+public static final class (\w+)',
                               language_analyzers.source()))
    named = language_analyzers.named_components()[language_analyzers.FACTORY]
    assert set(declared) == set(index_mappings.stemmed_languages().values()) == set(named)
    assert {name: f"org.ceasefire.analysis.LanguageAnalyzers${cls}"
            for name, cls in declared.items()} == named


def test_a_language_filter_narrows_the_fields_and_allows_longer_queries():
    every = search_fields()
    assert len(every) == 5 + 3 * 6 and "body.ar" in every and "title.en^2" in every
    assert search_fields(["FR"]) == ["title^3", "lead^2", "body", "authors.text", "dateline",
                                     "title.fr^2", "lead.fr", "body.fr"]
    assert search_fields(["uk"]) == ["title^3", "lead^2", "body", "authors.text", "dateline"]
    assert max_terms() == 352 and max_terms(["fr"]) == max_terms(["uk"]) == 1000


def test_highlights_mark_what_matched_in_the_searched_sub_fields():
    fields = highlight_fields(["de"])
    assert set(fields) == {"title", "lead", "body"}
    assert fields["body"]["matched_fields"] == ["body", "body.de"]
    assert fields["title"]["number_of_fragments"] == 0
    assert highlight_fields()["lead"]["matched_fields"] == [
        "lead", "lead.en", "lead.fr", "lead.de", "lead.es", "lead.ru", "lead.ar"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ceasefire", "x", "", " ", "\n", "négociations", "\u200b"]),
                max_size=1200).map(" ".join),
       st.lists(st.one_of(st.sampled_from(["en", "FR", "ar", "uk", "xx"]), st.text(max_size=3)),
                max_size=3))
def test_any_query_text_is_asked_within_the_clause_limit_or_refused_plainly(text, languages):
    try:
        query = article_query(text, Filters(language=languages))
    except FilterError as exc:
        assert "the query is too long" in str(exc) or "language" in str(exc)
        return
    if text.strip():
        fields = query["bool"]["must"][0]["simple_query_string"]["fields"]
        assert len(text.split()) * len(fields) <= MAX_CLAUSES


def test_without_a_java_compiler_the_build_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no javac on PATH, none in the "JDK"
    dist = tmp_path / "dist"
    (dist / "plugins").mkdir(parents=True)
    with pytest.raises(language_analyzers.PluginBuildError, match=r"no Java compiler .* CEASEFIRE_ES_LANGUAGE_ANALYZERS=0"):
        language_analyzers.install(dist, "8.19.21", java_home=tmp_path / "jre")
    assert list((dist / "plugins").iterdir()) == [] and language_analyzers.installed(dist) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # nothing left behind


# --- the node with the language analyzers ----------------------------------------------------


def test_the_plugin_is_built_installed_and_loaded(stemming_node):
    dist = local_es.layout(stemming_node).dist
    assert language_analyzers.installed(dist) == language_analyzers.build_id(stemming_node.local_es_version)
    with urllib.request.urlopen(f"{stemming_node.local_url}/_cat/plugins?h=component") as resp:
        assert resp.read().decode().split() == [language_analyzers.PLUGIN]
    assert local_es.analyzers_state(stemming_node, local_es.status(stemming_node).nodes[0]) == "loaded"
    es = connect(stemming_node)
    assert stemming_languages(es) == ("en", "fr", "de", "es", "ru", "ar")
    # Installing again changes nothing (the node runs it already).
    assert not language_analyzers.install(dist, stemming_node.local_es_version, local_es._java_home())


def test_every_language_finds_other_forms_of_a_word(stemming_node, stemmed_es):
    for code, (title, _, query, exact) in ARTICLES.items():
        for language in (None, [code]):
            hits = _titles(stemmed_es, stemming_node, query, language)
            assert title in hits, (code, query, language, list(hits))
            assert any(f"[[{exact}]]".lower() in s.lower() for s in hits[title].highlights), \
                (code, hits[title].highlights)
    # A filter on another language searches only that language's stems: no French match.
    assert _titles(stemmed_es, stemming_node, "négociations", ["de"]) == {}


def test_the_longest_query_allowed_is_accepted(stemming_node, stemmed_es):
    rng = random.Random(3)
    for languages in ([], ["fr"]):
        words = " ".join("".join(rng.choices(string.ascii_lowercase, k=8))
                         for _ in range(max_terms(languages)))
        query = article_query(words, Filters(language=languages))
        stemmed_es.options(request_timeout=120).search(index=stemming_node.read_alias,
                                                       query=query, size=0)


def test_indices_of_an_older_mapping_gain_the_new_languages_and_a_reindex_fills_them(stemming_node,
                                                                                      caplog):
    """An index made when only English sub-fields existed: the next run's setup adds the
    others to its mapping and warns that the documents it holds are stemmed in them only once
    reindexed; a reindex does."""
    node = stemming_node.replace(index_prefix="older")
    es = connect(node)
    older = index_mappings.articles_template(("en",))
    es.indices.put_index_template(name=node.articles_template, index_patterns=[node.articles_pattern],
                                  **older)
    es.indices.create(index=node.articles_index,
                      aliases={node.read_alias: {}, node.write_alias: {"is_write_index": True}})
    title, body, query, _ = ARTICLES["ru"]  # (English stems "négociations" as "négociation")
    es.index(index=node.write_alias, id="ru-1", refresh=True,
             document={"title": title, "body": body, "language": "ru"})
    assert _titles(es, node, query) == {}
    with caplog.at_level(logging.WARNING, logger="tasks.pipeline.steps"):
        assert ensure_indices(es, node) == node.articles_index  # what every run does first
    notice = (f"{node.articles_index} gained stemmed sub-fields (fr, de, es, ru, ar); a reindex "
              "stems the 1 document it holds")
    assert [r.getMessage() for r in caplog.records] == [notice]
    result = setup_indices(es, node)
    assert result.stemming == ("en", "fr", "de", "es", "ru", "ar") and result.notices == []  # said once
    mapping = es.indices.get_mapping(index=node.articles_index)[node.articles_index]["mappings"]
    assert set(mapping["properties"]["body"]["fields"]) == {"en", "fr", "de", "es", "ru", "ar"}
    assert _titles(es, node, query) == {}  # stored before the sub-field existed
    moved = reindex(es, node)
    es.indices.refresh(index=moved.target)
    assert title in _titles(es, node, query)


def test_ops_choose_the_languages_new_indices_stem(stemming_node):
    node = stemming_node.replace(index_prefix="some", stemmed_languages=("fr", "ar"))
    es = connect(node)
    assert setup_indices(es, node).stemming == ("fr", "ar")
    props = es.indices.get_mapping(index=node.articles_index)[node.articles_index]["mappings"]["properties"]
    assert set(props["lead"]["fields"]) == {"fr", "ar"}
    assert setup_indices(es, node.replace(stemmed_languages=())).stemming == ()


# --- the minimal node --------------------------------------------------------------------------


def test_a_node_without_the_analyzers_runs_the_same_code_on_exact_words(minimal_node, minimal_es):
    assert not (local_es.layout(minimal_node).dist / "plugins" / language_analyzers.PLUGIN).exists()
    assert local_es.analyzers_state(minimal_node, local_es.status(minimal_node).nodes[0]) == "not installed"
    assert stemming_languages(minimal_es) == ()
    mapping = minimal_es.indices.get_mapping(index=minimal_node.read_alias)
    (props,) = [m["mappings"]["properties"] for m in mapping.values()]
    assert "fields" not in props["body"] and set(props["title"]["fields"]) == {"keyword"}
    for title, _, query, exact in ARTICLES.values():
        assert _titles(minimal_es, minimal_node, query) == {}, query
        hits = _titles(minimal_es, minimal_node, exact)
        assert title in hits and hits[title].highlights, (exact, hits)
    words = " ".join(["ceasefire"] * max_terms())
    minimal_es.search(index=minimal_node.read_alias, query=article_query(words), size=0)


def test_a_request_elasticsearch_refuses_is_a_plain_usage_error(minimal_node, minimal_es):
    """What the node says when it refuses a query reaches the user as one line, exit 2, not a
    traceback. Here the refusal our query limits avoid: the 512 MB node's clause limit is the
    MAX_CLAUSES they are computed from."""
    from elasticsearch import BadRequestError

    from ceasefire.cli.errors import EXIT_CONFIG, explain

    words = " ".join(f"w{i}" for i in range(9_000))
    with pytest.raises(BadRequestError) as refused:
        minimal_es.search(index=minimal_node.read_alias,
                          query={"simple_query_string": {"query": words, "fields": ["title", "body"]}})
    code, message, _ = explain(refused.value)
    assert code == EXIT_CONFIG
    assert message.startswith("Elasticsearch refused the request: ")
    assert f"maxClauseCount is set to {MAX_CLAUSES}" in message
