"""A read-only HTTP API for scripts (`ceasefire serve`): search, timeline, export and facets
over the read alias, answering what the CLI commands answer, as JSON (export: JSON Lines or
CSV, streamed a page at a time from one point in time, so memory holds one page).

Only GET routes exist, so nothing can write through it. Bad parameters are 422 with a message
saying which; an Elasticsearch failure is 502 (it answered an error) or 503 (no answer) with a
short message, never a traceback or the cluster's address. With `CEASEFIRE_API_KEY` set, every
route but `/healthz` and the docs needs it in `X-API-Key`.
"""

from __future__ import annotations

import csv
import hmac
import io
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from elasticsearch import ApiError, Elasticsearch, TransportError
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader

from ceasefire.export import (
    PAGE_SIZE,
    ExportError,
    csv_cell,
    default_fields,
    parse_fields,
    row_pages,
)
from ceasefire.facets import list_facets
from ceasefire.mapping import COVERAGE_DATE, has_field
from ceasefire.query import MAX_QUERY_CHARS, MAX_VALUE_CHARS, FilterError, Filters, max_terms
from ceasefire.search import search
from ceasefire.timeline import timeline
from tasks.settings import Settings, secret
from tasks.store.client import NoElasticsearch, connect
from tasks.store.retrying import TransientError

LOGGER = logging.getLogger(__name__)

# The limits the CLI has (ceasefire.query checks them: FilterError, 422 with its message).
MAX_QUERY = MAX_QUERY_CHARS
MAX_VALUE = MAX_VALUE_CHARS
API_KEY_HEADER = "X-API-Key"
# auto_error off: the check says 401 itself (and passes everything when no key is set).
KEY_HEADER = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
MEDIA_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}

Text = Annotated[str, Query(description=f"search text (empty: every article; at most {MAX_QUERY} "
                                        f"characters and {max_terms()} words, {max_terms(['en'])} "
                                        "with a language filter)")]
DATE_HELP = "YYYY-MM-DD, YYYY-MM, YYYY (all of it) or an ISO time"
Values = Annotated[list[str], Query(description="repeatable; any value may match")]


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (`localhost` or a loopback address)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def filters_of(source: Values = [], language: Values = [], conflict: Values = [],  # noqa: B006
               topic: Values = [], person: Values = [], place: Values = [],  # noqa: B006
               organization: Values = [],  # noqa: B006
               min_relevance: Annotated[float | None, Query(ge=0, le=1)] = None,
               date_from: Annotated[str | None, Query(alias="from", max_length=40,
                                                      description=DATE_HELP)] = None,
               date_to: Annotated[str | None, Query(alias="to", max_length=40,
                                                  description=DATE_HELP)] = None) -> Filters:
    """The filters of a request, named as the CLI flags (FilterError: 422, with the
    CLI's limits: at most MAX_VALUES values of at most MAX_VALUE characters)."""
    return Filters(source=source, language=language, conflict=conflict, topic=topic,
                   person=person, place=place, organization=organization,
                   min_relevance=min_relevance, published_from=date_from, published_to=date_to)


FilterParams = Annotated[Filters, Depends(filters_of)]


def key_checker(expected: str | None) -> Any:
    """A dependency refusing (401) a request without `expected` in `X-API-Key`; compared in
    constant time, so the answer's timing does not tell how much of a guess was right."""
    def require_key(given: Annotated[str | None, Security(KEY_HEADER)] = None) -> None:
        if expected is None:
            return
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, f"missing or wrong {API_KEY_HEADER} header",
                                headers={"WWW-Authenticate": "ApiKey"})

    return require_key


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    """Usage errors as 422, Elasticsearch failures as 502/503, each in one short line."""

    @app.exception_handler(FilterError)
    @app.exception_handler(ExportError)
    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(ApiError)
    async def es_answered(request: Request, exc: ApiError) -> JSONResponse:
        LOGGER.warning("Elasticsearch answered %s to %s: %s", exc.meta.status, request.url.path,
                       exc.message)
        return _error(502, f"Elasticsearch answered {exc.meta.status} ({exc.message})")

    @app.exception_handler(TransportError)
    @app.exception_handler(NoElasticsearch)
    @app.exception_handler(TransientError)
    async def es_gone(request: Request, exc: Exception) -> JSONResponse:
        LOGGER.warning("Elasticsearch did not answer %s: %s", request.url.path, type(exc).__name__)
        return _error(503, "Elasticsearch is not reachable; try again later")


def stream_rows(first: list[dict[str, Any]] | None, rest: Iterator[list[dict[str, Any]]],
                fmt: str, fields: list[str]) -> Iterator[str]:
    """Rows as JSON Lines or CSV (header first), one chunk per page."""
    if fmt == "csv":
        yield _chunk([dict(zip(fields, fields, strict=True))], fmt, fields)
    if first is not None:
        yield _chunk(first, fmt, fields)
    for page in rest:
        yield _chunk(page, fmt, fields)


def _chunk(rows: list[dict[str, Any]], fmt: str, fields: list[str]) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    buffer = io.StringIO()
    csv.writer(buffer).writerows([csv_cell(r[f]) for f in fields] for r in rows)
    return buffer.getvalue()


def create_app(settings: Settings, es: Elasticsearch | None = None, *,
               page_size: int = PAGE_SIZE) -> FastAPI:
    """The API over `settings.read_alias`, on `es` (default: a client for the settings'
    cluster, opened here and closed at shutdown); `/export` asks for `page_size` articles at a
    time."""
    owned = es is None
    client = es if es is not None else connect(settings)
    index = settings.read_alias

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            client.close()

    app = FastAPI(title="ceasefire", lifespan=lifespan,
                  summary="Read-only search, timelines and export of the ceasefire news index.")
    add_error_handlers(app)
    guard = [Depends(key_checker(secret(settings.api_key)))]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        """200 with the cluster's health while Elasticsearch answers, else 503 (no key needed)."""
        try:
            health = client.options(request_timeout=5).cluster.health()["status"]
        except (ApiError, TransportError):
            return JSONResponse({"status": "elasticsearch unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "elasticsearch": health})

    @app.get("/search", dependencies=guard, tags=["research"])
    def search_articles(filters: FilterParams, q: Text = "",
                        size: Annotated[int, Query(ge=0, le=100)] = 10,
                        collapse: bool = False, hints: bool = True) -> dict[str, Any]:
        """Ranked hits with highlights and facet counts, as `ceasefire search --json`."""
        return search(client, index, q, filters, size, collapse=collapse, hints=hints).to_dict()

    @app.get("/timeline", dependencies=guard, tags=["research"])
    def timeline_counts(filters: FilterParams, q: Text = "",
                        interval: Literal["day", "week", "month"] = "week",
                        split: Literal["conflict", "source", "topic", "language"] | None = None,
                        top: Annotated[int, Query(ge=1, le=20)] = 5,
                        date_field: Literal["published_at", "coverage_date", "fetched_at",
                                            "ingested_at"] | None = None) -> dict[str, Any]:
        """Matching articles per interval with their share of all indexed articles, as
        `ceasefire timeline --json`."""
        return timeline(client, index, q, filters, interval, split, top=top,
                        date_field=date_field).to_dict()

    @app.get("/facets", dependencies=guard, tags=["research"])
    def facets(size: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
        """Valid topics and conflicts and the top values of every facet, with counts."""
        return list_facets(client, index, size).to_dict()

    @app.get("/export", dependencies=guard, tags=["research"],
             response_class=StreamingResponse,
             responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
    def export_rows(filters: FilterParams, q: Text = "",
                    format: Literal["jsonl", "csv"] = "jsonl",
                    fields: Annotated[str | None, Query(max_length=1000,
                                                        description="columns, comma-separated")] = None,
                    collapse: bool = False) -> StreamingResponse:
        """Every matching article (one row per story with `collapse`), streamed: what
        `ceasefire export` writes. An error after the first page cuts the stream short."""
        chosen = parse_fields(fields) if fields else default_fields(
            has_field(client, index, COVERAGE_DATE), collapse)
        pages = row_pages(client, index, q, filters, chosen, collapse=collapse, page_size=page_size)
        first = next(pages, None)  # fail before the 200: a bad request or no cluster says so
        return StreamingResponse(stream_rows(first, pages, format, chosen),
                                 media_type=MEDIA_TYPES[format],
                                 headers={"Content-Disposition": f'attachment; filename="export.{format}"'})

    return app
