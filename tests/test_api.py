"""The HTTP API (`ceasefire serve`): the real app under uvicorn on a loopback port, over the real
node with the generated corpus, called with httpx over real HTTP; its answers checked against
the library functions and the corpus's known counts."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from ceasefire.api import MAX_QUERY, create_app, is_loopback
from ceasefire.cli import main
from ceasefire.query import Filters
from ceasefire.search import search
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices
from tests.research_corpus import Doc, corpus, index_docs

KEY = "s3cret-key-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def indexed(base_settings: Settings) -> Iterator[tuple[Settings, Elasticsearch, list[Doc]]]:
    """One private index holding the generated corpus, for the whole module."""
    s = base_settings.replace(index_prefix=f"cftest-{uuid.uuid4().hex[:10]}")
    es = connect(s)
    setup_indices(es, s)
    docs = corpus()
    index_docs(es, s, docs)
    yield s, es, docs
    delete_all(es, s)
    es.close()


def serve(settings: Settings, es: Elasticsearch | None = None, page_size: int = 7) -> Iterator[str]:
    """The app under uvicorn in a background thread on a free loopback port; its base URL.
    Small export pages, so an export takes many."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, es, page_size=page_size), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def api(indexed: tuple[Settings, Elasticsearch, list[Doc]]) -> Iterator[httpx.Client]:
    s, es, _ = indexed
    for url in serve(s, es):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


@pytest.fixture(scope="module")
def keyed(indexed: tuple[Settings, Elasticsearch, list[Doc]]) -> Iterator[httpx.Client]:
    s, es, _ = indexed
    for url in serve(s.replace(api_key=KEY), es):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


def matching(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d.matches]


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize("params, filters", [
    ({"q": "ceasefire"}, Filters()),
    ({"q": "ceasefire", "source": ["bbc", "Reuters"]}, Filters(source=["bbc", "Reuters"])),
    ({"q": "", "conflict": "russia-ukraine", "min_relevance": "0.5"},
     Filters(conflict=["russia-ukraine"], min_relevance=0.5)),
    ({"q": "ceasefire", "from": "2025-09", "to": "2025-10-15"},
     Filters(published_from="2025-09", published_to="2025-10-15")),
])
def test_search_totals_equal_the_library_search(api, indexed, params, filters):
    s, es, _ = indexed
    expected = search(es, s.read_alias, params["q"], filters, size=5)
    resp = api.get("/search", params={**params, "size": 5})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total"] == expected.total > 0
    assert body["stories"] == expected.stories
    assert [h["id"] for h in body["hits"]] == [h.id for h in expected.hits]


def test_search_total_is_the_corpus_count_and_collapse_folds_copies(api, indexed):
    s, es, docs = indexed
    body = api.get("/search", params={"q": "ceasefire", "size": 100, "collapse": "true"}).json()
    assert body["total"] == len(matching(docs))
    expected = search(es, s.read_alias, "ceasefire", None, 100, collapse=True)
    assert [h["id"] for h in body["hits"]] == [h.id for h in expected.hits]
    assert [h["copies"] for h in body["hits"]] == [h.copies for h in expected.hits]
    assert len(body["hits"]) < body["total"]


def test_search_says_what_an_unknown_filter_value_is_close_to(api):
    body = api.get("/search", params={"q": "", "source": "Reuter"}).json()
    assert body["total"] == 0
    assert body["hints"] and "Reuters" in json.dumps(body["hints"])


# --- export and timeline -----------------------------------------------------------------


def test_export_jsonl_streams_every_match(api, indexed):
    docs = indexed[2]
    with api.stream("GET", "/export", params={"q": "ceasefire"}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        rows = [json.loads(line) for line in resp.iter_lines() if line]
    total = api.get("/search", params={"q": "ceasefire", "size": 0}).json()["total"]
    assert len(rows) == total == len(matching(docs))
    assert {r["id"] for r in rows} == {d.id for d in matching(docs)}


def test_export_csv_with_fields_filters_and_collapse(api, indexed):
    docs = indexed[2]
    resp = api.get("/export", params={"q": "ceasefire", "format": "csv", "fields": "id, Title,source",
                                      "source": "bbc"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(resp.text)))
    assert table[0] == ["id", "title", "source"]
    assert len(table) - 1 == len([d for d in matching(docs) if d.source["source"] == "BBC"])
    stories = api.get("/export", params={"q": "ceasefire", "collapse": "true",
                                         "fields": "id,copies"}).text.splitlines()
    assert sum(json.loads(line)["copies"] for line in stories) == len(matching(docs))
    assert len(stories) == len({d.story for d in matching(docs)})


def test_export_of_no_match_is_empty_or_a_header(api):
    assert api.get("/export", params={"q": "zzzunheardof"}).text == ""
    assert api.get("/export", params={"q": "zzzunheardof", "format": "csv",
                                      "fields": "id,url"}).text.splitlines() == ["id,url"]


@pytest.mark.parametrize("split", [None, "source", "conflict"])
def test_timeline_intervals_add_up_to_the_total(api, indexed, split):
    docs = indexed[2]
    params = {"q": "ceasefire", "interval": "month", "date_field": "published_at"}
    body = api.get("/timeline", params=params | ({"split": split} if split else {})).json()
    assert body["total"] == len(matching(docs))
    assert sum(i["count"] for i in body["intervals"]) + body["undated"] == body["total"]
    assert body["undated"] == len([d for d in matching(docs) if not d.month])
    for interval in body["intervals"]:
        assert interval["share"] is None or 0 <= interval["share"] <= 1
    if split == "source":
        assert sum(v["count"] for i in body["intervals"] for v in i["series"].values()) == body["dated"]


def test_facets_and_health(api):
    facets = api.get("/facets", params={"size": 3}).json()
    assert facets["total"] == len(corpus())
    assert len(facets["top"]["source"]) == 3
    assert api.get("/healthz").json()["status"] == "ok"


# --- validation, errors, keys, docs --------------------------------------------------------


@pytest.mark.parametrize("path, params, says", [
    ("/search", {"size": 1000}, "less than or equal to 100"),
    ("/search", {"q": "x" * (MAX_QUERY + 1)}, f"at most {MAX_QUERY} characters"),
    ("/search", {"from": "last tuesday"}, "is not a date"),
    ("/search", {"from": "2025-10", "to": "2025-09"}, "is after --to"),
    ("/search", {"min_relevance": 2}, "less than or equal to 1"),
    ("/search", {"source": ["x"] * 21}, "at most 20 values"),
    ("/timeline", {"interval": "year"}, "'day', 'week' or 'month'"),
    ("/timeline", {"split": "author"}, "'conflict', 'source', 'topic' or 'language'"),
    ("/export", {"format": "xml"}, "'jsonl' or 'csv'"),
    ("/export", {"fields": "id,titel"}, "did you mean 'title'"),
    ("/export", {"fields": "id,copies"}, "needs collapse"),
])
def test_bad_parameters_are_422_with_a_message(api, path, params, says):
    resp = api.get(path, params=params)
    assert resp.status_code == 422
    assert says in resp.text
    assert "Traceback" not in resp.text


def test_only_get_is_allowed(api):
    assert api.post("/search", json={"q": "x"}).status_code == 405
    assert api.delete("/export").status_code == 405


def test_openapi_lists_the_endpoints(api):
    spec = api.get("/openapi.json").json()
    assert {"/search", "/timeline", "/export", "/facets", "/healthz"} <= set(spec["paths"])
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())
    names = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert {"q", "source", "person", "from", "to", "min_relevance", "size", "collapse"} <= names
    assert api.get("/docs").status_code == 200


def test_api_key_is_required_when_set(keyed, indexed):
    assert KEY not in repr(indexed[0].replace(api_key=KEY))  # a SecretStr: never shown
    assert keyed.get("/search").status_code == 401
    assert keyed.get("/export", headers={"X-API-Key": KEY + "x"}).status_code == 401
    assert keyed.get("/timeline", headers={"X-API-Key": ""}).status_code == 401
    assert keyed.get("/search", headers={"X-API-Key": KEY}).status_code == 200
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/openapi.json").status_code == 200
    spec = keyed.get("/openapi.json").json()
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_no_cluster_is_503_with_a_short_message(base_settings):
    gone = base_settings.replace(es_url=f"http://elastic:hunter2@127.0.0.1:{free_port()}",
                                 es_request_timeout=2)
    for url in serve(gone):
        with httpx.Client(base_url=url, timeout=60) as client:
            for path in ("/search", "/export", "/timeline", "/facets"):
                resp = client.get(path, params={"q": "ceasefire"})
                assert resp.status_code == 503, resp.text
                assert resp.json() == {"detail": "Elasticsearch is not reachable; try again later"}
            assert client.get("/healthz").status_code == 503


def test_an_elasticsearch_error_is_502(base_settings):
    # An index prefix with no index behind it: Elasticsearch answers 404.
    missing = base_settings.replace(index_prefix=f"cftest-missing-{uuid.uuid4().hex[:8]}")
    for url in serve(missing):
        resp = httpx.get(f"{url}/search", params={"q": "x"}, timeout=30)
        assert resp.status_code == 502
        assert resp.json()["detail"].startswith("Elasticsearch answered 404")


# Any text in the free-form parameters is either answered or refused with 422, never a 500.
@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=40), date_from=st.one_of(st.none(), st.text(max_size=12),
                                                   st.dates().map(str)),
       date_to=st.one_of(st.none(), st.text(max_size=12), st.dates().map(str)),
       source=st.lists(st.text(max_size=10), max_size=3))
def test_any_query_text_and_dates_are_answered_or_refused(api, q, date_from, date_to, source):
    params: dict[str, object] = {"q": q, "size": 1, "hints": "false", "source": source}
    if date_from is not None:
        params["from"] = date_from
    if date_to is not None:
        params["to"] = date_to
    resp = api.get("/search", params=params)
    assert resp.status_code in (200, 422), resp.text
    assert isinstance(resp.json(), dict)


@given(st.ip_addresses())
def test_is_loopback_for_any_address(address):
    assert is_loopback(str(address)) == address.is_loopback
    assert is_loopback(f"[{address}]") == address.is_loopback


def test_is_loopback_names():
    assert is_loopback("localhost") and is_loopback("LOCALHOST") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org") and not is_loopback("")
    assert ipaddress.ip_address("127.8.0.1").is_loopback and is_loopback("127.8.0.1")


def test_serve_refuses_a_public_host_without_a_key(monkeypatch, capsys):
    monkeypatch.delenv("CEASEFIRE_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "CEASEFIRE_API_KEY" in capsys.readouterr().err
