"""Canonical entities: the actor alias table, gazetteer matching, and cleanup of raw NER mentions.

"Zelensky", "Zelenskyy", "Volodymyr Zelenskyy", "Зеленський" -> one facet value; "Trump"
tagged ORG -> a person; "Jacob Paul ·" -> "Jacob Paul"; "Kursk" tagged PRODUCT -> a location.
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
KINDS = ("person", "organization", "group", "location")
MAX_ALIAS_TOKENS = 6
# Titles and honorifics that precede names in news copy; dropped before lookup.
HONORIFICS = re.compile(
    r"^(?:(?:mr|mrs|ms|dr|sir|dame|president|vice president|prime minister|pm|premier|"
    r"chancellor|king|queen|prince|crown prince|emir|sheikh|general|gen|lt gen|colonel|"
    r"secretary(?: of state)?|foreign minister|defence minister|defense minister|minister|"
    r"ambassador|envoy|special envoy|senator|sen|rep|representative|speaker|mayor|governor|"
    r"spokesman|spokeswoman|spokesperson|commander|ayatollah|pope|former)\.?\s+)+",
    re.IGNORECASE)
_EDGE_JUNK = " \t\n\r·•|,;:.!?\"'“”‘’()[]{}-–—"
_TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_ARABIC_PROCLITICS = ("وال", "بال", "لل", "فال", "كال", "ال", "و", "ب", "ل", "ف")


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
    if _ARABIC.search(token):
        for clitic in _ARABIC_PROCLITICS:
            if token.startswith(clitic) and len(token) - len(clitic) >= 3:
                return token[len(clitic):]
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

    def lookup(self, mention: str) -> Actor | None:
        """The actor a whole mention names, if any."""
        return self.by_exact.get(tuple(_TOKEN_RE.findall(mention))) or \
            self.by_key.get(tuple(tokens(mention)))

    def scan(self, text: str) -> Iterator[tuple[Actor, str]]:
        """Every alias occurrence in `text`, longest match first at each position."""
        words = _TOKEN_RE.findall(text)
        keys = [_stem(w) for w in _TOKEN_RE.findall(fold(text))]
        if len(keys) != len(words):  # folding changed the word boundaries: fold word by word
            keys = [_stem(fold(w)) for w in words]
        i = 0
        while i < len(keys):
            for n in range(min(MAX_ALIAS_TOKENS, len(keys) - i), 0, -1):
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
    """A raw NER span without edge punctuation, byline debris, possessive or honorifics."""
    text = " ".join(text.split())
    text = re.sub(r"['’]s$", "", text.strip(_EDGE_JUNK))
    text = re.sub(r"^(?:the|by)\s+", "", text, flags=re.IGNORECASE)
    text = HONORIFICS.sub("", text).strip(_EDGE_JUNK)
    return text


def is_plausible_name(text: str) -> bool:
    """Rejects spans that are not names: too short, no letters, all lower case."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 2 and not text.islower() and len(text) <= 80


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
