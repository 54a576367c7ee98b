"""Publication dates: `extract_html`'s against plain trafilatura's, on hand-labelled pages.

    .venv/bin/python -m benchmarks.dates_bench              # summary and every page either gets wrong
    .venv/bin/python -m benchmarks.dates_bench --json

The labels (benchmarks/date_labels.jsonl) cover the pages of benchmarks/extraction_corpus and of
the fundus-evaluation set (see benchmarks.extraction_bench; its pages are skipped when the set
is absent). One row per page: `published` is the publication time with the publisher's own
offset where the page establishes it, else the day the page prints (`YYYY-MM-DD`), or null for
a page that states no date (not scored); `how` records how the label was established: which of
the page's own declarations agree (JSON-LD datePublished of the article node, publication meta
tags, itemprop/<time>), what the visible byline prints, the URL path, and why a declaration was
set aside (a modified date, a live-blog update, a related item, a wrong offset).

Scores: `day`, the predicted date read in its own offset is the labelled day (for trafilatura,
whose date is a day, its day); `instant`, for labels with a time, extract_html's timestamp lies
within a minute of it. Plain trafilatura is `trafilatura.extract_metadata(html, url).date` with
its default options.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import trafilatura

from benchmarks.extraction_bench import Page, fundus_dir, load_corpus, load_fundus
from tasks.extract.html import ExtractionError, extract_html

LABELS = Path(__file__).resolve().parent / "date_labels.jsonl"
INSTANT_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Label:
    id: str
    corpus: str
    published: str | None
    how: str

    @property
    def day(self) -> date | None:
        return date.fromisoformat(self.published[:10]) if self.published else None

    @property
    def instant(self) -> datetime | None:
        return datetime.fromisoformat(self.published) if self.published and "T" in self.published \
            else None


def load_labels(path: Path = LABELS) -> list[Label]:
    with open(path, encoding="utf-8") as fh:
        return [Label(r["id"], r["corpus"], r["published"], r["how"])
                for r in map(json.loads, fh) if r]


def ours(page: Page) -> datetime | None:
    try:
        return extract_html(page.html, page.url).published_at
    except ExtractionError:
        return None


def trafilatura_day(page: Page) -> date | None:
    meta = trafilatura.extract_metadata(page.html, page.url)
    value = meta.date if meta is not None else None
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def evaluate(pages: list[Page], labels: list[Label],
             predict: Callable[[Page], datetime | None] = ours) -> dict[str, Any]:
    """Day and instant scores of `predict` and of plain trafilatura, with the pages missed."""
    by_id = {p.id: p for p in pages}
    rows = []
    for label in labels:
        page = by_id.get(label.id)
        if page is None or label.day is None:
            continue
        got, theirs = predict(page), trafilatura_day(page)
        rows.append({
            "id": label.id, "label": label.published,
            "ours": got.isoformat() if got else None,
            "trafilatura": theirs.isoformat() if theirs else None,
            "ours_day": got is not None and got.date() == label.day,
            "trafilatura_day": theirs == label.day,
            "ours_instant": None if label.instant is None else
            got is not None and abs(got - label.instant) <= INSTANT_TOLERANCE,
        })
    timed = [r for r in rows if r["ours_instant"] is not None]
    return {
        "pages": len(rows),
        "ours_day": sum(bool(r["ours_day"]) for r in rows),
        "trafilatura_day": sum(bool(r["trafilatura_day"]) for r in rows),
        "timed_labels": len(timed),
        "ours_instant": sum(bool(r["ours_instant"]) for r in timed),
        "missed": [r for r in rows if not r["ours_day"] or not r["trafilatura_day"]
                   or r["ours_instant"] is False],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fundus-dir", default=None, help="the fundus-evaluation set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    pages = load_corpus()
    try:
        pages += load_fundus(fundus_dir(args.fundus_dir))
    except FileNotFoundError as exc:
        print(f"fundus pages skipped: {exc}")
    result = evaluate(pages, load_labels())
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'page':<24} {'label':<32} {'extract_html':<32} trafilatura")
    for r in result["missed"]:
        ours_ok = r["ours_day"] and r["ours_instant"] is not False
        print(f"{r['id']:<24} {r['label']:<32} {' ' if ours_ok else 'x'}{r['ours'] or '-':<31} "
              f"{' ' if r['trafilatura_day'] else 'x'}{r['trafilatura'] or '-'}")
    n = result["pages"]
    print(f"\n{n} labelled pages: right day  extract_html {result['ours_day']}/{n}, "
          f"trafilatura {result['trafilatura_day']}/{n}; right instant (within a minute) "
          f"extract_html {result['ours_instant']}/{result['timed_labels']}")


if __name__ == "__main__":
    main()
