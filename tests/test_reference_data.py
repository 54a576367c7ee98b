"""The schema of the enrichment reference data (enrich_data/schema.py): the real files load,
every kind of malformed document is a ReferenceDataError naming the file, the entry and the
field, and nothing else ever escapes from a load."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrich_data import DATA_DIR
from enrich_data.schema import (
    LANGUAGES,
    MIN_PATTERNS,
    ActorsFile,
    ReferenceDataError,
    TaxonomyFile,
    load_actors,
    load_taxonomy_file,
)
from tasks.enrich.canonical import load_alias_table
from tasks.enrich.topics import load_taxonomy

ROOT = Path(__file__).resolve().parent.parent
Loader = Callable[..., Any]


def patterns(stem: str) -> dict[str, list[str]]:
    return {lang: [f"{stem} {lang} {i}" for i in range(MIN_PATTERNS)] for lang in LANGUAGES}


ACTORS: dict[str, Any] = {
    "version": "2025.11.1",
    "entries": [
        {"name": "Donald Trump", "kind": "person", "role": "head-of-state", "country": "US",
         "aliases": ["Trump", "Дональд Трамп"]},
        {"name": "Kursk", "kind": "location", "country": "RU", "aliases": ["Курськ"]},
        {"name": "World Health Organization", "kind": "organization", "country": None,
         "aliases": ["OMS"], "aliases_exact": ["WHO"]},
    ],
}
TAXONOMY: dict[str, Any] = {
    "version": "2025.11.2",
    "languages": list(LANGUAGES),
    "ceasefire_terms": patterns("ceasefire"),
    "topics": {"prisoner-exchange": {"label": "Prisoner exchange", "patterns": patterns("swap")}},
    "conflicts": {"russia-ukraine": {"label": "Russia-Ukraine", "patterns": patterns("war"),
                                     "places": ["Kursk"], "actors": ["Donald Trump"]}},
}


def write(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def changed(document: dict[str, Any], edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    edit(document)
    return document


def problems(loader: Loader, path: Path, **kwargs: Any) -> str:
    with pytest.raises(ReferenceDataError) as info:
        loader(path, **kwargs)
    assert all(line.startswith(f"{path}: ") for line in str(info.value).splitlines())
    return str(info.value)


# ----------------------------------------------------------------------------- valid files


def test_the_reference_files_load() -> None:
    actors = load_actors(DATA_DIR / "actors.yaml")
    taxonomy = load_taxonomy_file(DATA_DIR / "taxonomy.yaml")
    assert len(actors.entries) > 300 and {e.kind for e in actors.entries} == {
        "person", "organization", "group", "location"}
    assert "russia-ukraine" in taxonomy.conflicts
    assert set(taxonomy.ceasefire_terms) == set(LANGUAGES)


def test_small_documents_load_with_typed_fields(tmp_path: Path) -> None:
    actors = load_actors(write(tmp_path / "actors.yaml", ACTORS))
    assert isinstance(actors, ActorsFile)
    who = actors.entries[2]
    assert (who.name, who.kind, who.country, who.role, who.aliases_exact) == (
        "World Health Organization", "organization", None, None, ["WHO"])
    assert actors.entries[1].aliases_exact == []
    taxonomy = load_taxonomy_file(write(tmp_path / "taxonomy.yaml", TAXONOMY))
    assert isinstance(taxonomy, TaxonomyFile)
    assert taxonomy.conflicts["russia-ukraine"].places == ["Kursk"]


PARTIAL_ACTORS = {"version": "test-1", "entries": [
    {"name": "Volodymyr Zelenskyy", "kind": "person", "country": "UA", "aliases": ["Zelensky"]},
    {"name": "Black Sea", "kind": "location", "aliases": ["Mer Noire"]}]}
PARTIAL_TAXONOMY = {"version": "test-1", "languages": ["en", "uk"],
                    "ceasefire_terms": {"en": ["ceasefire"], "uk": ["перемир*"]},
                    "topics": {"energy": {"label": "Energy", "patterns": {"en": ["energy"]}}},
                    "conflicts": {"russia-ukraine": {"label": "Russia-Ukraine", "patterns": {},
                                                     "places": [], "actors": ["Volodymyr Zelenskyy"]}}}


def test_partial_documents_load_only_when_asked(tmp_path: Path) -> None:
    """Hand-made test tables (any version, persons without a role, no country key, a few
    languages) load with partial=True, as the enrichment loaders do; not as published files."""
    actors_path = write(tmp_path / "actors.yaml", PARTIAL_ACTORS)
    taxonomy_path = write(tmp_path / "taxonomy.yaml", PARTIAL_TAXONOMY)
    assert load_actors(actors_path, partial=True).entries[1].country is None
    assert load_taxonomy_file(taxonomy_path, partial=True).version == "test-1"
    assert load_alias_table(actors_path).by_name["Black Sea"].country is None
    assert load_taxonomy(taxonomy_path).conflict_evidence == {"russia-ukraine": {"Volodymyr Zelenskyy"}}

    message = problems(load_actors, actors_path)
    assert "version: version must be a quoted string YYYY.MM.N, got 'test-1'" in message
    assert "entries[0] name 'Volodymyr Zelenskyy': role: a person needs a role" in message
    assert "entries[1] name 'Black Sea': country: missing key" in message
    message = problems(load_taxonomy_file, taxonomy_path)
    assert "languages: languages must be exactly" in message
    assert "conflicts.russia-ukraine.patterns: no patterns for language(s) en, fr, de, es, ru, uk, ar" in message
    assert f"ceasefire_terms.en: only 1 patterns (need >= {MIN_PATTERNS})" in message


# ----------------------------------------------------------------------------- malformed


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for key in keys[:-1]:
            doc = doc[key]
        doc[keys[-1]] = value
    return edit


def _del(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for key in keys[:-1]:
            doc = doc[key]
        del doc[keys[-1]]
    return edit


@pytest.mark.parametrize(("edit", "expected"), [
    (_del("entries", 1, "aliases"), "entries[1] name 'Kursk': aliases: missing key"),
    (_del("entries", 0, "kind"), "entries[0] name 'Donald Trump': kind: missing key"),
    (_del("entries", 0, "country"), "entries[0] name 'Donald Trump': country: missing key"),
    (_del("version"), "actors.yaml: version: missing key"),
    (_set("entries", 1, "kind", value="place"), "entries[1] name 'Kursk': kind: Input should be 'person', "
                                                "'organization', 'group' or 'location', got 'place'"),
    (_set("entries", 0, "role", value="president"), "entries[0] name 'Donald Trump': role: Input should be"),
    (_del("entries", 0, "role"), "entries[0] name 'Donald Trump': role: a person needs a role"),
    (_set("entries", 1, "role", value="envoy"), "entries[1] name 'Kursk': role: only persons have a role"),
    (_set("entries", 1, "country", value="XX"), "entries[1] name 'Kursk': country: country is not an ISO "
                                                "3166-1 alpha-2 code, got 'XX'"),
    (_set("entries", 1, "country", value="ru"), "country: country is not an ISO 3166-1 alpha-2 code, got 'ru'"),
    (_set("entries", 1, "country", value=7), "entries[1] name 'Kursk': country: Input should be a valid string"),
    (_set("version", value="2025.13.1"), "version: version must be a quoted string YYYY.MM.N, got '2025.13.1'"),
    (_set("version", value=2025.11), "version: Input should be a valid string, got 2025.11"),
    (_set("entries", 0, "nickname", value="The Donald"), "entries[0] name 'Donald Trump': nickname: unknown key"),
    (_set("comment", value="x"), "comment: unknown key"),
    (_set("entries", 0, "aliases", value="Trump"), "entries[0] name 'Donald Trump': aliases: Input should be a "
                                                   "valid list"),
    (_set("entries", 0, "aliases", value=["Trump", "Trump"]), "aliases: 'Trump' listed 2 times"),
    (_set("entries", 0, "aliases", value=["Trump "]), "aliases[0]: must be non-empty, without surrounding or "
                                                      "doubled whitespace, got 'Trump '"),
    (_set("entries", 0, "name", value=""), "entries[0] name '': name: must be non-empty"),
    (_set("entries", 2, value="WHO"), "entries[2]: Input should be a valid dictionary"),
    (_set("entries", value=[]), "entries: List should have at least 1 item"),
])
def test_malformed_actors(tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    path = write(tmp_path / "actors.yaml", changed(ACTORS, edit))
    assert expected in problems(load_actors, path)


@pytest.mark.parametrize(("edit", "expected"), [
    (_set("topics", "Prisoner Exchange", value=TAXONOMY["topics"]["prisoner-exchange"]),
     "topics.Prisoner Exchange (key): key must be a lower-case slug (a-z, 0-9, '-'), got 'Prisoner Exchange'"),
    (_set("ceasefire_terms", "it", value=["tregua", "cessate il fuoco", "armistizio"]),
     "ceasefire_terms.it (key): Input should be 'en', 'fr', 'de', 'es', 'ru', 'uk' or 'ar', got 'it'"),
    (_del("ceasefire_terms", "de"), "ceasefire_terms: no patterns for language(s) de"),
    (_set("topics", "prisoner-exchange", "patterns", "fr", value=["échange"]),
     f"topics.prisoner-exchange.patterns.fr: only 1 patterns (need >= {MIN_PATTERNS})"),
    (_set("topics", "prisoner-exchange", "patterns", "fr", value=["a", "b", 3]),
     "topics.prisoner-exchange.patterns.fr[2]: Input should be a valid string, got 3"),
    (_set("topics", "prisoner-exchange", "patterns", "fr", value=["a", "b", "a"]), "'a' listed 2 times"),
    (_set("topics", "prisoner-exchange", "patterns", "en", value=None), "patterns.en: Input should be a valid list"),
    (_del("conflicts", "russia-ukraine", "places"), "conflicts.russia-ukraine.places: missing key"),
    (_set("topics", "prisoner-exchange", "places", value=["Kursk"]), "topics.prisoner-exchange.places: unknown key"),
    (_set("conflicts", "russia-ukraine", "actors", value=["Kursk", "Kursk"]), "actors: 'Kursk' listed 2 times"),
    (_set("topics", "prisoner-exchange", "label", value=" "), "topics.prisoner-exchange.label: must be non-empty"),
    (_set("topics", value={}), "topics: Dictionary should have at least 1 item"),
    (_set("languages", value=["en", "fr"]), "languages: languages must be exactly"),
    (_set("version", value="2025.1.1"), "version: version must be a quoted string YYYY.MM.N"),
])
def test_malformed_taxonomy(tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    path = write(tmp_path / "taxonomy.yaml", changed(TAXONOMY, edit))
    assert expected in problems(load_taxonomy_file, path)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    document = changed(ACTORS, _set("entries", 1, "kind", value="place"))
    document["entries"][0]["country"] = "XX"
    lines = problems(load_actors, write(tmp_path / "actors.yaml", document)).splitlines()
    assert [line.split(": ")[2] for line in lines] == ["country", "kind"]


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n- b\n", "top level must be a mapping, got list"),
    ("just words\n", "top level must be a mapping, got str"),
    ("", "top level must be a mapping, got NoneType"),
    ("version: '2025.11.1'\nentries: [a, b\n", "invalid YAML"),
    ("version: [\n", "invalid YAML at line 2, column 1: expected the node content, but found '<stream end>'"),
    ("version: 2025-13-45\n", "invalid YAML: month must be in 1..12"),  # PyYAML raises ValueError for this date
    ("a: &a [*a]\n", "a: unknown key"),
    ("? [a, b]\n: c\n", "invalid YAML"),  # a list as a key
])
@pytest.mark.parametrize("loader", [load_actors, load_taxonomy_file])
def test_malformed_yaml(tmp_path: Path, loader: Loader, text: str, expected: str) -> None:
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    assert expected in problems(loader, path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "actors.yaml"
    path.write_bytes(b"version: '\xff\xfe'\n")
    assert "not UTF-8 text" in problems(load_actors, path)


def test_a_missing_file_is_not_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_actors(tmp_path / "nowhere.yaml")


def test_the_enrichment_loaders_refuse_bad_files(tmp_path: Path) -> None:
    actors = write(tmp_path / "actors.yaml", changed(ACTORS, _set("entries", 1, "kind", value="place")))
    with pytest.raises(ValueError, match=r"entries\[1\] name 'Kursk': kind"):
        load_alias_table(actors)
    taxonomy = write(tmp_path / "taxonomy.yaml", changed(TAXONOMY, _del("conflicts", "russia-ukraine", "actors")))
    with pytest.raises(ValueError, match=r"conflicts\.russia-ukraine\.actors: missing key"):
        load_taxonomy(taxonomy)


def test_check_data_reports_schema_problems(tmp_path: Path) -> None:
    """The CLI, run as a script from the repository root, lists the schema's problems and fails."""
    actors = write(tmp_path / "actors.yaml", changed(ACTORS, _set("entries", 1, "country", value="XX")))
    result = subprocess.run([sys.executable, "enrich_data/check_data.py", "--actors", str(actors)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 1
    assert f"ERROR {actors}: entries[1] name 'Kursk': country: country is not an ISO" in result.stderr
    assert "taxonomy.yaml  version" in result.stdout  # the other file is still checked


# ----------------------------------------------------------------------------- properties

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.dates() | st.sampled_from(["person", "US", "2025.11.1", "en", "Kursk", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
                      max_leaves=20)
LOADERS = [(load_actors, ACTORS), (load_taxonomy_file, TAXONOMY)]
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def load_or_refuse(loader: Loader, path: Path) -> None:
    """Either a model or a ReferenceDataError whose every line names the file."""
    for partial in (False, True):
        try:
            loader(path, partial=partial)
        except ReferenceDataError as exc:
            assert exc.problems and all(m.startswith(f"{path}: ") for m in exc.messages)


@FAST
@given(value=VALUES)
def test_any_yaml_value_loads_or_is_refused(tmp_path: Path, value: Any) -> None:
    for loader, _ in LOADERS:
        load_or_refuse(loader, write(tmp_path / "data.yaml", value))


@FAST
@given(text=st.text(alphabet=st.sampled_from("ab:-[]{}&*!?,'\"#|>%@`\n \t.0129"), max_size=60))
def test_any_yaml_text_loads_or_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    for loader, _ in LOADERS:
        load_or_refuse(loader, path)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a document (the root excluded)."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [p for key, child in children for p in [(*prefix, key), *_paths(child, (*prefix, key))]]


@FAST
@given(data=st.data())
@pytest.mark.parametrize(("loader", "document"), LOADERS)
def test_a_damaged_document_loads_or_is_refused(tmp_path: Path, loader: Loader, document: dict[str, Any],
                                               data: st.DataObject) -> None:
    """One node of a valid document replaced by an arbitrary value, or removed."""
    where = data.draw(st.sampled_from(_paths(document)))
    damaged = copy.deepcopy(document)
    parent = damaged
    for key in where[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        del parent[where[-1]]
    else:
        parent[where[-1]] = data.draw(VALUES)
    load_or_refuse(loader, write(tmp_path / "data.yaml", damaged))
