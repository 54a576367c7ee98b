"""Articles read again unchanged keep their stored enrichment (no NER, no model load); any
change to what enrichment reads, or to the enrichment's versions, enriches again. Real node."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceasefire import running
from tasks.enrich.reuse import ENRICHED, reusable, split_reusable
from tasks.models import Article, Entities

ROOT = Path(__file__).resolve().parent.parent
VERSION = "en_core_web_md-3.8.0+actors-1+taxonomy-1"


def _stored() -> Article:
    return Article(title="Truce holds", body="The truce in Gaza held overnight.", id="a1",
                   url="https://example.org/a1", published_at=datetime(2025, 10, 1, tzinfo=UTC),
                   language="en", language_confidence=0.99, entities=Entities(persons=["X"]),
                   topics=["gaza-ceasefire"], relevance=0.9, enrichment_version=VERSION,
                   cluster_id="a1", fetched_at=datetime(2025, 10, 1, 6, tzinfo=UTC))


def _fresh(**changes) -> Article:
    """The same article as read again (fetched again): no enrichment, no cluster yet."""
    fresh = Article(title="Truce holds", body="The truce in Gaza held overnight.", id="a1",
                    url="https://example.org/a1", published_at=datetime(2025, 10, 1, tzinfo=UTC),
                    fetched_at=datetime(2025, 10, 2, tzinfo=UTC))
    assert all(getattr(fresh, name) in (None, [], Entities()) for name in ENRICHED)
    return dataclasses.replace(fresh, **changes)


def test_an_unchanged_article_keeps_its_enrichment():
    kept, todo = split_reusable([_fresh()], {"a1": _stored()}, VERSION)
    assert todo == [] and kept[0].entities == Entities(persons=["X"]) and kept[0].relevance == 0.9
    assert kept[0].enrichment_version == VERSION and kept[0].cluster_id is None


@pytest.mark.parametrize("changes", [
    {"body": "The truce in Gaza broke overnight."}, {"title": "Truce broken"},
    {"published_at": datetime(2025, 10, 2, tzinfo=UTC)}, {"language_hint": "fr"},
    {"source": "Other outlet"}, {"pipeline_version": "0.0.9"},
])
def test_any_change_to_what_enrichment_reads_enriches_again(changes):
    assert not reusable(_fresh(**changes), _stored(), VERSION)


def test_another_model_table_or_taxonomy_enriches_again():
    assert not reusable(_fresh(), _stored(), VERSION.replace("taxonomy-1", "taxonomy-2"))
    assert not reusable(_fresh(), None, VERSION)
    assert not reusable(_fresh(), dataclasses.replace(_stored(), enrichment_version=None), VERSION)


def _ingest_in_subprocess(paths: list[str]) -> list[str]:
    """`ingest` in a fresh interpreter: (created, updated, unchanged, kept, spaCy imported)."""
    code = ("import sys; from tasks.settings import Settings; from ceasefire import running; "
            f"r = running.ingest(Settings.from_env(), {paths!r}, 500, prefect=False); "
            "print(r.created, r.updated, r.unchanged, r.enrichment_kept, 'spacy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PREFECT_API_URL": ""})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_rerun_loads_no_model_and_an_edit_is_enriched_again(settings, es, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    for sample in (ROOT / "examples").iterdir():
        (folder / sample.name).write_bytes(sample.read_bytes())
    first = running.ingest(settings, [str(folder)], 500, prefect=False)
    assert (first.created, first.enrichment_kept) == (2, 0)
    assert _ingest_in_subprocess([str(folder)]) == ["0", "0", "2", "2", "False"]

    edited = sorted(folder.iterdir())[0]
    edited.write_text(edited.read_text(encoding="utf-8").replace("Zelensky", "Zelenskyy"),
                      encoding="utf-8")
    again = running.ingest(settings, [str(folder)], 500, prefect=False)
    assert (again.created + again.updated, again.unchanged, again.enrichment_kept) == (1, 1, 1)

    # Stored by another enrichment version: enriched again, and brought to this one.
    for hit in es.search(index=settings.read_alias, size=10)["hits"]["hits"]:
        es.update(index=settings.write_alias, id=hit["_id"], doc={"enrichment_version": "old", "doc_hash": "old"},
                  refresh=True)
    redone = running.ingest(settings, [str(folder)], 500, prefect=False)
    assert (redone.updated, redone.enrichment_kept) == (2, 0)
    es.indices.refresh(index=settings.read_alias)
    read_now = {h["_id"] for h in es.search(index=settings.read_alias, size=10)["hits"]["hits"]
                if h["_source"]["enrichment_version"] != "old"}
    assert len(read_now) == 2
    versions = {h["_source"]["enrichment_version"]
                for h in es.search(index=settings.read_alias, size=10)["hits"]["hits"]
                if h["_id"] in read_now}
    assert versions == {first_version(es, settings)} and "old" not in versions


def first_version(es, settings) -> str:
    from tasks.enrich.enricher import enricher_for

    return enricher_for(settings).version
