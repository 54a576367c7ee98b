"""Identity (canonical URLs, ids, hashes) and the index templates kept in sync with the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import index_mappings
from tasks.dedupe.identity import assign_identity, canonical_url, content_hash, drop_batch_duplicates
from tasks.models import Article, Entities
from tasks.store.bulk import document_hash


def test_canonical_url_drops_tracking_fragment_and_case():
    assert canonical_url("HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=7&fbclid=y#comments") \
        == "https://news.example.org/a/b?id=7"
    assert canonical_url("http://e.example:8080") == "http://e.example:8080/"


def test_ids_are_deterministic_and_url_based_when_possible():
    a = assign_identity(Article(title="T", body="Body", url="https://e.example/x?utm_medium=rss"))
    b = assign_identity(Article(title="Other title", body="Other", url="https://E.example/x"))
    assert a.id == b.id and a.id.startswith("u")
    c = assign_identity(Article(title="T", body="Body"))
    d = assign_identity(Article(title="T", body="  body\n"))
    assert c.id == d.id and c.id.startswith("c")
    assert assign_identity(Article(title="T2", body="Body")).id != c.id


def test_content_hash_ignores_spacing_case_and_punctuation():
    assert content_hash("Kyiv said: “yes”.\n\nMore.") == content_hash("kyiv said yes more")
    assert content_hash("Kyiv said yes") != content_hash("Kyiv said no")


def test_batch_duplicates_become_named_skips():
    articles = [assign_identity(Article(title="T", body="B", origin=o)) for o in ("a", "b")]
    kept, skips = drop_batch_duplicates(articles)
    assert [a.origin for a in kept] == ["a"]
    assert [(s.origin, s.reason) for s in skips] == [("b", "duplicate-in-run")]


def _full_article() -> Article:
    return Article(
        title="T", body="B", id="x", url="u", canonical_url="u", source="s", source_domain="d",
        feed="f", origin="o", authors=["A"], published_at=datetime(2025, 1, 1, tzinfo=UTC),
        dateline="Kyiv, Oct 13", lead="B", language_hint="en", language="en", language_confidence=0.9,
        entities=Entities(["P"], ["O"], ["L"], ["G"], ["E"]), countries=["UA"], topics=["t"],
        conflicts=["c"], relevance=0.5, content_hash="h", cluster_id="k", duplicate_of="y",
        extractor="e", fetched_at=datetime(2025, 1, 1, tzinfo=UTC))


def _mapped_paths(properties: dict, prefix: str = "") -> set[str]:
    paths = set()
    for name, spec in properties.items():
        paths.add(prefix + name)
        if "properties" in spec:
            paths |= _mapped_paths(spec["properties"], f"{prefix}{name}.")
    return paths


def test_every_record_field_is_in_the_strict_mapping():
    mapping = index_mappings.load("articles")["template"]["mappings"]
    assert mapping["dynamic"] == "strict"
    mapped = _mapped_paths(mapping["properties"])
    doc = _full_article().to_document()
    fields = {k for k, v in doc.items() if not isinstance(v, dict)}
    fields |= {f"entities.{k}" for k in doc["entities"]}
    fields |= {"doc_hash", "ingested_at", "updated_at", "coverage_date"}  # added by the index step
    assert fields <= mapped, fields - mapped


def test_long_text_fields_have_no_keyword_subfield():
    props = index_mappings.load("articles")["template"]["mappings"]["properties"]
    for name in ("body", "lead"):
        assert "fields" not in props[name]
        assert props[name]["analyzer"] == "standard"


def test_stemmed_overlay_adds_the_sub_fields_of_the_clusters_languages_only():
    languages = index_mappings.stemmed_languages()
    assert languages == {"en": "english", "fr": "french", "de": "german", "es": "spanish",
                         "ru": "russian", "ar": "arabic"}
    plain = index_mappings.articles_template(())
    assert "english" not in json.dumps(plain)
    full = index_mappings.articles_template(languages)["template"]["mappings"]["properties"]
    for name in index_mappings.stemmed_fields():
        assert {c: f["analyzer"] for c, f in full[name]["fields"].items() if c != "keyword"} == languages
        assert full[name]["analyzer"] == "standard"  # merged, not replaced
    assert full["title"]["fields"]["keyword"]["type"] == "keyword"
    some = index_mappings.articles_template(("fr", "ar"))["template"]["mappings"]["properties"]
    assert set(some["body"]["fields"]) == {"fr", "ar"}
    assert set(some["title"]["fields"]) == {"keyword", "fr", "ar"}
    assert index_mappings.schema_version() == 1


def test_document_hash_ignores_volatile_fields():
    doc = _full_article().to_document()
    assert document_hash(doc) == document_hash({**doc, "ingested_at": "2030-01-01T00:00:00Z"})
    assert document_hash(doc) == document_hash({**doc, "coverage_date": "2030-01-01T00:00:00Z"})
    assert document_hash(doc) != document_hash({**doc, "title": "changed"})
    assert doc["published_at"] == "2025-01-01T00:00:00+00:00"
    assert doc["word_count"] == 1
    assert "id" not in doc
