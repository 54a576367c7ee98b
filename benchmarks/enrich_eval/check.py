"""Validate the enrichment evaluation set.

    .venv/bin/python benchmarks/enrich_eval/check.py [articles.jsonl]

Checks every line of articles.jsonl (JSON object, required keys and types, languages, word and
paragraph counts of the written articles, the two samples against examples/, labels from the
closed lists, entity names listed in NAMES.md under the right kind, coverage per language and
per conflict) and prints the counts. Exit status 1 when a check fails.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTICLES = HERE / "articles.jsonl"
NAMES = HERE / "NAMES.md"

TOPICS = (
    "full-ceasefire", "partial-ceasefire", "energy-infrastructure-ceasefire", "maritime-ceasefire",
    "humanitarian-pause", "talks-and-mediation", "prisoner-exchange", "ceasefire-violations",
    "air-defence", "security-guarantees", "territorial-questions", "humanitarian-aid",
    "sanctions-and-economy",
)
CONFLICTS = (
    "russia-ukraine", "israel-gaza", "israel-lebanon", "israel-iran", "sudan", "drc-m23",
    "yemen-red-sea", "armenia-azerbaijan", "india-pakistan", "thailand-cambodia", "syria",
)
ENTITY_KINDS = ("persons", "organizations", "groups", "locations")
GOLD_KEYS = {*ENTITY_KINDS, "topics", "conflicts", "about_ceasefire"}
ROW_KEYS = {"id", "language", "title", "body", "gold"}
# minimum number of written articles (the two samples not counted) per language
MIN_PER_LANGUAGE = {"en": 14, "fr": 6, "de": 6, "es": 6, "ru": 6, "uk": 4, "ar": 6}
MIN_WRITTEN = 48
MIN_NEGATIVES = 4
MIN_PER_CONFLICT = 2
WORDS = (120, 260)
PARAGRAPHS = (3, 6)
SAMPLES = {
    "sample-lbc": ROOT / "examples" / "lbc-zelenskyy-trump-call.txt",
    "sample-ians": ROOT / "examples" / "ians-zelensky-trump-second-call.txt",
}
CRUFT = ("Listen to this article", "Loading audio", "Open in app", "Disclaimer:",
         "auto-published", "by Jacob Paul", "By IANS", "Updated:")
KIND_HEADINGS = {"persons": "Persons", "organizations": "Organizations", "groups": "Groups",
                 "locations": "Locations"}

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
UK_ONLY = re.compile(r"[іїєґІЇЄҐ]")
RU_ONLY = re.compile(r"[ыэъЫЭЪ]")


def load_names(path: Path = NAMES) -> dict[str, str]:
    """Canonical name -> kind, from the `## <Kind>` sections of NAMES.md (`- Name — forms`)."""
    names: dict[str, str] = {}
    kind = None
    by_heading = {v: k for k, v in KIND_HEADINGS.items()}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            kind = by_heading.get(line[3:].split(" (")[0].strip())
        elif kind and line.startswith("- "):
            name = line[2:].split(" — ")[0].strip()
            if name in names:
                raise ValueError(f"NAMES.md lists {name!r} twice")
            names[name] = kind
    return names


def script_share(text: str, pattern: re.Pattern[str]) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if pattern.match(c)) / max(len(letters), 1)


def _squeeze(text: str) -> str:
    """The text without any whitespace (the cleaner may split glued paragraphs)."""
    return "".join(text.split())


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def string_list(self, where: str, value: object, allowed: tuple[str, ...] | None = None) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(where, "must be a list of non-empty strings")
            return []
        if len(set(value)) != len(value):
            self.fail(where, f"duplicates {sorted(k for k, n in Counter(value).items() if n > 1)}")
        if allowed is not None:
            for v in value:
                if v not in allowed:
                    self.fail(where, f"{v!r} is not in the closed list")
        for v in value:
            if v != v.strip() or "  " in v:
                self.fail(where, f"{v!r} has stray whitespace")
        return value

    def row(self, row: dict, names: dict[str, str]) -> None:
        rid = row.get("id", "?")
        if set(row) != ROW_KEYS:
            self.fail(rid, f"keys {sorted(row)} != {sorted(ROW_KEYS)}")
            return
        for key in ("id", "language", "title", "body"):
            if not isinstance(row[key], str) or not row[key].strip():
                self.fail(rid, f"{key} must be a non-empty string")
                return
        lang, title, body = row["language"], row["title"], row["body"]
        if lang not in MIN_PER_LANGUAGE:
            self.fail(rid, f"language {lang!r} not one of {sorted(MIN_PER_LANGUAGE)}")
        if "\n" in title:
            self.fail(rid, "title spans several lines")
        if "[[" in body + title or "]]" in body + title:
            self.fail(rid, "markup left in the text")
        paragraphs = body.split("\n\n")
        if any(not p.strip() or "\n" in p or p != p.strip() for p in paragraphs):
            self.fail(rid, "paragraphs must be separated by exactly one blank line")
        if rid in SAMPLES:
            self.sample(rid, title, paragraphs)
        else:
            words = len(body.split())
            if not WORDS[0] <= words <= WORDS[1]:
                self.fail(rid, f"{words} words, want {WORDS[0]}-{WORDS[1]}")
            if not PARAGRAPHS[0] <= len(paragraphs) <= PARAGRAPHS[1]:
                self.fail(rid, f"{len(paragraphs)} paragraphs, want {PARAGRAPHS[0]}-{PARAGRAPHS[1]}")
        self.script(rid, lang, title + " " + body)
        self.gold(rid, row["gold"], names)

    def sample(self, rid: str, title: str, paragraphs: list[str]) -> None:
        source = SAMPLES[rid]
        if not source.exists():
            self.fail(rid, f"{source} is missing")
            return
        raw = source.read_text(encoding="utf-8")
        if title != raw.splitlines()[0].strip():
            self.fail(rid, "title is not the first line of the example file")
        text = _squeeze(raw)
        for p in paragraphs:
            if _squeeze(p) not in text:
                self.fail(rid, f"paragraph not in {source.name}: {p[:60]!r}")
        for cruft in CRUFT:
            if cruft.lower() in " ".join(paragraphs).lower():
                self.fail(rid, f"cruft {cruft!r} left in the body")

    def script(self, rid: str, lang: str, text: str) -> None:
        if lang in ("ru", "uk"):
            if script_share(text, CYRILLIC) < 0.8:
                self.fail(rid, "a Russian/Ukrainian article should be mostly Cyrillic")
            if lang == "uk" and not UK_ONLY.search(text):
                self.fail(rid, "Ukrainian article without і/ї/є/ґ")
            if lang == "uk" and RU_ONLY.search(text):
                self.fail(rid, "Ukrainian article with ы/э/ъ")
            if lang == "ru" and UK_ONLY.search(text):
                self.fail(rid, "Russian article with і/ї/є/ґ")
        elif lang == "ar":
            if script_share(text, ARABIC) < 0.8:
                self.fail(rid, "an Arabic article should be mostly Arabic script")
        elif script_share(text, LATIN) < 0.95:
            self.fail(rid, "a Latin-script article should be mostly Latin letters")

    def gold(self, rid: str, gold: object, names: dict[str, str]) -> None:
        if not isinstance(gold, dict) or set(gold) != GOLD_KEYS:
            self.fail(rid, f"gold keys must be {sorted(GOLD_KEYS)}")
            return
        for kind in ENTITY_KINDS:
            for name in self.string_list(f"{rid} {kind}", gold[kind]):
                listed = names.get(name)
                if listed is None:
                    self.fail(rid, f"{kind}: {name!r} is not listed in NAMES.md")
                elif listed != kind:
                    self.fail(rid, f"{kind}: {name!r} is listed in NAMES.md as {listed}")
        topics = self.string_list(f"{rid} topics", gold["topics"], TOPICS)
        conflicts = self.string_list(f"{rid} conflicts", gold["conflicts"], CONFLICTS)
        about = gold["about_ceasefire"]
        if not isinstance(about, bool):
            self.fail(rid, "about_ceasefire must be true or false")
        if about is True and not conflicts:
            self.fail(rid, "about_ceasefire without a conflict")
        if not conflicts and (topics or about):
            self.fail(rid, "an article about no conflict has no topics and is not about a ceasefire")


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ARTICLES
    check = Checker()
    try:
        names = load_names()
    except (OSError, ValueError) as exc:
        print(f"NAMES.md: {exc}")
        return 1
    rows: list[dict] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            check.fail(f"line {number}", "empty line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            check.fail(f"line {number}", f"not JSON: {exc}")
            continue
        if not isinstance(row, dict):
            check.fail(f"line {number}", "not a JSON object")
            continue
        rows.append(row)
        check.row(row, names)

    ids = [r.get("id") for r in rows]
    for dup in sorted(k for k, n in Counter(ids).items() if n > 1):
        check.fail(dup, "duplicate id")
    if ids[:2] != list(SAMPLES):
        check.fail("file", f"the first two ids must be {list(SAMPLES)}, got {ids[:2]}")
    written = [r for r in rows if r.get("id") not in SAMPLES]
    per_language = Counter(r.get("language") for r in written)
    for lang, minimum in MIN_PER_LANGUAGE.items():
        if per_language[lang] < minimum:
            check.fail("file", f"{per_language[lang]} written {lang} articles, want >= {minimum}")
    if len(written) < MIN_WRITTEN:
        check.fail("file", f"{len(written)} written articles, want >= {MIN_WRITTEN}")
    golds = [r["gold"] for r in rows if isinstance(r.get("gold"), dict) and set(r["gold"]) == GOLD_KEYS]
    per_conflict = Counter(c for g in golds for c in g["conflicts"] if isinstance(g["conflicts"], list))
    for conflict in CONFLICTS:
        if per_conflict[conflict] < MIN_PER_CONFLICT:
            check.fail("file", f"{per_conflict[conflict]} articles about {conflict}, "
                               f"want >= {MIN_PER_CONFLICT}")
    negatives = sum(1 for g in golds if not g["conflicts"])
    if negatives < MIN_NEGATIVES:
        check.fail("file", f"{negatives} negative articles, want >= {MIN_NEGATIVES}")
    used = {n for g in golds for k in ENTITY_KINDS for n in g[k] if isinstance(g[k], list)}
    unused = sorted(set(names) - used)
    if unused:
        check.fail("NAMES.md", f"lists names no article uses: {unused}")

    per_topic = Counter(t for g in golds for t in g["topics"] if isinstance(g["topics"], list))
    entities = Counter(k for g in golds for k in ENTITY_KINDS for _ in g[k])
    print(f"articles: {len(rows)} ({len(written)} written + {len(rows) - len(written)} samples)")
    print("languages (all):    ", dict(Counter(r.get("language") for r in rows)))
    print("languages (written):", dict(per_language))
    print("conflicts:", dict(sorted(per_conflict.items())), f"negatives: {negatives}")
    print("topics:   ", dict(sorted(per_topic.items())))
    print("about_ceasefire:", dict(Counter(g["about_ceasefire"] for g in golds)))
    print("entity mentions:", dict(entities), "distinct names:",
          {k: sum(1 for v in names.values() if v == k) for k in ENTITY_KINDS})
    if check.errors:
        print(f"\n{len(check.errors)} problem(s):")
        for error in check.errors:
            print("  " + error)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
