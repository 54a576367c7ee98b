"""Canonical entities: the actor alias table, gazetteer matching, and cleanup of raw NER mentions.

"Zelensky", "Zelenskyy", "Volodymyr Zelenskyy", "Зеленський" -> one facet value; "Trump"
tagged ORG -> a person; "Jacob Paul ·" -> "Jacob Paul"; "Kursk" tagged PRODUCT -> a location;
"Xinhua news agenc" (a truncated alias) -> Xinhua; "Nakhchivan exclave" -> Nakhchivan;
"State", "Drones", "National Security" (generic words NER tags when capitalised) and
holidays, platforms, venues and military operations -> no entity.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pycountry

import enrich_data
from enrich_data.schema import load_actors

DATA_DIR = enrich_data.DATA_DIR
# The version of the code rules in this module and in tasks.enrich.topics: bump on every change
# to what they produce (stored enrichment is reused while Enricher.version is unchanged).
ENRICHMENT_RULES = "2"
KINDS = ("person", "organization", "group", "location")
# Titles and honorifics that precede names in news copy; dropped before lookup.
HONORIFICS = re.compile(
    r"^(?:(?:mr|mrs|ms|(?-i:Dr)|sir|dame|president|vice president|prime minister|pm|premier|"
    r"chancellor|king|queen|prince|crown prince|emir|sheikh|general|gen|lt gen|colonel|"
    r"secretary(?: of state)?|foreign minister|defence minister|defense minister|minister|"
    r"ambassador|envoy|special envoy|senator|sen|rep|representative|speaker|mayor|governor|"
    r"spokesman|spokeswoman|spokesperson|commander|ayatollah|pope|former)\.?\s+)+",
    re.IGNORECASE)
_EDGE_JUNK = " \t\n\r·•|,;:.!?\"'“”‘’()[]{}-–—"
# A word; a French/Italian elided article or pronoun before it ("l'OMS", "d'Omdourman") and
# an English possessive after it ("Rwanda's") are not part of it, an inner apostrophe is
# ("Sana'a", "O'Brien").
_TOKEN_RE = re.compile(r"(?:\b(?:[ldjnmtsc]|qu)['’](?=\w))?(\w+(?:['’](?!s\b)\w+)*)(?:['’]s\b)?",
                       re.IGNORECASE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_ARABIC_PROCLITICS = ("وال", "بال", "لل", "فال", "كال", "ال", "و", "ب", "ل", "ف")
# Lower-case words NER takes into a name: determiners, bylines, compass and position
# modifiers ("eastern Democratic Republic of Congo" -> "Democratic Republic of Congo").
_LEADING_WORDS = re.compile(
    r"^(?:(?:the|by|a|an|(?:north|south|east|west)(?:ern)?|(?:north|south)-?(?:east|west)(?:ern)?|"
    r"central|occupied|mainland|neighbou?ring)\s+)+")
# Words that name a kind of body, office, rank or thing, not one organisation or place. A
# mention made only of these (and of function words) is not a name: NER tags them ORG/GPE
# when capitalised ("Secretary of State" -> "State", "Drones", "National Security", "Army").
GENERIC_WORDS = frozenset({
    "state", "states", "government", "governments", "ministry", "ministries", "department",
    "departments", "defence", "defense", "security", "national", "army", "armies", "navy", "naval",
    "military", "armed", "forces", "force", "air", "police", "intelligence", "council", "committee",
    "commission", "agency", "agencies", "office", "administration", "authority", "authorities",
    "cabinet", "parliament", "assembly", "court", "courts", "supreme", "constitutional", "general",
    "central", "federal", "joint", "staff", "command", "headquarters", "service", "services",
    "presidency", "president", "presidential", "minister", "ministers", "prime", "foreign",
    "affairs", "interior", "justice", "finance", "economy", "energy", "health", "bureau", "board",
    "party", "league", "coalition", "opposition", "rebels", "rebel", "militia", "militias",
    "regime", "embassy", "mission", "delegation", "secretariat", "secretary", "spokesman",
    "spokesperson", "news", "press", "media", "drone", "drones", "missile", "missiles", "troops",
    "soldiers", "border", "guard", "guards", "coast", "public", "union", "republic", "kingdom",
    "federation", "chamber", "senate", "house", "upper", "lower", "high", "higher", "international",
    "special", "operations", "unit", "units", "division", "brigade", "battalion", "corps", "fleet",
    "shipowners",
})
MAX_GENERIC_WORDS = 2  # "National Security" is generic; "International Court of Justice" a name
FUNCTION_WORDS = frozenset(["of", "the", "and", "for", "on", "in", "at", "to", "a", "an"])
# Not entities by the labelling rules (benchmarks/enrich_eval/NAMES.md): holidays and
# commemorations, the channels officials post on (not the companies that are also news:
# Facebook, YouTube...), rooms and venues, events and awards.
_NOT_ENTITIES = (
    "Easter", "Orthodox Easter", "Christmas", "Ramadan", "Eid", "Eid al-Fitr", "Eid al-Adha",
    "Victory Day", "Thanksgiving", "Independence Day", "New Year", "Passover", "Hanukkah",
    "Truth Social", "Telegram", "Oval Office", "Rose Garden", "Situation Room", "Grand Slam", "French Open",
    "Wimbledon", "Nobel Peace Prize", "Nobel Prize", "Olympics", "World Cup",
)
# Trailing descriptors after a known name: "Nakhchivan exclave" -> Nakhchivan,
# "Xinhua news agency" -> Xinhua, "Hamas movement" -> Hamas; only onto the same kind.
DESCRIPTOR_KIND = {
    "region": "location", "province": "location", "oblast": "location", "exclave": "location",
    "enclave": "location", "district": "location", "governorate": "location",
    "agency": "organization", "news": "organization", "company": "organization",
    "movement": "group", "militia": "group", "rebels": "group",
}
MIN_TRUNCATED = 3  # letters of a cut-off last word ("agenc") that may complete to an alias


@dataclass(frozen=True, slots=True)
class Actor:
    """A canonical entity of the alias table."""

    name: str
    kind: str  # person | organization | group | location
    country: str | None = None  # ISO 3166-1 alpha-2
    role: str | None = None


def _fold_table() -> dict[int, str]:
    """Latin letters with diacritics -> base letters; combining marks and Arabic vowel marks
    (harakat) -> nothing. Cyrillic й/ї are single code points and stay whole."""
    table: dict[int, str] = {ord("’"): "'"}
    for code in range(0xC0, 0x250):
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(code))
                       if not unicodedata.combining(c))
        if base != chr(code):
            table[code] = base
    for code in (*range(0x300, 0x370), *range(0x64B, 0x660), 0x670):
        table[code] = ""
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower case, Latin diacritics and apostrophe variants removed: the key aliases match on."""
    return unicodedata.normalize("NFC", text.casefold()).translate(_FOLD)


# Case endings of Russian and Ukrainian nouns and adjectives, longest first.
_CYRILLIC_ENDINGS = (
    "ого", "его", "ому", "ему", "ими", "ыми",
    "ій", "ий", "ой", "ей", "ої", "ою", "ею", "ам", "ям", "ах", "ях", "ом", "ем", "им", "ым",
    "ов", "ев", "ів",
    "а", "я", "у", "ю", "е", "і", "и", "ы", "о", "й",
)


def _stem(token: str) -> str:
    """Inflection-tolerant key for one token: Cyrillic case endings and Arabic proclitics
    are trimmed (Зеленського / Зеленський, وغزة / غزة); other scripts stay as they are."""
    if _CYRILLIC.search(token):
        for ending in _CYRILLIC_ENDINGS:
            if token.endswith(ending) and len(token) - len(ending) >= 3:
                return token[: -len(ending)]
        return token
    while _ARABIC.search(token):  # stacked proclitics: و+ب+... ("وبرنامج" -> "برنامج" -> ...)
        clitic = next((c for c in _ARABIC_PROCLITICS
                       if token.startswith(c) and len(token) - len(c) >= 3), None)
        if clitic is None:
            break
        token = token[len(clitic):]
    return token


def tokens(text: str) -> list[str]:
    """Folded, stemmed word tokens."""
    return [_stem(t) for t in _TOKEN_RE.findall(fold(text))]


@dataclass(slots=True)
class AliasTable:
    """Alias token tuples -> Actor, with the table's version."""

    version: str
    by_key: dict[tuple[str, ...], Actor]
    by_name: dict[str, Actor]
    # Aliases matched with their exact capitals: "US", "UN", "WHO" are words once lower-cased.
    by_exact: dict[tuple[str, ...], Actor] = field(default_factory=dict)
    # Every proper word-prefix of a multi-word alias key -> (the next word, the actor):
    # completes mentions NER or the source cut off.
    by_prefix: dict[tuple[str, ...], list[tuple[str, Actor]]] = field(default_factory=dict)
    # Alias lengths (longest first) by first token (folded key or exact word): what `scan`
    # tries at a position, instead of every length up to the longest alias.
    lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        starts: dict[str, set[int]] = {}
        for table in (self.by_key, self.by_exact):
            for k in filter(None, table):
                starts.setdefault(k[0], set()).add(len(k))
        self.lengths = {first: tuple(sorted(ns, reverse=True)) for first, ns in starts.items()}
        if not self.by_prefix:
            for key, actor in self.by_key.items():
                for n in range(1, len(key)):
                    self.by_prefix.setdefault(key[:n], []).append((key[n], actor))

    def lookup(self, mention: str) -> Actor | None:
        """The actor a whole mention names, if any: the mention as it is, else without
        trailing descriptors of the actor's kind ("Nakhchivan exclave"), else a truncated
        last word completed to the one alias it can be cut from ("Xinhua news agenc")."""
        key = tuple(tokens(mention))
        actor = self.by_exact.get(tuple(_TOKEN_RE.findall(mention))) or self.by_key.get(key) \
            or self.by_key.get(("the", *key))  # "Resistance Front" for "The Resistance Front"
        if actor is not None:
            return actor
        stem, kind = key, None
        while len(stem) > 1:
            descriptor = DESCRIPTOR_KIND.get(stem[-1])
            if descriptor is None or kind not in (None, descriptor):
                break
            kind, stem = descriptor, stem[:-1]
            actor = self.by_key.get(stem)
            if actor is not None:
                return actor if actor.kind == kind else None
        return self._completed(key)

    def _completed(self, key: tuple[str, ...]) -> Actor | None:
        """The one actor with an alias `key` is cut from: whole words of a longer
        organisation, group or place name ("Coordination Headquarters"), or words ending in
        a word cut after at least MIN_TRUNCATED letters ("Xinhua news agenc"). Persons are
        not completed from whole words: "Abdel Fattah" is a given name, not a cut."""
        if len(key) < 2:
            return None
        found = {actor for _, actor in self.by_prefix.get(key, ()) if actor.kind != "person"}
        if not found and len(key[-1]) >= MIN_TRUNCATED:
            found = {actor for word, actor in self.by_prefix.get(key[:-1], ())
                     if word.startswith(key[-1]) and word != key[-1]}
        return found.pop() if len(found) == 1 else None

    def scan(self, text: str) -> Iterator[tuple[Actor, str]]:
        """Every alias occurrence in `text`, longest match first at each position."""
        words = _TOKEN_RE.findall(text)
        keys = [_stem(w) for w in _TOKEN_RE.findall(fold(text))]
        if len(keys) != len(words):  # folding changed the word boundaries: fold word by word
            keys = [_stem(fold(w)) for w in words]
        i = 0
        while i < len(keys):
            candidates = sorted({*self.lengths.get(keys[i], ()), *self.lengths.get(words[i], ())},
                                reverse=True)
            for n in (n for n in candidates if n <= len(keys) - i):
                actor = self.by_exact.get(tuple(words[i:i + n])) or \
                    self.by_key.get(tuple(keys[i:i + n]))
                if actor is not None:
                    yield actor, " ".join(words[i:i + n])
                    i += n
                    break
            else:
                i += 1


@cache
def load_alias_table(path: Path = DATA_DIR / "actors.yaml") -> AliasTable:
    """The alias table (cached per path); ReferenceDataError (a ValueError) for a bad file.
    Partial tables load: check_data.py holds the published one to the full rules."""
    data = load_actors(path, partial=True)
    by_key: dict[tuple[str, ...], Actor] = {}
    by_exact: dict[tuple[str, ...], Actor] = {}
    by_name: dict[str, Actor] = {}
    for entry in data.entries:
        actor = Actor(entry.name, entry.kind, entry.country, entry.role)
        by_name[actor.name] = actor
        # A name like "WHO" is matched only as written: folded, it would be every "who".
        names = [] if entry.name in entry.aliases_exact else [entry.name]
        for alias in [*names, *entry.aliases]:
            key = tuple(tokens(alias))
            if key:
                by_key.setdefault(key, actor)
        for alias in entry.aliases_exact:
            by_exact.setdefault(tuple(_TOKEN_RE.findall(alias)), actor)
    return AliasTable(data.version, by_key, by_name, by_exact)


def clean_mention(text: str) -> str:
    """A raw NER span without edge punctuation, byline debris, possessive, leading
    determiners and modifiers, or honorifics; cleaning again changes nothing."""
    text = " ".join(text.split())
    for _ in range(len(text)):  # each round shortens the text, or it is done
        cleaned = re.sub(r"['’]s$", "", text.strip(_EDGE_JUNK))
        cleaned = re.sub(r"^(?:the|by|an?)\s+", "", cleaned, flags=re.IGNORECASE)
        cleaned = _LEADING_WORDS.sub("", cleaned)
        cleaned = HONORIFICS.sub("", cleaned).strip(_EDGE_JUNK)
        if cleaned == text:
            break
        text = cleaned
    return text


def is_generic(text: str) -> bool:
    """Whether a mention is one or two generic words ("State", "National Security", "the
    Army"): a kind of body or thing, not the name of one. Longer official names made of
    such words ("International Court of Justice") stay names."""
    words = [w for w in _TOKEN_RE.findall(fold(text)) if w not in FUNCTION_WORDS]
    return 0 < len(words) <= MAX_GENERIC_WORDS and all(w in GENERIC_WORDS for w in words)


def _words_key(text: str) -> str:
    return " ".join(_TOKEN_RE.findall(fold(text)))


NOT_ENTITIES = frozenset(_words_key(name) for name in _NOT_ENTITIES)


def is_not_entity(text: str) -> bool:
    """Holidays, platforms, venues, events and military operations ("Operation Sindoor")."""
    key = _words_key(text)
    return key in NOT_ENTITIES or key.startswith("operation ")


def is_plausible_name(text: str) -> bool:
    """Rejects spans that are not names: too short, no letters, all lower case, lists
    ("Fordow, Natanz"), generic words only, or things the labelling rules do not count as
    entities. Names the alias
    table knows are found in the text by `AliasTable.scan` whatever NER made of them."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 2 and not text.islower() and len(text) <= 80 and not is_list(text) \
        and not is_generic(text) and not is_not_entity(text)


def is_list(text: str) -> bool:
    """Single words joined by commas ("Fordow, Natanz") are several names, not one;
    "University of California, San Diego" is one."""
    parts = text.split(",")
    return len(parts) > 1 and all(len(part.split()) <= 1 for part in parts)


@cache
def country_code(name: str) -> str | None:
    """ISO 3166-1 alpha-2 for a country name, via pycountry (exact, then fuzzy-free lookup)."""
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        return None


def resolve_short_names(names: Iterable[str]) -> dict[str, str]:
    """Map surnames (and other partial names) to the fuller name used in the same document."""
    full = [n for n in names if len(n.split()) > 1]
    out: dict[str, str] = {}
    for name in names:
        if len(name.split()) == 1:
            matches = {f for f in full if f.split()[-1] == name or f.split()[0] == name}
            if len(matches) == 1:
                out[name] = matches.pop()
    return out
