"""Ceasefire topics, conflicts and relevance from a versioned multilingual taxonomy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from tasks.canonical import DATA_DIR, tokens

CONFLICT_MIN_SCORE = 2.0  # a naming phrase, or two pieces of evidence (actors, places)
TOPIC_MIN_HITS = 1
RELEVANCE_SCALE = 3.0  # weighted ceasefire-term hits at which relevance reaches ~0.63


@dataclass(slots=True)
class PhraseSet:
    """Phrases as token tuples; a trailing `*` makes the last token a prefix. Indexed by first
    token (prefix phrases of one token: by their first two letters) so a scan is O(words)."""

    exact: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    prefixed: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    def add(self, phrase: str) -> None:
        wildcard = phrase.rstrip().endswith("*")
        toks = tokens(phrase.rstrip().rstrip("*"))
        if not toks:
            return
        if wildcard:
            head, stem = tuple(toks[:-1]), toks[-1]
            self.prefixed.setdefault(head[0] if head else stem[:2], []).append((head, stem))
        else:
            self.exact.setdefault(toks[0], []).append(tuple(toks))

    def count(self, words: list[str]) -> int:
        """Occurrences of any phrase in the token list."""
        hits = 0
        for i, word in enumerate(words):
            for phrase in self.exact.get(word, ()):
                if tuple(words[i:i + len(phrase)]) == phrase:
                    hits += 1
            for head, stem in self.prefixed.get(word, ()):  # multi-word: head starts here
                n = len(head)
                if i + n < len(words) and tuple(words[i:i + n]) == head \
                        and words[i + n].startswith(stem):
                    hits += 1
            for head, stem in self.prefixed.get(word[:2], ()):  # one word: a prefix
                if not head and word.startswith(stem):
                    hits += 1
        return hits


@dataclass(slots=True)
class Taxonomy:
    version: str
    ceasefire_terms: PhraseSet
    topics: dict[str, PhraseSet]
    conflicts: dict[str, PhraseSet]
    conflict_evidence: dict[str, set[str]]  # canonical actor/place names pointing to a conflict


def _phrases(by_language: dict[str, list[str]]) -> PhraseSet:
    phrases = PhraseSet()
    for patterns in by_language.values():  # every language: misdetected or mixed-language text
        for pattern in patterns or []:
            phrases.add(str(pattern))
    return phrases


@cache
def load_taxonomy(path: Path = DATA_DIR / "taxonomy.yaml") -> Taxonomy:
    """The taxonomy (cached per path)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Taxonomy(
        version=str(data["version"]),
        ceasefire_terms=_phrases(data["ceasefire_terms"]),
        topics={k: _phrases(v["patterns"]) for k, v in data["topics"].items()},
        conflicts={k: _phrases(v["patterns"]) for k, v in data["conflicts"].items()},
        conflict_evidence={k: set(v.get("places", [])) | set(v.get("actors", []))
                           for k, v in data["conflicts"].items()},
    )


@dataclass(frozen=True, slots=True)
class TopicResult:
    topics: list[str]
    conflicts: list[str]
    relevance: float  # 0..1: how much the article is about a ceasefire


def classify(title: str, body: str, entity_names: Iterable[str], taxonomy: Taxonomy) -> TopicResult:
    """Topics, conflicts and ceasefire relevance of one article."""
    title_words, body_words = tokens(title), tokens(body)
    words = title_words + body_words
    topics = [name for name, phrases in taxonomy.topics.items()
              if phrases.count(words) >= TOPIC_MIN_HITS]
    mentioned = Counter(entity_names)
    conflicts = []
    for name, phrases in taxonomy.conflicts.items():
        evidence = sum(1 for n in mentioned if n in taxonomy.conflict_evidence[name])
        score = 2.0 * phrases.count(words) + evidence
        if score >= CONFLICT_MIN_SCORE:
            conflicts.append(name)
    weighted = 3 * taxonomy.ceasefire_terms.count(title_words) + \
        taxonomy.ceasefire_terms.count(body_words)
    relevance = round(1 - math.exp(-weighted / RELEVANCE_SCALE), 3)
    return TopicResult(topics, conflicts, relevance)
