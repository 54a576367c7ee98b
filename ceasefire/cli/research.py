"""Researcher commands: search, facets, export, timeline, report, and the read-only HTTP API.

The filter flags are the same for search, export, timeline and report, and mean the same
(`ceasefire.query` builds one query for all of them)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ceasefire.cli.common import allow_pyarrow, choose, command, in_range, settings
from ceasefire.cli.errors import EXIT_CONFIG, EXIT_INCOMPLETE, EXIT_OK, UserError
from ceasefire.cli.output import err, out, print_json, say, table, warn

if TYPE_CHECKING:
    from ceasefire.facets import FacetList
    from ceasefire.query import Filters
    from ceasefire.search import SearchResult
    from ceasefire.timeline import Timeline

# Kept equal to ceasefire.timeline.INTERVALS / SPLITS and ceasefire.query.DATE_FIELDS (a test
# checks): those modules take seconds to import, these answer --help at once.
INTERVALS = ("day", "week", "month")
SPLITS = ("conflict", "source", "topic", "language")
DATE_FIELDS = ("published_at", "coverage_date", "fetched_at", "ingested_at")
MAX_SIZE = 10_000  # Elasticsearch's default result window

Values = list[str] | None
Source = Annotated[Values, typer.Option(
    "--source", metavar="NAME", help="only this outlet (repeatable)")]
Language = Annotated[Values, typer.Option(
    "--language", metavar="CODE",
    help="only this language code (repeatable); query words match in its stemmed forms only")]
Conflict = Annotated[Values, typer.Option(
    "--conflict", metavar="NAME", help="only this conflict, e.g. russia-ukraine")]
Topic = Annotated[Values, typer.Option(
    "--topic", metavar="NAME", help="only this topic, e.g. prisoner-exchange")]
Person = Annotated[Values, typer.Option(
    "--person", metavar="NAME", help="only articles naming this person (any alias: Zelensky)")]
Place = Annotated[Values, typer.Option(
    "--place", metavar="NAME",
    help="only articles naming this place (any alias; a country also matches places in it: "
         "Ukraine, UA)")]
Organization = Annotated[Values, typer.Option(
    "--organization", metavar="NAME",
    help="only articles naming this organization or armed group (any alias)")]
MinRelevance = Annotated[float | None, typer.Option(
    "--min-relevance", metavar="X", help="only articles about a ceasefire at least this much (0..1)")]
DateFrom = Annotated[str | None, typer.Option(
    "--from", metavar="DATE", help="published on or after (YYYY-MM-DD, YYYY-MM, YYYY or ISO time)")]
DateTo = Annotated[str | None, typer.Option(
    "--to", metavar="DATE", help="published on or before (a day, month or year: all of it)")]
Query = Annotated[str, typer.Argument(metavar="QUERY", help="search text (default: every article)",
                                      show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="machine-readable output (only JSON on stdout)")]


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


def _interval(text: str) -> str:
    return choose(text, INTERVALS, "interval")


def _split(text: str | None) -> str | None:
    return None if text is None else choose(text, SPLITS, "split")


def _date_field(text: str | None) -> str | None:
    return None if text is None else choose(text, DATE_FIELDS, "date field")


def asked(query: str, source: Values, language: Values, conflict: Values, topic: Values,
          person: Values, place: Values, organization: Values, min_relevance: float | None,
          date_from: str | None, date_to: str | None) -> Filters:
    """The `Filters` the flags of a research command ask for, after checking its query text
    can be asked with them. FilterError (exit 2, before Elasticsearch is asked anything): a bad
    date, an inverted range, a relevance outside 0..1, too many or too long values, a query
    with more words than the searched fields allow."""
    from ceasefire.query import Filters, check_text

    check_text(query, language or ())
    return Filters(source=source or [], language=language or [], conflict=conflict or [],
                   topic=topic or [], person=person or [], place=place or [],
                   organization=organization or [], min_relevance=min_relevance,
                   published_from=date_from, published_to=date_to)


def _highlighted(snippet: str) -> Any:
    """Rich text with the [[highlighted]] terms in bold on a terminal; markers kept in pipes."""
    from rich.text import Text

    from ceasefire.search import HIGHLIGHT_TAGS

    if not out().is_terminal:
        return Text(snippet.replace("\n", " "))
    text = Text()
    pre, post = HIGHLIGHT_TAGS
    for i, part in enumerate(snippet.replace(post, pre).split(pre)):
        text.append(part.replace("\n", " "), style="bold yellow" if i % 2 else None)
    return text


def print_results(result: SearchResult, query: str) -> None:
    """What the filters were taken to mean and which values match nothing; ranked hits with
    snippets; then facet counts."""
    from rich.text import Text

    from tasks.report import plural

    console = out()
    for alias in result.aliases:
        say(f"{alias.filter} {alias.value!r} = {alias.canonical}", style="dim")
    for hint in result.hints:
        say(hint.message, style="yellow")
    console.print(Text(plural(result.total, "article"), style="bold")
                  + Text(f" ({plural(result.stories, 'distinct story', 'distinct stories')}) for ")
                  + Text(repr(query), style="bold") + Text(f" ({result.took_ms} ms)"))
    for rank, hit in enumerate(result.hits, 1):
        console.print(Text(f"{rank}. ", style="bold") + _highlighted(hit.title or "(no title)")
                      + Text(f"  [{hit.source or 'unknown source'}, "
                             f"{(hit.published_at or 'undated')[:10]}]", style="dim"))
        for snippet in hit.highlights:
            console.print(Text("   … ") + _highlighted(snippet) + Text(" …"))
        if hit.copies > 1:
            say(f"   {plural(hit.copies, 'copy', 'copies')} of this story: "
                f"{', '.join(hit.copy_sources)}", style="cyan")
        say(f"   {hit.url or hit.origin or hit.id}", style="dim")
    for name, buckets in result.facets.items():
        if buckets:
            console.print(Text(name, style="bold") + Text(": " + ", ".join(
                f"{k} ({n})" for k, n in buckets)))


def search(query: Annotated[str, typer.Argument(
               metavar="QUERY", help="search text: all words must match; \"exact phrase\", -exclude, a | b",
               show_default=False)],
           size: Annotated[int, typer.Option("--size", help=f"hits to show (0..{MAX_SIZE})",
                                             show_default=True)] = 10,
           source: Source = None, language: Language = None, conflict: Conflict = None,
           topic: Topic = None, person: Person = None, place: Place = None,
           organization: Organization = None, min_relevance: MinRelevance = None,
           date_from: DateFrom = None, date_to: DateTo = None,
           collapse: Annotated[bool, typer.Option(
               "--collapse", help="one hit per story: near-duplicate copies folded under the "
                                  "earliest")] = False,
           as_json: Json = False) -> int:
    """Full-text search with highlights and facet counts.

    Values of one filter are alternatives, different filters must all match. A filter value
    that matches no article gets the closest known values.
    """
    in_range(size, "--size", 0, MAX_SIZE, "Elasticsearch's result window; use "
             "`ceasefire export` for every match")
    from ceasefire.search import search as run_search
    from tasks.store.client import open_cluster

    chosen = asked(query, source, language, conflict, topic, person, place, organization,
                   min_relevance, date_from, date_to)
    config = settings()
    result = run_search(open_cluster(config), config.read_alias, query, chosen, size,
                        collapse=collapse)
    if as_json:
        print_json(result.to_dict())
    else:
        print_results(result, query)
    return EXIT_OK


FACET_FLAGS = {"source": "--source", "language": "--language", "persons": "--person",
               "places": "--place", "countries": "--place", "organizations": "--organization",
               "groups": "--organization"}


def print_facets(facets: FacetList) -> None:
    """The taxonomy's topics and conflicts with their counts, then the top values per facet."""
    from rich.text import Text

    from tasks.report import plural

    out().print(Text(plural(facets.total, "article"), style="bold")
                + Text(f"; taxonomy {facets.taxonomy_version}"))
    for title, values in (("topics (--topic)", facets.topics),
                          ("conflicts (--conflict)", facets.conflicts)):
        table(title, ("name", "label", "articles"),
              ((v.name, v.label, str(v.count)) for v in values), right=("articles",))
    for name, buckets in facets.top.items():
        flag = FACET_FLAGS.get(name)
        label = f"{name} ({flag})" if flag else name
        out().print(Text(label, style="bold") + Text(": " + (
            ", ".join(f"{k} ({n})" for k, n in buckets) or "none indexed")))


def facets(size: Annotated[int, typer.Option("--size", min=1, max=1000,
                                             help="top values per facet", show_default=True)] = 20,
           as_json: Json = False) -> int:
    """Valid topics and conflicts, and the top values of every facet, with article counts."""
    from ceasefire.facets import list_facets
    from tasks.store.client import open_cluster

    config = settings()
    found = list_facets(open_cluster(config), config.read_alias, size)
    if as_json:
        print_json(found.to_dict())
    else:
        print_facets(found)
    return EXIT_OK


def export(output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                                help="the file to write", show_default=False)],
           query: Query = "",
           source: Source = None, language: Language = None, conflict: Conflict = None,
           topic: Topic = None, person: Person = None, place: Place = None,
           organization: Organization = None, min_relevance: MinRelevance = None,
           date_from: DateFrom = None, date_to: DateTo = None,
           format: Annotated[Format | None, typer.Option(
               "--format", help="default: from the file's extension")] = None,
           fields: Annotated[str | None, typer.Option(
               "--fields", metavar="A,B,C",
               help="columns, comma-separated (default: id, url, title, source, published_at, "
                    "coverage_date, language, conflicts, topics, persons, relevance, cluster_id, "
                    "duplicate_of; with --collapse also copies)")] = None,
           collapse: Annotated[bool, typer.Option(
               "--collapse", help="one row per story: a near-duplicate cluster's earliest "
                                  "matching copy, with its matching copies counted in 'copies'")] = False,
           page_size: Annotated[int, typer.Option("--page-size", metavar="N", min=1, max=MAX_SIZE,
                                                  help="articles per request",
                                                  show_default=True)] = 1000) -> int:
    """Every matching article to CSV, JSON Lines or Parquet.

    Reads from one point in time, so the file is consistent; exits 1 if it does not hold
    every matching article.
    """
    allow_pyarrow()  # Parquet, before the Elasticsearch client is imported
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ceasefire.export import ExportError, default_fields, format_for, parse_fields
    from ceasefire.export import export as run_export
    from ceasefire.mapping import COVERAGE_DATE, has_field
    from tasks.store.client import open_cluster

    chosen = asked(query, source, language, conflict, topic, person, place, organization,
                   min_relevance, date_from, date_to)
    config = settings()
    es = open_cluster(config)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err(), disable=not err().is_terminal)
    try:
        fmt = format_for(output, format.value if format else None)
        columns = parse_fields(fields) if fields else default_fields(
            has_field(es, config.read_alias, COVERAGE_DATE), collapse)
        with bars:
            bar = bars.add_task("exporting articles", total=None)
            result = run_export(es, config.read_alias, query, chosen, output, fmt, columns,
                                collapse=collapse, page_size=page_size,
                                progress=lambda done, total: bars.update(bar, completed=done,
                                                                         total=total))
    except ExportError as exc:
        raise UserError(str(exc), code=EXIT_CONFIG) from None
    if result.complete:
        say(result.summary())
        return EXIT_OK
    from ceasefire.cli.output import error_lines

    error_lines(result.summary())
    return EXIT_INCOMPLETE


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.2%}"


def _title(tl: Timeline, query: str) -> str:
    return (f"{query or 'all articles'!r}: articles per {tl.interval}"
            + (f" by {tl.split}" if tl.split else ""))


def print_timeline(tl: Timeline, query: str) -> None:
    """The timeline as a table (counts per series; shares in --csv and --json), then the notes."""
    first = "week of" if tl.interval == "week" else tl.interval
    series = [s.name for s in tl.series]
    table(_title(tl, query), (first, "articles", "all indexed", "share", *series),
          ((label, f"{tl.counts[i]:,}", f"{tl.indexed[i]:,}", _percent(tl.share(tl.counts[i], i)),
            *(f"{s.counts[i]:,}" for s in tl.series)) for i, label in enumerate(tl.intervals)),
          right=("articles", "all indexed", "share", *series))
    for note in tl.notes():
        say(note, style="dim")


def timeline(query: Query = "",
             source: Source = None, language: Language = None, conflict: Conflict = None,
             topic: Topic = None, person: Person = None, place: Place = None,
             organization: Organization = None, min_relevance: MinRelevance = None,
             date_from: DateFrom = None, date_to: DateTo = None,
             interval: Annotated[str, typer.Option(
                 "--interval", callback=_interval, help="day, week (from Monday) or month",
                 show_default=True)] = "week",
             split: Annotated[str | None, typer.Option(
                 "--split", callback=_split,
                 help="one series per conflict, source, topic or language")] = None,
             top: Annotated[int, typer.Option(
                 "--top", min=1, max=100, help="series for the top N split values (the rest: "
                                               "'other')", show_default=True)] = 5,
             date_field: Annotated[str | None, typer.Option(
                 "--date-field", callback=_date_field,
                 help="the date to count by: " + ", ".join(DATE_FIELDS) + " (default: "
                      "coverage_date if the index has it, else published_at)")] = None,
             csv: Annotated[Path | None, typer.Option(
                 "--csv", metavar="FILE", help="also write tidy CSV here")] = None,
             chart: Annotated[Path | None, typer.Option(
                 "--chart", metavar="FILE.png", help="also draw a PNG chart here")] = None,
             as_json: Json = False) -> int:
    """Matching articles per day, week or month, with their share of all indexed articles."""
    from ceasefire.timeline import timeline as count
    from ceasefire.timeline import write_csv
    from tasks.store.client import open_cluster

    chosen = asked(query, source, language, conflict, topic, person, place, organization,
                   min_relevance, date_from, date_to)
    config = settings()
    tl = count(open_cluster(config), config.read_alias, query, chosen, interval, split, top=top,
               date_field=date_field)
    written = []
    if csv:
        write_csv(tl, csv)
        written.append(f"CSV: {csv}")
    if chart:
        from ceasefire.timeline_chart import plot_timeline  # matplotlib: only when drawing

        plot_timeline(tl, chart, _title(tl, query))
        written.append(f"chart: {chart}")
    if as_json:
        print_json(tl.to_dict())
    else:
        print_timeline(tl, query)
    for line in written:
        (warn if as_json else say)(f"wrote {line}")
    return EXIT_OK


def report(output: Annotated[Path, typer.Option(
               "-o", "--output", metavar="DIR", help="folder for index.html and the PNG charts",
               show_default=False)],
           query: Query = "",
           source: Source = None, language: Language = None, conflict: Conflict = None,
           topic: Topic = None, person: Person = None, place: Place = None,
           organization: Organization = None, min_relevance: MinRelevance = None,
           date_from: DateFrom = None, date_to: DateTo = None,
           interval: Annotated[str, typer.Option(
               "--interval", callback=_interval,
               help="the volume chart's interval: day, week or month", show_default=True)] = "week",
           top: Annotated[int, typer.Option("--top", min=1, max=100, help="bars per chart",
                                            show_default=True)] = 10,
           headlines: Annotated[int, typer.Option("--headlines", min=0, max=1000,
                                                  help="sample headlines",
                                                  show_default=True)] = 20) -> int:
    """An HTML page with charts and sample headlines, readable offline."""
    from ceasefire.report import INDEX, build_report  # matplotlib: only when drawing
    from tasks.report import plural
    from tasks.store.client import open_cluster

    chosen = asked(query, source, language, conflict, topic, person, place, organization,
                   min_relevance, date_from, date_to)
    config = settings()
    data = build_report(open_cluster(config), config.read_alias, query, chosen, output,
                        interval=interval, top=top, headlines=headlines)
    say(f"{plural(data.total, 'matching article')}; wrote {output / INDEX} and "
        f"{plural(len(data.charts), 'chart')}")
    return EXIT_OK


def serve(host: Annotated[str, typer.Option(
              "--host", help="address to listen on (127.0.0.1: this machine only; any other "
                             "needs CEASEFIRE_API_KEY or --insecure-public)",
              show_default=True)] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on",
                                            show_default=True)] = 8000,
          insecure_public: Annotated[bool, typer.Option(
              "--insecure-public", help="allow a non-loopback --host without an API key")] = False) -> int:
    """A read-only HTTP API for scripts: /search, /timeline, /export, /facets (docs at /docs)."""
    import uvicorn  # with FastAPI: only when serving

    from ceasefire.api import create_app, is_loopback

    config = settings()
    if not is_loopback(host) and config.api_key is None and not insecure_public:
        raise UserError(f"--host {host} is reachable from other machines, and no API key is set",
                        "set CEASEFIRE_API_KEY (clients send it as X-API-Key), or pass "
                        "--insecure-public to serve the index to anyone who can reach this port")
    where = f"[{host}]" if ":" in host else host
    say(f"serving {config.read_alias} read-only at http://{where}:{port} "
        f"(docs: /docs; API key {'required' if config.api_key else 'not required'})")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """The researcher commands, in the order `--help` lists them."""
    panel = "Research"
    command(app, search,
            'ceasefire search "energy infrastructure"',
            'ceasefire search ceasefire --source lbc --from 2025-10-01 --to 2025-10-31 --collapse',
            'ceasefire search "" --person Zelensky --json',
            panel=panel)
    command(app, facets,
            "ceasefire facets",
            "ceasefire facets --size 5 --json",
            panel=panel)
    command(app, export,
            "ceasefire export ceasefire -o ceasefire.csv",
            "ceasefire export --conflict russia-ukraine -o ru-ua.parquet --collapse",
            "ceasefire export truce -o truce.jsonl --fields id,title,url",
            panel=panel)
    command(app, timeline,
            "ceasefire timeline ceasefire",
            "ceasefire timeline truce --interval month --split conflict --csv truce.csv",
            "ceasefire timeline --from 2025-10 --chart weekly.png --json",
            panel=panel)
    command(app, report,
            "ceasefire report ceasefire -o report/",
            "ceasefire report --conflict israel-gaza --interval day -o gaza/",
            panel=panel)
    command(app, serve,
            "ceasefire serve",
            "CEASEFIRE_API_KEY=s3cret ceasefire serve --host 0.0.0.0 --port 8080",
            panel=panel)


__all__ = ["asked", "print_facets", "print_results", "print_timeline", "register"]
