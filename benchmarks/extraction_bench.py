"""Extraction quality benchmark: main-body precision/recall/F1 of `extract_html` on real news pages.

    .venv/bin/python -m benchmarks.extraction_bench            # per-page table, averages, throughput
    .venv/bin/python -m benchmarks.extraction_bench --json     # summary as JSON

The corpus (benchmarks/extraction_corpus/) holds raw pages with hand-checked ground-truth body
text; see its ATTRIBUTION.md. Texts are compared as sets of lower-cased 4-token shingles
(`\\w+` tokens), so paragraph breaks and punctuation do not count, but missing, extra or
duplicated-out-of-order passages do. Micro averages pool the shingle counts of all pages (long
articles weigh more); macro averages are the means of the per-page figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tasks.extract.html import ExtractionError, extract_html

CORPUS = Path(__file__).resolve().parent / "extraction_corpus"
SHINGLE = 4
_TOKEN_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    id: str
    url: str | None
    outlet: str
    language: str
    html: bytes
    truth: str


@dataclass(frozen=True)
class PageResult:
    id: str
    language: str
    precision: float
    recall: float
    f1: float
    overlap: int  # shingles shared by extraction and truth
    extracted: int  # distinct shingles in the extraction
    truth: int  # distinct shingles in the truth
    error: str | None = None


def shingles(text: str) -> set[tuple[str, ...]]:
    """Distinct lower-cased 4-token shingles; a text under 4 tokens gives its single tokens."""
    tokens = _TOKEN_RE.findall(text.lower())
    if len(tokens) < SHINGLE:
        return {(t,) for t in tokens}
    return {tuple(tokens[i:i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


def _prf(overlap: int, n_extracted: int, n_truth: int) -> tuple[float, float, float]:
    precision = overlap / n_extracted if n_extracted else 0.0
    recall = overlap / n_truth if n_truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _counts(extracted: str, truth: str) -> tuple[int, int, int]:
    ext, ref = shingles(extracted), shingles(truth)
    return len(ext & ref), len(ext), len(ref)


def score(extracted: str, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of an extracted body against the ground truth, by shingle overlap."""
    return _prf(*_counts(extracted, truth))


def load_corpus(root: Path = CORPUS) -> list[Page]:
    """Every page of the manifest, with its raw HTML bytes and ground-truth text."""
    pages = []
    with open(root / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            pages.append(Page(
                id=row["id"], url=row.get("url"), outlet=row["outlet"], language=row["language"],
                html=(root / "pages" / f"{row['id']}.html").read_bytes(),
                truth=(root / "truth" / f"{row['id']}.txt").read_text(encoding="utf-8"),
            ))
    return pages


Extractor = Callable[[bytes, str | None], str]


def body_of(html: bytes, url: str | None) -> str:
    """The default extractor under test: the body of `tasks.extract.extract_html`."""
    return extract_html(html, url).body


def evaluate(pages: list[Page], extractor: Extractor = body_of) -> list[PageResult]:
    """Per-page scores; an ExtractionError scores zero and is reported in `error`."""
    results = []
    for page in pages:
        n_truth = len(shingles(page.truth))
        try:
            text = extractor(page.html, page.url)
        except ExtractionError as exc:
            results.append(PageResult(page.id, page.language, 0.0, 0.0, 0.0, 0, 0, n_truth, str(exc)))
            continue
        overlap, n_ext, n_truth = _counts(text, page.truth)
        results.append(PageResult(page.id, page.language, *_prf(overlap, n_ext, n_truth),
                                  overlap, n_ext, n_truth))
    return results


def summarize(results: list[PageResult]) -> dict[str, dict[str, float]]:
    """Micro (pooled shingle counts) and macro (mean of pages) precision, recall and F1."""
    micro = _prf(sum(r.overlap for r in results), sum(r.extracted for r in results),
                 sum(r.truth for r in results))
    n = len(results) or 1
    macro_p = sum(r.precision for r in results) / n
    macro_r = sum(r.recall for r in results) / n
    macro = (macro_p, macro_r, sum(r.f1 for r in results) / n)
    keys = ("precision", "recall", "f1")
    return {"micro": dict(zip(keys, micro, strict=True)), "macro": dict(zip(keys, macro, strict=True))}


def throughput(pages: list[Page], extractor: Extractor = body_of, runs: int = 3) -> dict[str, float]:
    """Pages/s and MB/s (HTML bytes, 10^6) of extraction alone: best of `runs` timed loops."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for page in pages:
            with contextlib.suppress(ExtractionError):
                extractor(page.html, page.url)
        best = min(best, time.perf_counter() - start)
    megabytes = sum(len(p.html) for p in pages) / 1e6
    return {"seconds": best, "pages_per_s": len(pages) / best, "mb_per_s": megabytes / best,
            "pages": len(pages), "mb": megabytes}


def _print_table(results: list[PageResult], summary: dict[str, dict[str, float]],
                 speed: dict[str, float]) -> None:
    width = max(len(r.id) for r in results)
    print(f"{'page':<{width}}  lang      P      R     F1  error")
    for r in results:
        print(f"{r.id:<{width}}  {r.language:<4}  {r.precision:5.3f}  {r.recall:5.3f}  {r.f1:5.3f}"
              f"  {r.error or ''}")
    print()
    for name in ("micro", "macro"):
        s = summary[name]
        print(f"{name:<6} P={s['precision']:.3f}  R={s['recall']:.3f}  F1={s['f1']:.3f}")
    print(f"throughput: {speed['pages_per_s']:.1f} pages/s, {speed['mb_per_s']:.2f} MB/s "
          f"({speed['pages']} pages, {speed['mb']:.1f} MB, best of 3: {speed['seconds']:.2f} s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--runs", type=int, default=3, help="timed runs for throughput (best is kept)")
    args = parser.parse_args(argv)
    pages = load_corpus()
    results = evaluate(pages)
    summary = summarize(results)
    speed = throughput(pages, runs=args.runs)
    if args.json:
        worst = sorted(results, key=lambda r: r.f1)[:5]
        print(json.dumps({
            "pages": len(results),
            "languages": sorted({r.language for r in results}),
            **summary,
            "errors": {r.id: r.error for r in results if r.error},
            "worst": [{"id": r.id, "precision": r.precision, "recall": r.recall, "f1": r.f1}
                      for r in worst],
            "throughput": speed,
        }, indent=2))
    else:
        _print_table(results, summary, speed)


if __name__ == "__main__":
    main()
