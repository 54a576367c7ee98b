"""`ceasefire report`: one self-contained HTML page with PNG charts of what a query matches
(volume over time by conflict, top outlets, persons, topics, languages) and sample headlines,
written to a folder (`index.html` + PNGs, relative links) that reads offline.

The facets and sample headlines come from one request; the volume chart is `ceasefire.timeline`'s
(split by conflict). Every value from the index is escaped in the HTML: titles are hostile
input, and only http(s) URLs become links.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch

from ceasefire.mapping import coverage_field
from ceasefire.query import Filters, article_query
from ceasefire.timeline import Timeline, timeline
from tasks.store.retrying import call

# Chart name -> (heading, keyword field, multi-valued).
FACETS: dict[str, tuple[str, str, bool]] = {
    "sources": ("Top outlets", "source", False),
    "persons": ("Top persons", "entities.persons", True),
    "topics": ("Top topics", "topics", True),
    "languages": ("Languages", "language", False),
}
TOP = 10
HEADLINES = 20
INDEX = "index.html"
VOLUME = "volume.png"


@dataclass(slots=True)
class Headline:
    title: str
    source: str | None
    published_at: str | None
    url: str | None


@dataclass(slots=True)
class Facet:
    name: str
    bars: list[tuple[str, int]]  # (value, matching articles with it), most first
    without: int  # matching articles with no value


@dataclass(slots=True)
class ReportData:
    total: int
    facets: list[Facet]
    headlines: list[Headline]
    timeline: Timeline | None = None
    charts: dict[str, str] = field(default_factory=dict)  # name -> PNG file name in the folder


def report_body(query: dict[str, Any], top: int = TOP, headlines: int = HEADLINES) -> dict[str, Any]:
    """The one request for every facet's top values, the matches without a value, and the
    best-scoring headlines."""
    aggs: dict[str, Any] = {}
    for name, (_, fld, _) in FACETS.items():
        aggs[name] = {"terms": {"field": fld, "size": top}}
        aggs[f"{name}_missing"] = {"missing": {"field": fld}}
    return {"size": headlines, "track_total_hits": True, "query": query, "aggs": aggs,
            "_source": ["title", "source", "published_at", "url"]}


def parse_report(resp: dict[str, Any]) -> ReportData:
    """`ReportData` (no timeline yet) from the answer to `report_body`."""
    aggs = resp["aggregations"]
    facets = [Facet(name, [(str(b["key"]), int(b["doc_count"])) for b in aggs[name]["buckets"]],
                    int(aggs[f"{name}_missing"]["doc_count"])) for name in FACETS]
    heads = []
    for hit in resp["hits"]["hits"]:
        src = hit.get("_source", {})
        heads.append(Headline(str(src.get("title") or "(no title)"), src.get("source"),
                              src.get("published_at"), src.get("url")))
    return ReportData(int(resp["hits"]["total"]["value"]), facets, heads)


def describe_query(text: str, filters: Filters | None) -> list[tuple[str, str]]:
    """What the report was asked for, as (name, value) rows."""
    rows = [("query", text.strip() or "(every article)")]
    if filters is not None:
        for name, value in filters.values():
            rows.append((name, value))
        if filters.published_from:
            rows.append((f"from ({filters.date_field})", filters.published_from))
        if filters.published_to:
            rows.append((f"to ({filters.date_field})", filters.published_to))
        if filters.min_relevance is not None:
            rows.append(("min relevance", str(filters.min_relevance)))
    return rows


def notes(data: ReportData) -> list[str]:
    """What a reader must know to read the charts right."""
    out = []
    if data.timeline is not None:
        out += data.timeline.notes()
    multi = ", ".join(FACETS[f.name][0].lower() for f in data.facets if FACETS[f.name][2])
    out.append(f"{multi} are multi-valued: an article naming two counts under both, so the bars "
               "can add up to more than the total; bars count articles, not mentions")
    out += [f"{FACETS[f.name][0].lower()}: {f.without:,} matching article"
            f"{'' if f.without == 1 else 's'} with none" for f in data.facets if f.without]
    return out


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL (what a headline may link to), else None."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def headline_html(h: Headline) -> str:
    """One headline as a list item: title (a link only to an http(s) URL), outlet, date, URL."""
    url = safe_url(h.url)
    title = (f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(h.title)}</a>' if url
             else _esc(h.title))
    meta = " · ".join(_esc(v) for v in (h.source or "unknown outlet",
                                        (h.published_at or "undated")[:10]))
    link = f'<div class="url">{_esc(h.url)}</div>' if h.url else ""
    return f'<li><span class="title">{title}</span> <span class="meta">{meta}</span>{link}</li>'


STYLE = """body{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}table.query td{padding:.1rem .6rem .1rem 0}img{max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid figure{flex:1 1 26rem;margin:0}
.meta{color:#666;font-size:.9em}.url{color:#888;font-size:.8em;word-break:break-all}
ul.notes{color:#555;font-size:.9em}li{margin:.3rem 0}"""


def render_html(data: ReportData, asked: list[tuple[str, str]], generated: datetime) -> str:
    """The page: what was asked, the total, the charts (relative PNG links), sample headlines
    and notes; every value escaped, nothing loaded from outside the folder."""
    rows = "".join(f"<tr><td>{_esc(k)}</td><td><code>{_esc(v)}</code></td></tr>" for k, v in asked)
    charts = []
    if VOLUME in data.charts.values():
        charts.append(f'<figure><img src="{VOLUME}" alt="matching articles over time by '
                      f'conflict"></figure>')
    grid = "".join(f'<figure><img src="{_esc(data.charts[f.name])}" alt="{_esc(FACETS[f.name][0])}">'
                   f"</figure>" for f in data.facets if f.name in data.charts)
    heads = "".join(headline_html(h) for h in data.headlines)
    note_items = "".join(f"<li>{_esc(n)}</li>" for n in notes(data))
    when = generated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Coverage report: {asked[0][1]}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{_esc(title)}</h1>\n<table class=\"query\">{rows}</table>\n"
            f"<p><strong>{data.total:,}</strong> matching articles · report made {_esc(when)}</p>\n"
            f"<h2>Volume over time</h2>{''.join(charts)}\n"
            f'<h2>Who and what</h2><div class="grid">{grid}</div>\n'
            f'<h2>Sample headlines</h2><p class="meta">the {len(data.headlines)} best-scoring of '
            f'{data.total:,}</p><ol class="headlines">{heads}</ol>\n'
            f'<h2>Notes</h2><ul class="notes">{note_items}</ul>\n</body></html>\n')


def build_report(es: Elasticsearch, index: str, text: str, filters: Filters | None, out: Path,
                 *, interval: str = "week", top: int = TOP, headlines: int = HEADLINES,
                 now: datetime | None = None) -> ReportData:
    """Ask the index, draw the charts and write `out/index.html`; the data it shows."""
    from ceasefire.report_charts import plot_bars  # matplotlib: only when drawing
    from ceasefire.timeline_chart import plot_timeline

    out.mkdir(parents=True, exist_ok=True)
    date_field = coverage_field(es, index)  # --from/--to bound the same date as the timeline
    filters = dataclasses.replace(filters or Filters(), date_field=date_field)
    body = report_body(article_query(text, filters), top, headlines)
    data = parse_report(call(lambda: es.search(index=index, **body).body, what="report"))
    data.timeline = timeline(es, index, text, filters, interval, "conflict", date_field=date_field)
    plot_timeline(data.timeline, out / VOLUME, f"articles per {interval} by conflict")
    data.charts["volume"] = VOLUME
    for facet in data.facets:
        heading, _, multi = FACETS[facet.name]
        name = f"{facet.name}.png"
        plot_bars(facet.bars, out / name, heading,
                  "multi-valued: an article can count under several" if multi else "")
        data.charts[facet.name] = name
    page = render_html(data, describe_query(text, filters), now or datetime.now(UTC))
    (out / INDEX).write_text(page, encoding="utf-8")
    return data
