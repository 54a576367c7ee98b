"""What to say when a filter value matches nothing: the known values closest to it.

Pure functions over strings: the known values come from the taxonomy, the alias table and
the index's own terms (`ceasefire.facets`). "prisoner exchange" is closest to
"prisoner-exchange" (same words once case, dashes and accents are set aside), "Zelensky" to
"Volodymyr Zelenskyy" (close to one of its words), "lbcc" to "LBC" (close spelling).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tasks.enrich.canonical import fold

MAX_CLOSEST = 3
CUTOFF = 0.6  # difflib ratio below which a known value is not offered
_SEPARATORS = re.compile(r"[\s\-_.,;:/'’·|]+")


def normalise(text: str) -> str:
    """The form values are compared in: folded case and accents, separators as one space."""
    return _SEPARATORS.sub(" ", fold(text)).strip()


def similarity(value: str, known: str) -> float:
    """0..1: how close `value` is to `known` as a whole, or to a run of as many of its words
    (a surname given for a full name)."""
    a, b = normalise(value), normalise(known)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    best = difflib.SequenceMatcher(None, a, b).ratio()
    words, n = b.split(), len(a.split())
    for i in range(len(words) - n + 1):
        run = " ".join(words[i:i + n])
        # A match on part of the name ranks just below a match on the whole of it.
        best = max(best, 0.95 * difflib.SequenceMatcher(None, a, run).ratio())
    return best


def closest(value: str, known: Iterable[str], n: int = MAX_CLOSEST,
            cutoff: float = CUTOFF) -> list[str]:
    """Up to `n` known values nearest to `value`, best first (ties: in the order given)."""
    scored: dict[str, float] = {}
    for candidate in known:
        if candidate and candidate not in scored:
            scored[candidate] = similarity(value, candidate)
    ranked = sorted(scored.items(), key=lambda item: -item[1])  # stable: order given on ties
    return [name for name, score in ranked if score >= cutoff][:n]


@dataclass(frozen=True, slots=True)
class Hint:
    """A filter value that matches no article, and what the researcher may have meant."""

    filter: str  # source | language | conflict | topic | person | place | organization
    value: str
    closest: tuple[str, ...] = ()
    canonical: str | None = None  # what the alias table made of the value
    other_filter: str | None = None  # the alias table knows the name under this filter
    known: bool = False  # a valid value (taxonomy, alias table) that no article has yet

    @property
    def message(self) -> str:
        """One line: `no topic 'prisoner exchange'; closest: prisoner-exchange`."""
        named = f"{self.value!r}" + (f" ({self.canonical})" if self.canonical
                                     and self.canonical != self.value else "")
        text = f"no article has {self.filter} {named} yet" if self.known else \
            f"no {self.filter} {named}"
        if self.other_filter:
            text += f"; the alias table knows it as a {self.other_filter}: " \
                    f"--{self.other_filter} {self.value!r}"
        if self.closest:
            text += "; closest: " + ", ".join(self.closest)
        elif not (self.other_filter or self.known):
            text += "; no known value is close (`ceasefire facets` lists them)"
        return text

    def to_dict(self) -> dict[str, object]:
        return {"filter": self.filter, "value": self.value, "closest": list(self.closest),
                "canonical": self.canonical, "other_filter": self.other_filter,
                "known": self.known, "message": self.message}


def hint(filter_: str, value: str, known: Iterable[str], canonical: str | None = None,
         other_filter: str | None = None) -> Hint:
    """The hint for a value that matched nothing, given the values known for its filter
    (a value known but for letter case was tried already: nothing else is offered)."""
    name = canonical or value
    values = list(dict.fromkeys(known))
    same = {k for k in values if k.casefold() == name.casefold()}
    offered = [] if same else closest(name, values)
    return Hint(filter_, value, tuple(offered), canonical, other_filter, bool(same))
