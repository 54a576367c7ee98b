"""Ceasefire topics, conflicts and relevance from a versioned multilingual taxonomy.

One definition of "about a ceasefire": the article uses one of the taxonomy's
`ceasefire_terms` (a ceasefire, truce, pause in fighting or moratorium on strikes, in any of
its languages). `relevance` grows with those terms (title hits count three times) and is 0.0
without them; the ceasefire topics (CEASEFIRE_TOPICS) are only given to an article that has
them. So a ceasefire topic implies relevance > 0, and relevance > 0 implies talk of a
ceasefire: strikes on energy facilities alone are not an energy-infrastructure ceasefire.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from enrich_data.schema import Language, load_taxonomy_file
from tasks.enrich.canonical import DATA_DIR, tokens

CONFLICT_MIN_SCORE = 2.0  # a naming phrase, or two pieces of evidence (actors, places)
TOPIC_MIN_HITS = 1
RELEVANCE_SCALE = 2.5  # one passing mention: 0.33; a second one, or one in the title: > 0.5


@dataclass(slots=True)
class PhraseIndex:
    """Labelled phrases as token tuples, indexed by first token (one-word prefix phrases: by
    their first two letters), so counting every label is one pass over the words. A trailing
    `*` makes a phrase's last token a prefix."""

    exact: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    prefixed: dict[str, list[tuple[tuple[str, ...], str, str]]] = field(default_factory=dict)
    # (tokens, wildcard, label) already added: case forms that stem alike ("моратория",
    # "мораторию") are one phrase, so one occurrence in the text counts once.
    seen: set[tuple[tuple[str, ...], bool, str]] = field(default_factory=set)

    def add(self, phrase: str, label: str) -> None:
        wildcard = phrase.rstrip().endswith("*")
        toks = tokens(phrase.rstrip().rstrip("*"))
        if not toks or (tuple(toks), wildcard, label) in self.seen:
            return
        self.seen.add((tuple(toks), wildcard, label))
        if wildcard:
            head, stem = tuple(toks[:-1]), toks[-1]
            self.prefixed.setdefault(head[0] if head else stem[:2], []).append((head, stem, label))
        else:
            self.exact.setdefault(toks[0], []).append((tuple(toks), label))

    def count(self, words: list[str]) -> Counter[str]:
        """Phrase occurrences per label."""
        hits: Counter[str] = Counter()
        for i, word in enumerate(words):
            for phrase, label in self.exact.get(word, ()):
                if tuple(words[i:i + len(phrase)]) == phrase:
                    hits[label] += 1
            for head, stem, label in self.prefixed.get(word, ()):  # multi-word: head starts here
                n = len(head)
                if i + n < len(words) and tuple(words[i:i + n]) == head \
                        and words[i + n].startswith(stem):
                    hits[label] += 1
            for head, stem, label in self.prefixed.get(word[:2], ()):  # one word: a prefix
                if not head and word.startswith(stem):
                    hits[label] += 1
        return hits


CEASEFIRE = "ceasefire"
# Topics that name a kind of ceasefire (or its breach): given only with a ceasefire term.
CEASEFIRE_TOPICS = frozenset({
    "full-ceasefire", "partial-ceasefire", "energy-infrastructure-ceasefire",
    "maritime-ceasefire", "humanitarian-pause", "ceasefire-violations",
})


@dataclass(slots=True)
class Taxonomy:
    version: str
    phrases: PhraseIndex  # labels: "ceasefire", "topic:<name>", "conflict:<name>"
    topics: list[str]
    conflicts: list[str]
    conflict_evidence: dict[str, set[str]]  # canonical actor/place names pointing to a conflict
    topic_labels: dict[str, str] = field(default_factory=dict)  # name -> label, for people
    conflict_labels: dict[str, str] = field(default_factory=dict)


def _add_all(index: PhraseIndex, by_language: Mapping[Language, list[str]], label: str) -> None:
    for patterns in by_language.values():  # every language: misdetected or mixed-language text
        for pattern in patterns:
            index.add(pattern, label)


@cache
def load_taxonomy(path: Path = DATA_DIR / "taxonomy.yaml") -> Taxonomy:
    """The taxonomy (cached per path); ReferenceDataError (a ValueError) for a bad file.
    Partial taxonomies load: check_data.py holds the published one to the full rules."""
    data = load_taxonomy_file(path, partial=True)
    index = PhraseIndex()
    _add_all(index, data.ceasefire_terms, CEASEFIRE)
    for name, topic in data.topics.items():
        _add_all(index, topic.patterns, f"topic:{name}")
    for name, conflict in data.conflicts.items():
        _add_all(index, conflict.patterns, f"conflict:{name}")
    return Taxonomy(
        version=data.version, phrases=index,
        topics=list(data.topics), conflicts=list(data.conflicts),
        conflict_evidence={name: {*c.places, *c.actors} for name, c in data.conflicts.items()},
        topic_labels={name: t.label for name, t in data.topics.items()},
        conflict_labels={name: c.label for name, c in data.conflicts.items()},
    )


@dataclass(frozen=True, slots=True)
class TopicResult:
    topics: list[str]
    conflicts: list[str]
    relevance: float  # 0..1: how much the article is about a ceasefire


def classify(title: str, body: str, entity_names: Iterable[str], taxonomy: Taxonomy) -> TopicResult:
    """Topics, conflicts and ceasefire relevance of one article."""
    in_title = taxonomy.phrases.count(tokens(title))
    hits = in_title + taxonomy.phrases.count(tokens(body))
    speaks_of_ceasefire = hits[CEASEFIRE] > 0
    topics = [name for name in taxonomy.topics if hits[f"topic:{name}"] >= TOPIC_MIN_HITS
              and (speaks_of_ceasefire or name not in CEASEFIRE_TOPICS)]
    mentioned = set(entity_names)
    conflicts = []
    for name in taxonomy.conflicts:
        evidence = len(mentioned & taxonomy.conflict_evidence[name])
        if 2.0 * hits[f"conflict:{name}"] + evidence >= CONFLICT_MIN_SCORE:
            conflicts.append(name)
    weighted = 2 * in_title[CEASEFIRE] + hits[CEASEFIRE]  # title hits count three times
    relevance = round(1 - math.exp(-weighted / RELEVANCE_SCALE), 3)
    return TopicResult(topics, conflicts, relevance)
