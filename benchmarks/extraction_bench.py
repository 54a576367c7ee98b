"""Extraction quality benchmark: main-body precision/recall/F1 of `extract_html` on real news pages.

    .venv/bin/python -m benchmarks.extraction_bench                  # project corpus: table, speed
    .venv/bin/python -m benchmarks.extraction_bench --corpus all     # project corpus and fundus
    .venv/bin/python -m benchmarks.extraction_bench --corpus fundus --fundus-dir PATH --rounds 7
    .venv/bin/python -m benchmarks.extraction_bench --json           # summaries as JSON

Each corpus is scored twice: `extract_html` (ours) and plain `trafilatura.extract(html)` with
its default options. Speed is the two run over the same pages, interleaved and alternating in
order round by round (benchmarks.interleave), reported as the median of the per-round ratios
ours / trafilatura of seconds per corpus (below 1: ours is faster); absolute rates on a shared
machine are noise, the ratio within one run is not.

The project corpus (benchmarks/extraction_corpus/) holds raw pages with hand-checked
ground-truth body text; see its ATTRIBUTION.md. The fundus corpus is the evaluation set of the
Fundus news scraper (Dallabetta et al., "Fundus: A Simple-to-Use News Scraper Optimized for
High Quality Extractions", ACL 2024 demos; github.com/dobbersc/fundus-evaluation, MIT License;
the pages belong to their publishers): 80 English pages from 16 publishers, read in place from
../shared/datasets/fundus-evaluation next to the repository (`--fundus-dir` or
$CEASEFIRE_FUNDUS_DIR override it), gzipped HTML under html/ and ground_truth.json (file name ->
`body` paragraphs, `url`); absent, it is skipped with a message.

Texts are compared as sets of lower-cased 4-token shingles (`\\w+` tokens), so paragraph
breaks and punctuation do not count, but missing, extra or duplicated-out-of-order passages do.
Micro averages pool the shingle counts of all pages (long articles weigh more); macro averages
are the means of the per-page figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.interleave import interleaved
from tasks.extract.html import ExtractionError, extract_html

CORPUS = Path(__file__).resolve().parent / "extraction_corpus"
FUNDUS_ENV = "CEASEFIRE_FUNDUS_DIR"
FUNDUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fundus-evaluation"
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


def fundus_dir(override: str | Path | None = None) -> Path:
    """Where the fundus set is: `override`, else $CEASEFIRE_FUNDUS_DIR, else FUNDUS_DIR."""
    return Path(override or os.environ.get(FUNDUS_ENV) or FUNDUS_DIR)


def load_fundus(root: Path | None = None) -> list[Page]:
    """The fundus-evaluation pages (`<Publisher>_<n>.html.gz`) with their ground-truth bodies
    (paragraphs joined by blank lines); FileNotFoundError when the set is not at `root`."""
    root = fundus_dir(root)
    truth_file = root / "ground_truth.json"
    if not truth_file.is_file():
        raise FileNotFoundError(f"no fundus-evaluation set at {root} (no ground_truth.json)")
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    pages = []
    for name in sorted(truth):
        row = truth[name]
        page_id = name.removesuffix(".gz").removesuffix(".html")
        pages.append(Page(
            id=page_id, url=row.get("url"), outlet=page_id.rsplit("_", 1)[0], language="en",
            html=gzip.decompress((root / "html" / name).read_bytes()),
            truth="\n\n".join(row["body"]),
        ))
    return pages


Extractor = Callable[[bytes, str | None], str]


def body_of(html: bytes, url: str | None) -> str:
    """The default extractor under test: the body of `tasks.extract.extract_html`."""
    return extract_html(html, url).body


def trafilatura_body(html: bytes, url: str | None = None) -> str:
    """The reference: plain `trafilatura.extract(html)` with its default options."""
    import trafilatura

    return trafilatura.extract(html) or ""


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


def _timed_pass(pages: list[Page], extractor: Extractor) -> dict[str, float]:
    start = time.perf_counter()
    for page in pages:
        with contextlib.suppress(ExtractionError):
            extractor(page.html, page.url)
    return {"created": len(pages), "seconds": time.perf_counter() - start}


def speed_ratio(pages: list[Page], rounds: int = 5, ours: Extractor = body_of,
                reference: Extractor = trafilatura_body) -> dict[str, float]:
    """Seconds of `ours` over seconds of `reference` on the same pages, interleaved and
    alternating in order round by round: the median of the per-round ratios (below 1: ours
    is faster), with its range."""
    times: dict[str, list[float]] = {"ours": [], "trafilatura": []}

    def run(label: str, extractor: Extractor) -> Callable[[], dict[str, float]]:
        def timed() -> dict[str, float]:
            r = _timed_pass(pages, extractor)
            times[label].append(r["seconds"])
            return r
        return timed

    _timed_pass(pages[:2], ours)  # imports and first-call setup out of the timing
    _timed_pass(pages[:2], reference)
    interleaved([("ours: extract_html", run("ours", ours)),
                 ("trafilatura.extract (defaults)", run("trafilatura", reference))], rounds)
    ratios = [a / b for a, b in zip(times["ours"], times["trafilatura"], strict=True)]
    return {"rounds": rounds, "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios),
            "ours_s_median": statistics.median(times["ours"]),
            "trafilatura_s_median": statistics.median(times["trafilatura"])}


def _print_table(results: list[PageResult], reference: list[PageResult]) -> None:
    width = max(len(r.id) for r in results)
    print(f"{'page':<{width}}  lang      P      R     F1  traf.F1  error")
    for r, t in zip(results, reference, strict=True):
        print(f"{r.id:<{width}}  {r.language:<4}  {r.precision:5.3f}  {r.recall:5.3f}  {r.f1:5.3f}"
              f"  {t.f1:7.3f}  {r.error or ''}")
    print()


def _print_summary(name: str, summary: dict[str, dict[str, float]]) -> None:
    for kind in ("micro", "macro"):
        s = summary[kind]
        print(f"{name:<12} {kind:<6} P={s['precision']:.3f}  R={s['recall']:.3f}  F1={s['f1']:.3f}")


def _corpora(which: str, fundus: str | None) -> list[tuple[str, list[Page]]]:
    out = []
    if which in ("project", "all"):
        out.append(("project", load_corpus()))
    if which in ("fundus", "all"):
        try:
            out.append(("fundus", load_fundus(fundus_dir(fundus))))
        except FileNotFoundError as exc:
            print(f"fundus corpus skipped: {exc}; pass --fundus-dir or set ${FUNDUS_ENV}",
                  file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("project", "fundus", "all"), default="project",
                        help="which pages to score (default: the project corpus)")
    parser.add_argument("--fundus-dir", default=None,
                        help=f"the fundus-evaluation set (default: ${FUNDUS_ENV} or {FUNDUS_DIR})")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved speed rounds (median kept; 0: no speed comparison)")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-page table")
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    for name, pages in _corpora(args.corpus, args.fundus_dir):
        results = evaluate(pages)
        reference = evaluate(pages, trafilatura_body)
        summary, ref_summary = summarize(results), summarize(reference)
        speed = speed_ratio(pages, args.rounds) if args.rounds > 0 else None
        worst = sorted(results, key=lambda r: r.f1)[:5]
        report[name] = {
            "pages": len(results),
            "languages": sorted({r.language for r in results}),
            **summary,
            "trafilatura": ref_summary,
            "errors": {r.id: r.error for r in results if r.error},
            "worst": [{"id": r.id, "precision": r.precision, "recall": r.recall, "f1": r.f1}
                      for r in worst],
            "speed": speed,
        }
        if not args.json:
            if not args.quiet:
                _print_table(results, reference)
            print(f"== {name}: {len(pages)} pages")
            _print_summary("extract_html", summary)
            _print_summary("trafilatura", ref_summary)
            if speed:
                print(f"speed: extract_html / trafilatura.extract seconds = "
                      f"{speed['ratio_median']:.2f} (median of {speed['rounds']} interleaved "
                      f"rounds; range {speed['ratio_min']:.2f}-{speed['ratio_max']:.2f})")
            print()
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
