"""Validate the enrichment reference data: taxonomy.yaml and actors.yaml.

Run from the repository root:

    .venv/bin/python enrich_data/check_data.py [--taxonomy PATH] [--actors PATH]

Checks the schema (required keys, allowed kinds and roles, ISO 3166-1 alpha-2 codes via
pycountry, version strings), that every topic and conflict has patterns in all languages,
the pattern syntax (lower case, a trailing ``*`` only, word characters at both ends, the
right script per language), that no alias is used by two entries or equals another entry's
canonical name, that no bare surname is shared by two persons, and that every place/actor
named by a conflict exists in actors.yaml with the right kind. Prints counts; exits 1 when
there are errors (warnings alone do not fail).
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pycountry
import yaml

HERE = Path(__file__).resolve().parent

LANGUAGES = ["en", "fr", "de", "es", "ru", "uk", "ar"]
KINDS = ("person", "organization", "group", "location")
ROLES = (
    "head-of-state",
    "head-of-government",
    "minister",
    "envoy",
    "mediator",
    "military",
    "spokesperson",
    "official",
)
ENTRY_KEYS_REQUIRED = ("name", "kind", "country", "aliases")
ENTRY_KEYS_OPTIONAL = ("role", "aliases_exact")
MIN_PATTERNS = 3  # per language, for ceasefire_terms, every topic and every conflict
MIN_WILDCARD_STEM = 3  # letters before a trailing "*"
VERSION_RE = re.compile(r"^\d{4}\.(0[1-9]|1[0-2])\.\d+$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

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


def fold(text: str) -> str:
    """The comparison key for aliases: NFC, ASCII apostrophes/dashes, no Arabic marks,
    collapsed whitespace, case-folded."""
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    text = _ARABIC_MARKS.sub("", text)
    return " ".join(text.split()).casefold()


def fold_exact(text: str) -> str:
    """Like fold() but keeping case (for aliases_exact)."""
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    text = _ARABIC_MARKS.sub("", text)
    return " ".join(text.split())


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


def load_yaml(path: Path, rep: Report) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        rep.error(f"{path}: file not found")
    except yaml.YAMLError as exc:
        rep.error(f"{path}: invalid YAML: {exc}")
    return None


def check_version(where: str, value: Any, rep: Report) -> str | None:
    if not isinstance(value, str) or not VERSION_RE.match(value):
        rep.error(f"{where}: version must be a quoted string YYYY.MM.N, got {value!r}")
        return None
    return value


# ----------------------------------------------------------------------------- taxonomy


def check_pattern(where: str, lang: str, pat: Any, rep: Report) -> bool:
    if not isinstance(pat, str) or not pat:
        rep.error(f"{where}: pattern must be a non-empty string, got {pat!r}")
        return False
    problems = []
    if pat != pat.strip() or "  " in pat or "\t" in pat or "\n" in pat:
        problems.append("stray whitespace")
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


def check_pattern_block(where: str, block: Any, languages: list[str], rep: Report,
                        counts: Counter[str]) -> dict[str, list[str]]:
    """A {lang: [patterns]} mapping; returns the valid patterns per language."""
    out: dict[str, list[str]] = {}
    if not isinstance(block, dict):
        rep.error(f"{where}: must be a mapping language -> list of patterns")
        return out
    for lang in block:
        if lang not in languages:
            rep.error(f"{where}: unknown language {lang!r}")
    for lang in languages:
        pats = block.get(lang)
        if not isinstance(pats, list) or not pats:
            rep.error(f"{where}: no patterns for language {lang!r}")
            continue
        if len(pats) < MIN_PATTERNS:
            rep.error(f"{where}.{lang}: only {len(pats)} patterns (need >= {MIN_PATTERNS})")
        seen: set[str] = set()
        good = []
        for pat in pats:
            if not check_pattern(f"{where}.{lang}", lang, pat, rep):
                continue
            if pat in seen:
                rep.error(f"{where}.{lang}: duplicate pattern {pat!r}")
                continue
            seen.add(pat)
            good.append(pat)
        counts[lang] += len(pats)
        out[lang] = good
    return out


def check_taxonomy(tax: Any, rep: Report) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "version": None, "topics": 0, "conflicts": 0,
        "patterns": {"ceasefire_terms": Counter(), "topics": Counter(), "conflicts": Counter()},
        "refs": [],
    }
    if not isinstance(tax, dict):
        rep.error("taxonomy: top level must be a mapping")
        return stats
    for key in tax:
        if key not in ("version", "languages", "ceasefire_terms", "topics", "conflicts"):
            rep.error(f"taxonomy: unknown top-level key {key!r}")
    stats["version"] = check_version("taxonomy", tax.get("version"), rep)

    languages = tax.get("languages")
    if not isinstance(languages, list) or sorted(map(str, languages)) != sorted(LANGUAGES):
        rep.error(f"taxonomy.languages must be exactly {LANGUAGES}, got {languages!r}")
        languages = LANGUAGES

    check_pattern_block("taxonomy.ceasefire_terms", tax.get("ceasefire_terms"), languages, rep,
                        stats["patterns"]["ceasefire_terms"])

    where_used: dict[tuple[str, str], list[str]] = defaultdict(list)
    for section, extra_keys in (("topics", ()), ("conflicts", ("places", "actors"))):
        items = tax.get(section)
        if not isinstance(items, dict) or not items:
            rep.error(f"taxonomy.{section}: must be a non-empty mapping")
            continue
        stats[section] = len(items)
        labels: dict[str, str] = {}
        for key, item in items.items():
            where = f"taxonomy.{section}.{key}"
            if not isinstance(key, str) or not SLUG_RE.match(key):
                rep.error(f"{where}: key must be a lower-case slug (a-z, 0-9, '-')")
            if not isinstance(item, dict):
                rep.error(f"{where}: must be a mapping")
                continue
            allowed = {"label", "patterns", *extra_keys}
            for k in item:
                if k not in allowed:
                    rep.error(f"{where}: unknown key {k!r}")
            for k in allowed:
                if k not in item:
                    rep.error(f"{where}: missing key {k!r}")
            label = item.get("label")
            if not isinstance(label, str) or not label.strip():
                rep.error(f"{where}: label must be a non-empty string")
            elif label in labels:
                rep.error(f"{where}: label {label!r} already used by {labels[label]}")
            else:
                labels[label] = key
            good = check_pattern_block(f"{where}.patterns", item.get("patterns"), languages,
                                       rep, stats["patterns"][section])
            for lang, pats in good.items():
                for pat in pats:
                    where_used[(lang, pat)].append(f"{section}.{key}")
            for ref_key, want in (("places", "location"), ("actors", "non-location")):
                if ref_key not in extra_keys:
                    continue
                refs = item.get(ref_key)
                if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                    rep.error(f"{where}.{ref_key}: must be a list of canonical names")
                    continue
                for name, n in Counter(refs).items():
                    if n > 1:
                        rep.error(f"{where}.{ref_key}: {name!r} listed {n} times")
                for name in dict.fromkeys(refs):
                    stats["refs"].append((where, ref_key, name, want, key))
    for (lang, pat), users in sorted(where_used.items()):
        if len(users) > 1:
            rep.warn(f"taxonomy: {lang} pattern {pat!r} is used by {', '.join(users)}")
    return stats


# ----------------------------------------------------------------------------- actors


def check_actors(data: Any, rep: Report) -> dict[str, Any]:
    stats: dict[str, Any] = {"version": None, "kinds": Counter(), "roles": Counter(),
                             "aliases": 0, "by_name": {}}
    if not isinstance(data, dict):
        rep.error("actors: top level must be a mapping")
        return stats
    for key in data:
        if key not in ("version", "entries"):
            rep.error(f"actors: unknown top-level key {key!r}")
    stats["version"] = check_version("actors", data.get("version"), rep)
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        rep.error("actors.entries: must be a non-empty list")
        return stats

    owner: dict[str, str] = {}  # folded name/alias -> canonical name that owns it
    names: dict[str, str] = {}  # folded canonical name -> canonical name
    surnames: dict[str, set[str]] = defaultdict(set)  # folded last token -> persons
    bare_aliases: list[tuple[str, str]] = []  # (person, folded single-token alias)

    valid = []
    for i, entry in enumerate(entries):
        where = f"actors.entries[{i}]"
        if not isinstance(entry, dict):
            rep.error(f"{where}: must be a mapping")
            continue
        name = entry.get("name")
        if isinstance(name, str) and name.strip():
            where = f"actors[{name}]"
        for k in ENTRY_KEYS_REQUIRED:
            if k not in entry:
                rep.error(f"{where}: missing key {k!r}")
        for k in entry:
            if k not in ENTRY_KEYS_REQUIRED + ENTRY_KEYS_OPTIONAL:
                rep.error(f"{where}: unknown key {k!r}")
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            rep.error(f"{where}: name must be a non-empty string without surrounding spaces")
            continue
        kind = entry.get("kind")
        if kind not in KINDS:
            rep.error(f"{where}: kind must be one of {KINDS}, got {kind!r}")
        role = entry.get("role")
        if kind == "person":
            if role not in ROLES:
                rep.error(f"{where}: person role must be one of {ROLES}, got {role!r}")
            else:
                stats["roles"][role] += 1
        elif role is not None:
            rep.error(f"{where}: only persons have a role")
        country = entry.get("country")
        if country is not None and (
                not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country)
                or pycountry.countries.get(alpha_2=country) is None):
            rep.error(f"{where}: country {country!r} is not an ISO 3166-1 alpha-2 code")
        aliases = entry.get("aliases")
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            rep.error(f"{where}: aliases must be a list of strings")
            aliases = []
        exact = entry.get("aliases_exact", [])
        if not isinstance(exact, list) or not all(isinstance(a, str) for a in exact):
            rep.error(f"{where}: aliases_exact must be a list of strings")
            exact = []
        for a in exact:
            if fold(a) == fold_exact(a) and a != name:
                rep.warn(f"{where}: aliases_exact {a!r} is lower-case; a plain alias would do")

        key = fold(name)
        if key in names:
            rep.error(f"{where}: canonical name duplicates {names[key]!r}")
            continue
        names[key] = name
        stats["kinds"][kind] += 1
        stats["aliases"] += len(aliases) + len(exact)
        stats["by_name"][name] = kind
        valid.append((where, name, kind, aliases, exact))

    # Ownership: canonical names first, so an alias equal to another entry's name is caught.
    for _where, name, _kind, _aliases, _exact in valid:
        owner[fold(name)] = name
    for where, name, kind, aliases, exact in valid:
        seen: set[str] = {fold(name)}
        for alias in [*aliases, *exact]:
            if not alias.strip() or alias != alias.strip() or "  " in alias:
                rep.error(f"{where}: alias {alias!r} is empty or has stray whitespace")
                continue
            if alias in exact and fold_exact(alias) == fold_exact(name):
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
            if kind == "location" and key in DEMONYMS:
                rep.error(f"{where}: {alias!r} is a demonym, not a place alias")
        if kind == "person":
            for full in [name, *aliases]:
                tokens = fold(full).split()
                if len(tokens) > 1:
                    surnames[tokens[-1]].add(name)
            for alias in aliases:
                tokens = fold(alias).split()
                if len(tokens) == 1:
                    bare_aliases.append((name, tokens[0]))
    for person, token in bare_aliases:
        others = surnames.get(token, set()) - {person}
        if others:
            rep.error(f"actors[{person}]: bare surname alias {token!r} is ambiguous with "
                      f"{', '.join(sorted(others))}")
    return stats


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taxonomy", type=Path, default=HERE / "taxonomy.yaml")
    ap.add_argument("--actors", type=Path, default=HERE / "actors.yaml")
    ap.add_argument("-q", "--quiet", action="store_true", help="do not list warnings")
    args = ap.parse_args(argv)

    rep = Report()
    tax = load_yaml(args.taxonomy, rep)
    act = load_yaml(args.actors, rep)
    tstats = check_taxonomy(tax, rep) if tax is not None else None
    astats = check_actors(act, rep) if act is not None else None

    if tstats and astats:
        pointed: dict[tuple[str, str], list[str]] = defaultdict(list)
        for where, ref_key, name, want, conflict in tstats["refs"]:
            kind = astats["by_name"].get(name)
            if kind is None:
                rep.error(f"{where}.{ref_key}: {name!r} is not a canonical name in actors.yaml")
            elif want == "location" and kind != "location":
                rep.error(f"{where}.{ref_key}: {name!r} is a {kind}, expected a location")
            elif want != "location" and kind == "location":
                rep.error(f"{where}.{ref_key}: {name!r} is a location; put it under places")
            pointed[(ref_key, name)].append(conflict)
        for (ref_key, name), conflicts in sorted(pointed.items()):
            if len(conflicts) > 1:
                rep.warn(f"{ref_key} {name!r} points to several conflicts: {conflicts}")
        if tstats["version"] and astats["version"] and tstats["version"] != astats["version"]:
            rep.warn(f"versions differ: taxonomy {tstats['version']} / actors {astats['version']}")

    if tstats:
        print(f"taxonomy.yaml  version {tstats['version']}: {tstats['topics']} topics, "
              f"{tstats['conflicts']} conflicts")
        print(f"  patterns per language  {'ceasefire':>9} {'topics':>7} {'conflicts':>9} {'total':>6}")
        for lang in LANGUAGES:
            c = [tstats["patterns"][s][lang] for s in ("ceasefire_terms", "topics", "conflicts")]
            print(f"    {lang:<20} {c[0]:>9} {c[1]:>7} {c[2]:>9} {sum(c):>6}")
        total = sum(sum(tstats["patterns"][s].values()) for s in tstats["patterns"])
        print(f"    {'all':<20} {'':>9} {'':>7} {'':>9} {total:>6}")
    if astats:
        kinds = ", ".join(f"{k}: {astats['kinds'][k]}" for k in KINDS)
        print(f"actors.yaml    version {astats['version']}: "
              f"{sum(astats['kinds'].values())} entries ({kinds}), {astats['aliases']} aliases")
        roles = ", ".join(f"{r}: {astats['roles'][r]}" for r in ROLES if astats["roles"][r])
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
