"""Enrichment: language, canonical entities (spaCy NER + alias table), topics, conflicts,
relevance, and which model and taxonomy versions produced them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tasks.enrich.canonical import (
    Actor,
    AliasTable,
    clean_mention,
    country_code,
    is_plausible_name,
    load_alias_table,
    resolve_short_names,
)
from tasks.enrich.language import detect_language
from tasks.enrich.topics import Taxonomy, classify, load_taxonomy
from tasks.models import Article, Entities, Skip
from tasks.settings import ConfigError, Settings

LOGGER = logging.getLogger(__name__)

BUNDLED_MODEL = Path(sys.prefix) / "share" / "ceasefire" / "models" / "en_core_web_md-3.8.0"
DEFAULT_MODEL = str(BUNDLED_MODEL) if BUNDLED_MODEL.is_dir() else "en_core_web_md"
NER_LANGUAGES = {"en"}  # languages the statistical model was trained on; others: alias table
NEEDED_PIPES = ("tok2vec", "ner")
MAX_NER_CHARS = 100_000  # spaCy's time grows with length; news bodies are far shorter
# spaCy labels -> our kinds; NORP (nationalities) only through the alias table (armed groups).
LABEL_KIND = {"PERSON": "person", "ORG": "organization", "GPE": "location", "LOC": "location",
              "FAC": "location", "NORP": "group", "EVENT": "event"}
FIELD_OF_KIND = {"person": "persons", "organization": "organizations", "location": "locations",
                 "group": "groups", "event": "events"}


class ModelMissing(ConfigError, RuntimeError):
    """The spaCy model cannot be loaded; the message says how to install it."""


@cache
def load_nlp(model: str = DEFAULT_MODEL) -> Any:
    """The spaCy pipeline with only tokenizer, tok2vec and NER (cached per model)."""
    import spacy  # heavy import: only when enriching

    try:
        nlp = spacy.load(model)
    except OSError as exc:
        raise ModelMissing(
            f"spaCy model {model!r} is not installed: run `bash scripts/setup.sh` (unpacks "
            "en_core_web_md 3.8.0 into .venv), or `python -m spacy download en_core_web_md`, "
            "or set CEASEFIRE_SPACY_MODEL to a model name or directory") from exc
    for pipe in list(nlp.pipe_names):
        if pipe not in NEEDED_PIPES:
            nlp.remove_pipe(pipe)
    return nlp


def model_version(nlp: Any) -> str:
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', '?')}-{meta.get('version', '?')}"


@dataclass(frozen=True, slots=True)
class Mention:
    name: str
    kind: str
    country: str | None = None


def _from_actor(actor: Actor) -> Mention:
    return Mention(actor.name, actor.kind, actor.country)


def canonical_mentions(ents: Iterable[tuple[str, str]], text: str, table: AliasTable) -> list[Mention]:
    """Canonical mentions from NER spans (text, label) plus alias-table matches in `text`."""
    found: list[Mention] = []
    for raw, label in ents:
        kind = LABEL_KIND.get(label)
        name = clean_mention(raw)
        if not is_plausible_name(name):
            continue
        actor = table.lookup(name)
        if actor is not None:  # the table also fixes labels: "Trump"/ORG is a person
            found.append(_from_actor(actor))
        elif kind in ("person", "organization", "location", "event"):
            found.append(Mention(name, kind))
    found += [_from_actor(actor) for actor, _ in table.scan(text)]
    # "Zelenskyy" after "Volodymyr Zelenskyy": one person. Lone unknown surnames are dropped.
    persons = [m.name for m in found if m.kind == "person"]
    fuller = resolve_short_names(persons)
    known = set(table.by_name)
    out = []
    for m in found:
        if m.kind == "person" and len(m.name.split()) == 1 and m.name not in known:
            if m.name not in fuller:
                continue
            m = Mention(fuller[m.name], "person")
        out.append(m)
    return out


def to_entities(mentions: list[Mention]) -> tuple[Entities, list[str]]:
    """Entities by kind (first-seen order, unique) and ISO country codes of the places."""
    entities = Entities()
    countries: list[str] = []
    for m in mentions:
        values = getattr(entities, FIELD_OF_KIND[m.kind])
        if m.name not in values:
            values.append(m.name)
        if m.kind == "location":
            code = m.country or country_code(m.name)
            if code and code not in countries:
                countries.append(code)
    return entities, countries


@dataclass(frozen=True, slots=True)
class Enricher:
    """Everything enrichment needs, loaded once per process."""

    nlp: Any
    table: AliasTable
    taxonomy: Taxonomy
    batch_size: int = 32
    n_process: int = 1

    @property
    def version(self) -> str:
        return f"{model_version(self.nlp)}+actors-{self.table.version}+taxonomy-{self.taxonomy.version}"

    def enrich(self, articles: list[Article]) -> list[Article]:
        """Fill language, entities, countries, topics, conflicts, relevance (in place)."""
        texts = []
        for article in articles:
            guess = detect_language(f"{article.title}\n{article.body}", article.language_hint)
            article.language, article.language_confidence = guess.code, round(guess.confidence, 3)
            article.language_hint_mismatch = guess.hint_mismatch
            texts.append(f"{article.title}\n\n{article.body}"[:MAX_NER_CHARS])
        english = [i for i, a in enumerate(articles) if a.language in NER_LANGUAGES]
        ents: dict[int, list[tuple[str, str]]] = {i: [] for i in range(len(articles))}
        docs = self.nlp.pipe((texts[i] for i in english), batch_size=self.batch_size,
                             n_process=self.n_process)
        for i, doc in zip(english, docs, strict=True):
            ents[i] = [(e.text, e.label_) for e in doc.ents]
        version = self.version
        for i, article in enumerate(articles):
            mentions = canonical_mentions(ents[i], texts[i], self.table)
            article.entities, article.countries = to_entities(mentions)
            result = classify(article.title, article.body, (m.name for m in mentions), self.taxonomy)
            article.topics, article.conflicts, article.relevance = (
                result.topics, result.conflicts, result.relevance)
            article.enrichment_version = version
        return articles


def enrich_or_skip(enricher: Enricher, articles: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Enrich the batch; if that fails, each article alone, so one article the model or the
    rules choke on becomes a named skip instead of failing the batch."""
    try:
        return enricher.enrich(articles), []
    except Exception as batch_error:
        LOGGER.warning("enriching a batch of %d failed (%r); enriching one by one",
                       len(articles), batch_error)
    done: list[Article] = []
    skips: list[Skip] = []
    for article in articles:
        try:
            done += enricher.enrich([article])
        except Exception as exc:
            skips.append(Skip(article.origin or article.id, f"enrich-error:{type(exc).__name__}",
                              str(exc)[:300]))
    return done, skips


@cache
def default_enricher(model: str = DEFAULT_MODEL, n_process: int = 1) -> Enricher:
    """The enricher for a model (cached: spaCy takes ~1.5 s to load)."""
    return Enricher(load_nlp(model), load_alias_table(), load_taxonomy(), n_process=n_process)


def enricher_for(settings: Settings) -> Enricher:
    """The cached enricher for the configured model (CEASEFIRE_SPACY_MODEL) and processes."""
    return default_enricher(settings.spacy_model or DEFAULT_MODEL, settings.spacy_n_process)
