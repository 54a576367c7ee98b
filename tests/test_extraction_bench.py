"""The extraction benchmark: corpus manifest consistency and the shingle scoring (no extraction run)."""

from __future__ import annotations

import json

import pytest

from benchmarks.extraction_bench import CORPUS, PageResult, load_corpus, score, shingles, summarize

MANIFEST_FIELDS = {"id", "url", "outlet", "language", "source_package", "license", "notes"}


def _manifest() -> list[dict]:
    with open(CORPUS / "manifest.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_manifest_is_consistent_with_pages_and_truth():
    rows = _manifest()
    ids = [row["id"] for row in rows]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids), "duplicate ids"
    for row in rows:
        assert row.keys() >= MANIFEST_FIELDS, row["id"]
        assert len(row["language"]) == 2 and row["language"].islower(), row["id"]
        assert (CORPUS / "pages" / f"{row['id']}.html").is_file(), row["id"]
        truth = CORPUS / "truth" / f"{row['id']}.txt"
        assert truth.is_file(), row["id"]
        assert len(truth.read_text(encoding="utf-8").strip()) >= 200, row["id"]
    # Nothing on disk that the manifest does not list.
    assert {p.stem for p in (CORPUS / "pages").glob("*.html")} == set(ids)
    assert {p.stem for p in (CORPUS / "truth").glob("*.txt")} == set(ids)
    assert (CORPUS / "ATTRIBUTION.md").is_file()


def test_corpus_is_varied():
    rows = _manifest()
    assert len({row["language"] for row in rows}) >= 3
    assert len({row["outlet"] for row in rows}) >= 20


def test_load_corpus_reads_every_page():
    pages = load_corpus()
    assert len(pages) == len(_manifest())
    assert all(page.html and page.truth.strip() for page in pages)


def test_shingles():
    assert shingles("One two, THREE four five") == {("one", "two", "three", "four"),
                                                    ("two", "three", "four", "five")}
    assert shingles("just three words") == {("just",), ("three",), ("words",)}
    assert shingles("") == set()


def test_identical_texts_score_one():
    text = "The ceasefire took effect at midnight.\n\nBoth sides reported calm on the border."
    assert score(text, text) == (1.0, 1.0, 1.0)
    # Paragraph breaks, case and punctuation do not matter.
    assert score(text.upper().replace("\n\n", " "), text) == (1.0, 1.0, 1.0)


def test_disjoint_texts_score_zero():
    assert score("alpha beta gamma delta epsilon", "one two three four five") == (0.0, 0.0, 0.0)
    assert score("", "one two three four five") == (0.0, 0.0, 0.0)
    assert score("one two three four five", "") == (0.0, 0.0, 0.0)


def test_partial_overlap():
    truth = "a b c d e f"  # shingles abcd bcde cdef
    extracted = "a b c d e x y"  # shingles abcd bcde cdex dexy
    p, r, f1 = score(extracted, truth)
    assert p == pytest.approx(2 / 4)
    assert r == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))


def test_summarize_micro_pools_counts_and_macro_averages_pages():
    results = [PageResult("a", "en", 1.0, 0.5, 2 / 3, overlap=10, extracted=10, truth=20),
               PageResult("b", "en", 0.0, 0.0, 0.0, overlap=0, extracted=0, truth=80, error="x")]
    summary = summarize(results)
    assert summary["micro"]["precision"] == pytest.approx(1.0)
    assert summary["micro"]["recall"] == pytest.approx(10 / 100)
    assert summary["macro"]["precision"] == pytest.approx(0.5)
    assert summary["macro"]["recall"] == pytest.approx(0.25)
    assert summary["macro"]["f1"] == pytest.approx(1 / 3)
