"""The extraction benchmark: corpus manifest consistency and the shingle scoring (no extraction run)."""

from __future__ import annotations

import gzip
import json

import pytest

from benchmarks.extraction_bench import (
    CORPUS,
    FUNDUS_DIR,
    FUNDUS_ENV,
    PageResult,
    fundus_dir,
    load_corpus,
    load_fundus,
    main,
    score,
    shingles,
    speed_ratio,
    summarize,
)

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


# --- the fundus-evaluation set and the speed comparison ----------------------------------------

def test_fundus_dir_override_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv(FUNDUS_ENV, raising=False)
    assert fundus_dir() == FUNDUS_DIR
    monkeypatch.setenv(FUNDUS_ENV, str(tmp_path))
    assert fundus_dir() == tmp_path
    assert fundus_dir(tmp_path / "x") == tmp_path / "x"  # the argument wins


def test_missing_fundus_set_is_skipped_with_a_message(tmp_path, capsys):
    with pytest.raises(FileNotFoundError):
        load_fundus(tmp_path)
    main(["--corpus", "fundus", "--fundus-dir", str(tmp_path), "--rounds", "0"])
    err = capsys.readouterr().err
    assert "fundus corpus skipped" in err and str(tmp_path) in err


def test_load_fundus_reads_a_set_in_its_layout(tmp_path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "Paper_0.html.gz").write_bytes(gzip.compress(b"<html><p>x</p></html>"))
    (tmp_path / "ground_truth.json").write_text(json.dumps({"Paper_0.html.gz": {
        "body": ["First paragraph.", "Second."], "url": "https://p.example/a",
        "crawl_date": "2024-03-02 10:00:00"}}))
    [page] = load_fundus(tmp_path)
    assert (page.id, page.outlet, page.language, page.url) == ("Paper_0", "Paper", "en",
                                                               "https://p.example/a")
    assert page.html == b"<html><p>x</p></html>"
    assert page.truth == "First paragraph.\n\nSecond."


@pytest.mark.skipif(not (fundus_dir() / "ground_truth.json").is_file(),
                    reason="fundus-evaluation set not present")
def test_the_fundus_set_when_present():
    pages = load_fundus()
    assert len(pages) == 80
    assert len({p.outlet for p in pages}) == 16
    assert all(p.html.lstrip()[:1] == b"<" and len(p.truth) >= 200 for p in pages)


def test_speed_ratio_interleaves_both_extractors(capsys):
    pages = load_corpus()[:2]
    calls: list[str] = []
    speed = speed_ratio(pages, rounds=3, ours=lambda html, url: calls.append("ours") or "",
                        reference=lambda html, url: calls.append("ref") or "")
    assert speed["rounds"] == 3
    assert speed["ratio_min"] <= speed["ratio_median"] <= speed["ratio_max"]
    # 2 warm-up pages each, then 3 rounds of 2 pages each, in alternating order
    assert calls.count("ours") == calls.count("ref") == 2 + 3 * 2
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in printed] == ["ours:", "trafilatura.extract", "trafilatura.extract",
                                                     "ours:", "ours:", "trafilatura.extract"]
