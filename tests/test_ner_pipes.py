"""What spaCy runs for the entities, and in how many processes: only `ner` (and what it listens
to), with exactly the entities of the full pipeline; a second process only where one may be
started and pays."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
import spacy

from tasks.enrich.enricher import (
    DEFAULT_MODEL,
    default_enricher,
    entity_pipes,
    load_nlp,
    missing_upstreams,
    read_model_config,
    worker_processes,
)
from tasks.models import Article
from tasks.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


TRUTH_CHARS = 3000  # a slice of each extraction-corpus page: every language, less time


def jsonl_texts(path: Path, language: str | None = None) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [f"{r['title']}\n\n{r['body']}" for r in rows if language in (None, r.get("language"))]


def stories() -> list[str]:
    """The dedup corpus's 72 English stories."""
    return jsonl_texts(BENCH / "dedup_corpus" / "stories.jsonl")


def english_news() -> list[str]:
    """What the enricher runs NER on in our corpora: the samples, the English articles of the
    labelled evaluation set, the dedup corpus's stories."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.txt"))]
    return texts + jsonl_texts(BENCH / "enrich_eval" / "articles.jsonl", "en") + stories()


def corpus_texts() -> list[str]:
    """English news plus everything else at hand: the evaluation set's other six languages and
    the start of every extraction-corpus page (12 languages, some not news at all)."""
    others = [t for t in jsonl_texts(BENCH / "enrich_eval" / "articles.jsonl")
              if t not in set(english_news())]
    pages = [p.read_text(encoding="utf-8")[:TRUTH_CHARS]
             for p in sorted((BENCH / "extraction_corpus" / "truth").glob("*.txt"))]
    return english_news() + others + pages


def only(model: str, keep: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> spacy.language.Language:
    """The model with only the components in `keep` (all when empty) minus those in `drop`."""
    names = read_model_config(model)["nlp"]["pipeline"]
    return spacy.load(model, exclude=[p for p in names if (keep and p not in keep) or p in drop])


Ents = list[list[tuple[str, str, int, int]]]


def entities(nlp: spacy.language.Language, texts: list[str]) -> Ents:
    return [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
            for doc in nlp.pipe(texts, batch_size=32)]


def test_en_core_web_md_needs_only_ner():
    full = spacy.load(DEFAULT_MODEL)
    assert "tok2vec" in full.pipe_names and not missing_upstreams(full)
    assert not [n for n in full.get_pipe("ner").model.walk() if hasattr(n, "upstream_name")]
    assert entity_pipes(full) == {"ner"}
    nlp = load_nlp()
    assert nlp.pipe_names == nlp.component_names == ["ner"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return corpus_texts()


@pytest.fixture(scope="module")
def ours(texts) -> Ents:
    """Entities of the pipeline the enricher loads."""
    found = entities(load_nlp(), texts)
    assert len(texts) >= 180 and sum(map(len, found)) > 3000  # a real comparison
    return found


def differing(a: Ents, b: Ents) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


@pytest.mark.slow
def test_ner_alone_finds_exactly_what_tok2vec_and_ner_found(texts, ours):
    assert differing(ours, entities(only(DEFAULT_MODEL, keep=("tok2vec", "ner")), texts)) == []


@pytest.mark.slow
def test_ner_alone_finds_exactly_the_full_models_entities_on_english_news(texts, ours):
    english = english_news()
    assert texts[:len(english)] == english
    assert differing(ours[:len(english)], entities(spacy.load(DEFAULT_MODEL), english)) == []


@pytest.mark.slow
def test_only_the_parsers_sentence_boundaries_could_change_the_entities(texts, ours):
    """Elsewhere the full model can differ: `ner` never lets an entity cross a sentence
    boundary, and only the full model has the parser's (over these corpora unsliced: 36 of
    9,319 entities in 14 of 191 texts, 13 not English, all run-on spans such as "přidává se
    Emile Heskey", which the parser's boundary splits in two; none in `english_news()`).
    Everything else in it, tagger, attribute ruler, lemmatizer, changes nothing."""
    assert differing(ours, entities(only(DEFAULT_MODEL, drop=("parser",)), texts)) == []


# --- a model whose ner listens to a shared tok2vec keeps it, without being told ----------


def _tiny_model(path: Path, ner_upstream: str | None) -> Path:
    """tok2vec, a tagger listening to it, and ner: listening (to `ner_upstream`) or embedding
    on its own (None); randomly initialised and saved, like a trained package."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": {
        "@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}}})
    ner_config = {}
    if ner_upstream is not None:
        ner_config = {"model": {
            "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner",
            "extra_state_tokens": False, "hidden_width": 16, "maxout_pieces": 2, "use_upper": True,
            "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": 96,
                        "upstream": ner_upstream}}}
    nlp.add_pipe("ner", config=ner_config)
    nlp.get_pipe("tagger").add_label("X")
    for label in ("PERSON", "GPE"):
        nlp.get_pipe("ner").add_label(label)
    nlp.initialize()
    nlp.to_disk(path)
    return path


@pytest.mark.parametrize(("upstream", "kept"), [
    ("tok2vec", ["tok2vec", "ner"]),
    ("*", ["tok2vec", "ner"]),
    (None, ["ner"]),
])
def test_listened_components_are_kept(tmp_path, upstream, kept):
    model = str(_tiny_model(tmp_path / "model", upstream))
    nlp = load_nlp.__wrapped__(model)
    assert nlp.pipe_names == kept and not missing_upstreams(nlp)
    sample = ["Volodymyr Zelenskyy spoke to Donald Trump in Kyiv.", "Talks resumed in Riyadh."] * 20
    assert entities(nlp, sample) == entities(spacy.load(model), sample)


def test_a_listener_the_config_hid_is_found_on_the_loaded_model(tmp_path, monkeypatch, caplog):
    model = str(_tiny_model(tmp_path / "model", "tok2vec"))
    monkeypatch.setattr("tasks.enrich.enricher.unneeded_pipes", lambda config: ["tok2vec", "tagger"])
    assert load_nlp.__wrapped__(model).pipe_names == ["tok2vec", "ner"]
    assert "listens to an excluded component" in caplog.text


# --- processes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "texts", "daemonic", "expected"), [
    (2, 1000, False, 2),
    (8, 80, False, 3),  # batches of 32, 32 and 16: three processes at most
    (8, 79, False, 2),  # 32, 32 and 15: a third process for 15 texts would not pay
    (2, 48, False, 2),
    (2, 47, False, 1),
    (2, 33, False, 1),  # a second process for one text would only add the fork's cost
    (2, 0, False, 1),
    (1, 1000, False, 1),
    (2, 1000, True, 1),  # a Dask worker process may not start children
])
def test_worker_processes(requested, texts, daemonic, expected):
    assert worker_processes(requested, texts, 32, daemonic) == expected


def test_processes_default_to_the_cores_available():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert Settings.from_env({}).spacy_n_process == cores
    assert Settings.from_env({"CEASEFIRE_SPACY_PROCESSES": "1"}).spacy_n_process == 1


def _articles(texts: list[str]) -> list[Article]:
    return [Article(title=f"Report {i}", body=text) for i, text in enumerate(texts)]


def _enrich_in_daemon(texts: list[str], results: multiprocessing.Queue) -> None:
    try:
        results.put([a.entities for a in default_enricher(n_process=2).enrich(_articles(texts))])
    except BaseException as exc:  # e.g. "daemonic processes are not allowed to have children"
        results.put(repr(exc))


def test_two_processes_give_the_same_entities_even_from_a_daemonic_process():
    texts = stories()
    assert worker_processes(2, len(texts), 32, daemonic=False) == 2  # would fork if allowed
    one = [a.entities for a in default_enricher(n_process=1).enrich(_articles(texts))]
    assert [a.entities for a in default_enricher(n_process=2).enrich(_articles(texts))] == one
    context = multiprocessing.get_context("fork")  # the model is inherited, not reloaded
    results = context.Queue()
    daemon = context.Process(target=_enrich_in_daemon, args=(texts, results), daemon=True)
    daemon.start()
    got = results.get(timeout=600)
    daemon.join(timeout=60)
    assert got == one
