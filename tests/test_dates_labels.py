"""The labelled publication dates of benchmarks/date_labels.jsonl and the dates benchmark."""

from __future__ import annotations

from datetime import date, datetime

from benchmarks.dates_bench import evaluate, load_labels
from benchmarks.extraction_bench import load_corpus


def test_labels_are_well_formed_and_cover_the_project_corpus():
    labels = load_labels()
    ids = [label.id for label in labels]
    assert len(ids) == len(set(ids))
    project = {p.id for p in load_corpus()}
    assert {label.id for label in labels if label.corpus == "project"} == project
    assert {label.corpus for label in labels} == {"project", "fundus"}
    for label in labels:
        assert label.how.strip(), label.id
        if label.published is None:
            continue
        if "T" in label.published:
            assert datetime.fromisoformat(label.published).tzinfo is not None, label.id
        else:
            date.fromisoformat(label.published)


def test_our_dates_are_at_least_as_right_as_trafilaturas_on_the_project_pages():
    result = evaluate(load_corpus(), [label for label in load_labels() if label.corpus == "project"])
    assert result["pages"] >= 60
    assert result["ours_day"] >= result["trafilatura_day"]
    assert result["ours_instant"] <= result["timed_labels"]
