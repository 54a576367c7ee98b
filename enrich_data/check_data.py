"""Validate the enrichment reference data: taxonomy.yaml and actors.yaml.

Run from the repository root:

    .venv/bin/python enrich_data/check_data.py [--taxonomy PATH] [--actors PATH]

Loads both files through the schema (enrich_data/schema.py: required keys, allowed kinds and
roles, ISO 3166-1 alpha-2 codes via pycountry, version strings, patterns in every language),
then checks what a single record cannot show: the pattern syntax (lower case, a trailing
``*`` only, word characters at both ends, the right script per language), that no alias is
used by two entries or equals another entry's canonical name, that no bare surname is shared
by two persons, that no label is used twice, and that every place/actor named by a conflict
exists in actors.yaml with the right kind. Prints counts; exits 1 when there are errors
(warnings alone do not fail).
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

if __package__ in (None, ""):  # run as a script: python enrich_data/check_data.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enrich_data.schema import (
    KINDS,
    LANGUAGES,
    ROLES,
    ActorEntry,
    ActorsFile,
    Language,
    ReferenceDataError,
    TaxonomyFile,
    load_actors,
    load_taxonomy_file,
)

HERE = Path(__file__).resolve().parent
MIN_WILDCARD_STEM = 3  # letters before a trailing "*"
T = TypeVar("T")

# Typographic apostrophes and dashes the matcher is expected to fold to ASCII.
_FOLD = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u02bb": "'",
        "`": "'",
        "\u00b4": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u00a0": " ",
    }
)
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")  # tashkeel, dagger alif, tatweel
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_RU_ONLY = re.compile("[ыэъё]")
_UK_ONLY = re.compile("[іїєґ]")
_WORD = re.compile(r"\w")

# Demonyms / adjectives that must not be location aliases (they are NORP, not places).
DEMONYMS = {
    "ukrainian", "russian", "israeli", "palestinian", "lebanese", "iranian", "sudanese",
    "congolese", "rwandan", "yemeni", "armenian", "azerbaijani", "indian", "pakistani",
    "thai", "cambodian", "syrian", "qatari", "egyptian", "turkish", "american", "european",
    "saudi", "emirati", "british", "french", "german", "chinese",
}


def fold_exact(text: str) -> str:
    """The comparison key for aliases_exact: NFC, ASCII apostrophes/dashes, no Arabic marks,
    collapsed whitespace."""
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    text = _ARABIC_MARKS.sub("", text)
    return " ".join(text.split())


def fold(text: str) -> str:
    """The comparison key for aliases: fold_exact(), case-folded."""
    return fold_exact(text).casefold()


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Reference compilation of a taxonomy pattern (what the matcher is expected to do)."""
    wild = pattern.endswith("*")
    body = pattern[:-1] if wild else pattern
    words = [re.escape(w) for w in body.split(" ")]
    rx = r"(?<!\w)" + r"\s+".join(words) + (r"\w*" if wild else "") + r"(?!\w)"
    return re.compile(rx, re.IGNORECASE)


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def load(loader: Callable[[Path], T], path: Path, rep: Report) -> T | None:
    """A file loaded through the schema, or None with its problems reported."""
    try:
        return loader(path)
    except FileNotFoundError:
        rep.error(f"{path}: file not found")
    except ReferenceDataError as exc:
        for message in exc.messages:
            rep.error(message)
    return None


# ----------------------------------------------------------------------------- taxonomy


def check_pattern(where: str, lang: str, pat: str, rep: Report) -> bool:
    """Reports what is wrong with one pattern (its whitespace is the schema's); True if nothing."""
    problems = []
    if pat != pat.lower():
        problems.append("not lower-case")
    if pat != unicodedata.normalize("NFC", pat):
        problems.append("not NFC-normalised")
    if pat.translate(_FOLD) != pat:
        problems.append("typographic apostrophe/dash (use ASCII ' and -)")
    if _ARABIC_MARKS.search(pat):
        problems.append("Arabic diacritics/tatweel (write patterns without them)")
    if "*" in pat[:-1]:
        problems.append("'*' is only allowed as the last character")
    body = pat[:-1] if pat.endswith("*") else pat
    if body and (not _WORD.match(body[0]) or not _WORD.match(body[-1])):
        problems.append("must start and end with a letter or digit (word boundaries)")
    if pat.endswith("*"):
        stem = re.split(r"[\s\-']", body)[-1]
        if len(stem) < MIN_WILDCARD_STEM:
            problems.append(f"wildcard stem {stem!r} shorter than {MIN_WILDCARD_STEM}")
    # script per language
    if lang == "ar":
        if not _ARABIC.search(pat):
            problems.append("Arabic pattern without Arabic script")
        if _CYRILLIC.search(pat) or _LATIN.search(pat):
            problems.append("Arabic pattern with Latin/Cyrillic letters")
    elif lang in ("ru", "uk"):
        if not _CYRILLIC.search(pat):
            problems.append("Russian/Ukrainian pattern without Cyrillic")
        if _ARABIC.search(pat):
            problems.append("Arabic letters in a Cyrillic pattern")
        if lang == "ru" and _UK_ONLY.search(pat):
            problems.append("Ukrainian-only letter (і ї є ґ) in a Russian pattern")
        if lang == "uk" and _RU_ONLY.search(pat):
            problems.append("Russian-only letter (ы э ъ ё) in a Ukrainian pattern")
    else:
        if _CYRILLIC.search(pat) or _ARABIC.search(pat):
            problems.append("Cyrillic/Arabic letters in a Latin-script pattern")
    if not problems:
        try:
            rx = pattern_regex(pat)
        except re.error as exc:  # pragma: no cover - re.escape makes this unlikely
            problems.append(f"does not compile: {exc}")
        else:
            if not rx.search(f"« {body} »") or rx.search(f"x{body}"):
                problems.append("reference regex does not behave (self-match failed)")
    for p in problems:
        rep.error(f"{where}: {pat!r}: {p}")
    return not problems


def check_patterns(where: str, block: Mapping[Language, list[str]], rep: Report,
                   counts: Counter[str]) -> dict[str, list[str]]:
    """The syntax of a {lang: [patterns]} block; returns the valid patterns per language."""
    good: dict[str, list[str]] = {}
    for lang, pats in block.items():
        counts[lang] += len(pats)
        good[lang] = [pat for pat in pats if check_pattern(f"{where}.{lang}", lang, pat, rep)]
    return good


def check_taxonomy(tax: TaxonomyFile, rep: Report) -> dict[str, Counter[str]]:
    """Pattern syntax, labels used twice, patterns shared by several topics/conflicts;
    returns the number of patterns per section and language."""
    counts: dict[str, Counter[str]] = {"ceasefire_terms": Counter(), "topics": Counter(),
                                       "conflicts": Counter()}
    check_patterns("taxonomy.ceasefire_terms", tax.ceasefire_terms, rep, counts["ceasefire_terms"])
    where_used: dict[tuple[str, str], list[str]] = defaultdict(list)
    for section, items in (("topics", tax.topics), ("conflicts", tax.conflicts)):
        labels: dict[str, str] = {}
        for key, item in items.items():
            where = f"taxonomy.{section}.{key}"
            if item.label in labels:
                rep.error(f"{where}: label {item.label!r} already used by {labels[item.label]}")
            else:
                labels[item.label] = key
            good = check_patterns(f"{where}.patterns", item.patterns, rep, counts[section])
            for lang, pats in good.items():
                for pat in pats:
                    where_used[(lang, pat)].append(f"{section}.{key}")
    for (lang, pat), users in sorted(where_used.items()):
        if len(users) > 1:
            rep.warn(f"taxonomy: {lang} pattern {pat!r} is used by {', '.join(users)}")
    return counts


# ----------------------------------------------------------------------------- actors


def check_actors(act: ActorsFile, rep: Report) -> list[ActorEntry]:
    """Names and aliases across entries; returns the entries with a name of their own."""
    names: dict[str, str] = {}  # folded canonical name -> canonical name
    valid: list[ActorEntry] = []
    for entry in act.entries:
        where = f"actors[{entry.name}]"
        for a in entry.aliases_exact:
            if fold(a) == fold_exact(a) and a != entry.name:
                rep.warn(f"{where}: aliases_exact {a!r} is lower-case; a plain alias would do")
        key = fold(entry.name)
        if key in names:
            rep.error(f"{where}: canonical name duplicates {names[key]!r}")
            continue
        names[key] = entry.name
        valid.append(entry)

    # Ownership: canonical names first, so an alias equal to another entry's name is caught.
    owner = dict(names)  # folded name/alias -> canonical name that owns it
    surnames: dict[str, set[str]] = defaultdict(set)  # folded last token -> persons
    bare_aliases: list[tuple[str, str]] = []  # (person, folded single-token alias)
    for entry in valid:
        where, name = f"actors[{entry.name}]", entry.name
        seen: set[str] = {fold(name)}
        for alias in [*entry.aliases, *entry.aliases_exact]:
            if alias in entry.aliases_exact and fold_exact(alias) == fold_exact(name):
                continue  # the canonical name itself is to be matched case-sensitively
            key = fold(alias)
            if key in seen:
                rep.error(f"{where}: alias {alias!r} repeats the name or another alias")
                continue
            seen.add(key)
            other = owner.get(key)
            if other is not None and other != name:
                if key in names:
                    rep.error(f"{where}: alias {alias!r} is the canonical name of {other!r}")
                else:
                    rep.error(f"{where}: alias {alias!r} is also an alias of {other!r}")
                continue
            owner[key] = name
            if entry.kind == "location" and key in DEMONYMS:
                rep.error(f"{where}: {alias!r} is a demonym, not a place alias")
        if entry.kind == "person":
            for full in [name, *entry.aliases]:
                tokens = fold(full).split()
                if len(tokens) > 1:
                    surnames[tokens[-1]].add(name)
            for alias in entry.aliases:
                tokens = fold(alias).split()
                if len(tokens) == 1:
                    bare_aliases.append((name, tokens[0]))
    for person, token in bare_aliases:
        others = surnames.get(token, set()) - {person}
        if others:
            rep.error(f"actors[{person}]: bare surname alias {token!r} is ambiguous with "
                      f"{', '.join(sorted(others))}")
    return valid


def check_references(tax: TaxonomyFile, kinds: dict[str, str], rep: Report) -> None:
    """Every place/actor of a conflict is a canonical name of the right kind."""
    pointed: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, conflict in tax.conflicts.items():
        for ref_key, refs in (("places", conflict.places), ("actors", conflict.actors)):
            where = f"taxonomy.conflicts.{key}.{ref_key}"
            for name in refs:
                kind = kinds.get(name)
                if kind is None:
                    rep.error(f"{where}: {name!r} is not a canonical name in actors.yaml")
                elif ref_key == "places" and kind != "location":
                    rep.error(f"{where}: {name!r} is a {kind}, expected a location")
                elif ref_key == "actors" and kind == "location":
                    rep.error(f"{where}: {name!r} is a location; put it under places")
                pointed[(ref_key, name)].append(key)
    for (ref_key, name), conflicts in sorted(pointed.items()):
        if len(conflicts) > 1:
            rep.warn(f"{ref_key} {name!r} points to several conflicts: {conflicts}")


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taxonomy", type=Path, default=HERE / "taxonomy.yaml")
    ap.add_argument("--actors", type=Path, default=HERE / "actors.yaml")
    ap.add_argument("-q", "--quiet", action="store_true", help="do not list warnings")
    args = ap.parse_args(argv)

    rep = Report()
    tax = load(load_taxonomy_file, args.taxonomy, rep)
    act = load(load_actors, args.actors, rep)
    counts = check_taxonomy(tax, rep) if tax else None
    entries = check_actors(act, rep) if act else None

    if tax and act and entries is not None:
        check_references(tax, {e.name: e.kind for e in entries}, rep)
        if tax.version != act.version:
            rep.warn(f"versions differ: taxonomy {tax.version} / actors {act.version}")

    if tax and counts:
        print(f"taxonomy.yaml  version {tax.version}: {len(tax.topics)} topics, "
              f"{len(tax.conflicts)} conflicts")
        print(f"  patterns per language  {'ceasefire':>9} {'topics':>7} {'conflicts':>9} {'total':>6}")
        for lang in LANGUAGES:
            c = [counts[s][lang] for s in ("ceasefire_terms", "topics", "conflicts")]
            print(f"    {lang:<20} {c[0]:>9} {c[1]:>7} {c[2]:>9} {sum(c):>6}")
        total = sum(sum(c.values()) for c in counts.values())
        print(f"    {'all':<20} {'':>9} {'':>7} {'':>9} {total:>6}")
    if act and entries is not None:
        kind_counts: Counter[str] = Counter(e.kind for e in entries)
        role_counts: Counter[str] = Counter(e.role for e in entries if e.role)
        aliases = sum(len(e.aliases) + len(e.aliases_exact) for e in entries)
        kinds = ", ".join(f"{k}: {kind_counts[k]}" for k in KINDS)
        print(f"actors.yaml    version {act.version}: "
              f"{len(entries)} entries ({kinds}), {aliases} aliases")
        roles = ", ".join(f"{r}: {role_counts[r]}" for r in ROLES if role_counts[r])
        print(f"  person roles: {roles}")

    if rep.warnings and not args.quiet:
        print(f"\n{len(rep.warnings)} warning(s):")
        for w in rep.warnings:
            print(f"  WARN  {w}")
    if rep.errors:
        print(f"\n{len(rep.errors)} error(s):", file=sys.stderr)
        for e in rep.errors:
            print(f"  ERROR {e}", file=sys.stderr)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
