"""`ceasefire`: the command line for ops and researchers."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ceasefire import local_es
from ceasefire.deadletters import add_commands as add_deadletter_commands
from ceasefire.facets import FacetList, list_facets
from ceasefire.query import DATE_FIELDS
from ceasefire.search import HIGHLIGHT_TAGS, Filters, SearchResult, search
from ceasefire.timeline import Timeline, parse_interval, parse_split, timeline
from ceasefire.timeline import write_csv as write_timeline_csv
from tasks import progress
from tasks.settings import ConfigError, Settings
from tasks.sources import SourcesError, load_sources
from tasks.store.client import open_cluster
from tasks.store.reindex import ReindexError
from tasks.store.setup import SetupError, setup_indices

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# soft_wrap: messages stay on one line for logs and grep; tables still fit the terminal.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _cmd_es(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "nodes", None):
        settings = settings.replace(local_nodes=args.nodes)
    if args.action == "start":
        with err.status("starting Elasticsearch (first use downloads it with Maven)..."):
            node = local_es.start(settings)
        if len(node.nodes) == 1:
            console.print(f"Elasticsearch is up at {node.url} (pid {node.pid}, health {node.health})")
        else:
            console.print(f"Elasticsearch cluster of {len(node.nodes)} nodes is up at "
                          f"{', '.join(node.urls)} (pids {[n.pid for n in node.nodes]}, "
                          f"health {node.health})")
    elif args.action == "stop":
        pids = local_es.stop(settings)
        console.print(f"stopped Elasticsearch (pids {pids})" if pids
                      else "Elasticsearch was not running")
    else:
        node = local_es.status(settings)
        if args.json:
            print(json.dumps({"running": node.running, "url": node.url, "pid": node.pid,
                              "health": node.health, "home": str(node.home),
                              "nodes": [{"url": n.url, "pid": n.pid, "running": n.running}
                                        for n in node.nodes]}))
        else:
            if len(node.nodes) > 1:
                for n in node.nodes:
                    console.print(f"  {'running' if n.running else 'stopped'}: {n.url} pid={n.pid}")
            state = "running" if node.running else \
                "partly running" if any(n.running for n in node.nodes) else "stopped"
            console.print(f"{state}: {', '.join(node.urls)} pid={node.pid} health={node.health} "
                          f"home={node.home}")
        return 0 if node.running else 3
    return 0


def _cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    result = setup_indices(open_cluster(settings), settings)
    console.print(f"index {result.index} ready behind {settings.read_alias} / "
                  f"{settings.write_alias}; English stemming: "
                  f"{'yes' if result.stemming else 'not available on this cluster'}")
    for change in result.changes:
        console.print(f"  {change}")
    return 0


def with_progress(run: Callable[[], T]) -> T:
    """Run a flow in this process with a progress bar per pipeline stage (on a terminal)."""
    bars = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, disable=not err.is_terminal)
    stages: dict[str, TaskID] = {}
    lock = threading.Lock()

    def update(stage: str, done: int, total: int) -> None:
        with lock:
            if stage not in stages:
                stages[stage] = bars.add_task(stage, total=total or None)
            bars.update(stages[stage], completed=done, total=total or None)  # 0: not known

    with bars, progress.listening(update):
        return run()


def _run_ingest(paths: list[str], batch_size: int, dask: bool = False):
    from flows.ingest import ingest_files  # Prefect is slow to import: only when needed

    return with_progress(lambda: ingest_files(paths=paths, batch_size=batch_size, dask=dask))


# Exit codes: 0 every input indexed or skipped with a reason; 1 some dead-lettered; 2 a
# configuration problem (settings, unreachable cluster, missing input); 3 the run failed.
EXIT_OK, EXIT_DEAD_LETTERED, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3
EXIT_INCOMPLETE = 1  # export: the file does not hold every matching article


def _exit_code(report) -> int:
    return EXIT_OK if report.dead_lettered == 0 else EXIT_DEAD_LETTERED


def _print_report(report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title="ingest summary")
    table.add_column("step")
    table.add_column("count", justify="right")
    for label, value in report.rows():
        table.add_row(label, str(value))
    console.print(table)
    for example in report.skip_examples:
        console.print(f"[yellow]skipped[/] {example}")


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from flows.ingest import ingest_sources  # Prefect is slow to import: only when needed

    _preflight(settings)
    report = with_progress(lambda: ingest_sources(sources_file=str(args.sources),
                                                  only=args.only or None,
                                                  batch_size=args.batch_size))
    _print_report(report, args.json)
    return _exit_code(report)


def _cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from prefect.exceptions import ParameterTypeError

    from flows.backfill import backfill  # Prefect is slow to import: only when needed

    _preflight(settings, args.warc or [])
    try:
        params = backfill.validate_parameters({
            "paths": [str(p) for p in args.paths] or None, "url_list": args.url_list,
            "warcs": [str(p) for p in args.warc or []] or None,
            "urls": args.url or None, "sources_file": args.sources, "only": args.only or None,
            "since": args.since, "until": args.until, "refetch": args.refetch,
            "batch_size": args.batch_size, "dask": args.dask})
        report = with_progress(lambda: backfill(**params))
    except (ParameterTypeError, ValueError) as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)))
        return EXIT_CONFIG
    _print_report(report, args.json)
    return _exit_code(report)


def _cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    if args.rollback:
        from tasks.store.reindex import rollback

        rollback(open_cluster(settings), settings, args.rollback)
        console.print(f"{settings.read_alias} and {settings.write_alias} -> {args.rollback}")
        return 0
    from flows.reindex import reindex_flow  # Prefect is slow to import: only when needed

    result = reindex_flow(rebuild=args.rebuild)
    console.print(f"reindexed {result.source} -> {result.target}: {result.copied} copied, "
                  f"{result.newer} written meanwhile, {result.target_count} documents; "
                  f"the old index is kept (roll back: ceasefire reindex --rollback {result.source})")
    return 0


def _cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    sources = load_sources(args.sources)
    table = Table(title=f"{args.sources}: {len(sources)} sources")
    for column in ("name", "kind", "where", "outlet", "lang", "enabled", "interval s", "max items"):
        table.add_column(column)
    for s in sources:
        table.add_row(s.name, s.kind, s.url or s.path or f"{len(s.urls)} URLs", s.outlet or "",
                      s.language or "", "yes" if s.enabled else "no", f"{s.min_interval:g}",
                      str(s.max_items))
    console.print(table)
    return 0


def _preflight(settings: Settings, paths: Sequence[Path | str] = ()) -> None:
    """What would fail a run, checked before Prefect starts: inputs exist, the cluster answers."""
    from flows.stream import check_paths  # Prefect is slow to import: only when needed

    check_paths(paths)
    open_cluster(settings).close()


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    _preflight(settings, args.paths)
    report = _run_ingest([str(p) for p in args.paths], args.batch_size, args.dask)
    _print_report(report, args.json)
    return _exit_code(report)


def _highlighted(snippet: str) -> Text:
    """Rich text with the [[highlighted]] terms in bold on a terminal; markers kept in pipes."""
    if not console.is_terminal:
        return Text(snippet.replace("\n", " "))
    text = Text()
    pre, post = HIGHLIGHT_TAGS
    for i, part in enumerate(snippet.replace(post, pre).split(pre)):
        text.append(part.replace("\n", " "), style="bold yellow" if i % 2 else None)
    return text


def print_results(result: SearchResult, query: str) -> None:
    """Ranked hits with snippets, then facet counts; first what the filters were taken to
    mean and which of their values match nothing."""
    for alias in result.aliases:
        console.print(Text(f"{alias.filter} {alias.value!r} = {alias.canonical}", style="dim"))
    for hint in result.hints:
        console.print(Text(hint.message, style="yellow"))
    console.print(f"[bold]{result.total}[/] articles ({result.stories} distinct stories) for "
                  f"[bold]{query!r}[/] ({result.took_ms} ms)")
    for rank, hit in enumerate(result.hits, 1):
        console.print(Text(f"{rank}. ", style="bold") + _highlighted(hit.title)
                      + Text(f"  [{hit.source or 'unknown source'}, "
                             f"{(hit.published_at or 'undated')[:10]}]", style="dim"))
        for snippet in hit.highlights:
            console.print(Text("   … ") + _highlighted(snippet) + Text(" …"))
        if hit.copies > 1:
            console.print(Text(f"   {hit.copies} copies of this story: {', '.join(hit.copy_sources)}",
                               style="cyan"))
        console.print(Text(f"   {hit.url or hit.origin or hit.id}", style="dim"))
    for name, buckets in result.facets.items():
        if buckets:
            console.print(f"[bold]{name}[/]: " + ", ".join(f"{k} ({n})" for k, n in buckets))


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter flags shared by search, export and timeline (read back by `filters_from`)."""
    parser.add_argument("--source", action="append", help="only this outlet (repeatable)")
    parser.add_argument("--language", action="append", help="only this language code (repeatable)")
    parser.add_argument("--conflict", action="append", help="only this conflict, e.g. russia-ukraine")
    parser.add_argument("--topic", action="append", help="only this topic, e.g. prisoner-exchange")
    parser.add_argument("--person", action="append",
                        help="only articles naming this person (any alias: Zelensky)")
    parser.add_argument("--place", action="append",
                        help="only articles naming this place (any alias; a country also "
                             "matches places in it: Ukraine, UA)")
    parser.add_argument("--organization", action="append",
                        help="only articles naming this organization or armed group (any alias)")
    parser.add_argument("--min-relevance", type=float, metavar="X",
                        help="only articles about a ceasefire at least this much (0..1)")
    parser.add_argument("--from", dest="date_from",
                        help="published on or after (YYYY-MM-DD, YYYY-MM, YYYY or ISO time)")
    parser.add_argument("--to", dest="date_to",
                        help="published on or before (a day, month or year: all of it)")


def filters_from(args: argparse.Namespace) -> Filters:
    """The `Filters` the flags of `add_filter_arguments` ask for (FilterError, exit 2, for
    a bad date, an inverted range or a relevance outside 0..1)."""
    return Filters(source=args.source or [], language=args.language or [],
                   conflict=args.conflict or [], topic=args.topic or [],
                   person=args.person or [], place=args.place or [],
                   organization=args.organization or [], min_relevance=args.min_relevance,
                   published_from=args.date_from, published_to=args.date_to)


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    filters = filters_from(args)
    result = search(open_cluster(settings), settings.read_alias, args.query, filters, args.size,
                    collapse=args.collapse)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_results(result, args.query)
    return 0


def print_facets(facets: FacetList) -> None:
    """The taxonomy's topics and conflicts with their counts, then the top values per facet."""
    console.print(f"[bold]{facets.total}[/] articles; taxonomy {facets.taxonomy_version}")
    for title, values in (("topics (--topic)", facets.topics),
                          ("conflicts (--conflict)", facets.conflicts)):
        table = Table(title=title, title_justify="left")
        for column in ("name", "label", "articles"):
            table.add_column(column, justify="right" if column == "articles" else "left")
        for v in values:
            table.add_row(v.name, v.label, str(v.count))
        console.print(table)
    for name, buckets in facets.top.items():
        flag = FACET_FLAGS.get(name)
        label = f"{name} ({flag})" if flag else name
        console.print(f"[bold]{label}[/]: " + (", ".join(f"{k} ({n})" for k, n in buckets)
                                               or "none indexed"))


FACET_FLAGS = {"source": "--source", "language": "--language", "persons": "--person",
               "places": "--place", "countries": "--place", "organizations": "--organization",
               "groups": "--organization"}


def _cmd_facets(args: argparse.Namespace, settings: Settings) -> int:
    facets = list_facets(open_cluster(settings), settings.read_alias, args.size)
    if args.json:
        print(json.dumps(facets.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_facets(facets)
    return 0


def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from ceasefire.export import ExportError, default_fields, export, format_for, parse_fields
    from ceasefire.mapping import COVERAGE_DATE, has_field

    es = open_cluster(settings)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, disable=not err.is_terminal)
    try:
        fmt = format_for(args.output, args.format)
        fields = parse_fields(args.fields) if args.fields else default_fields(
            has_field(es, settings.read_alias, COVERAGE_DATE), args.collapse)
        with bars:
            bar = bars.add_task("exporting articles", total=None)
            result = export(es, settings.read_alias, args.query, filters_from(args), args.output,
                            fmt, fields, collapse=args.collapse, page_size=args.page_size,
                            progress=lambda done, total: bars.update(bar, completed=done, total=total))
    except ExportError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)))
        return EXIT_CONFIG
    if result.complete:
        console.print(Text(result.summary()))
        return EXIT_OK
    err.print(Text("error: ", style="red") + Text(result.summary()))
    return EXIT_INCOMPLETE


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.2%}"


def print_timeline(tl: Timeline, query: str) -> None:
    """The timeline as a table (counts per series; shares in --csv and --json), then the notes."""
    table = Table(title=f"{query or 'all articles'!r}: articles per {tl.interval}"
                        + (f" by {tl.split}" if tl.split else ""))
    table.add_column("week of" if tl.interval == "week" else tl.interval)
    for name in ("articles", "all indexed", "share", *(s.name for s in tl.series)):
        table.add_column(name, justify="right")
    for i, label in enumerate(tl.intervals):
        table.add_row(label, f"{tl.counts[i]:,}", f"{tl.indexed[i]:,}",
                      _percent(tl.share(tl.counts[i], i)), *(f"{s.counts[i]:,}" for s in tl.series))
    console.print(table)
    for note in tl.notes():
        console.print(Text(note, style="dim"))


def _cmd_timeline(args: argparse.Namespace, settings: Settings) -> int:
    tl = timeline(open_cluster(settings), settings.read_alias, args.query, filters_from(args),
                  args.interval, args.split, top=args.top, date_field=args.date_field)
    written = []
    if args.csv:
        write_timeline_csv(tl, args.csv)
        written.append(f"CSV: {args.csv}")
    if args.chart:
        from ceasefire.timeline_chart import plot_timeline  # matplotlib: only when drawing

        plot_timeline(tl, args.chart, f"{args.query or 'all articles'!r}: articles per {tl.interval}"
                      + (f" by {tl.split}" if tl.split else ""))
        written.append(f"chart: {args.chart}")
    if args.json:
        print(json.dumps(tl.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_timeline(tl, args.query)
    for line in written:
        (err if args.json else console).print(Text(f"wrote {line}"))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from ceasefire.report import INDEX, build_report  # matplotlib: only when drawing

    data = build_report(open_cluster(settings), settings.read_alias, args.query, filters_from(args),
                        args.output, interval=args.interval, top=args.top,
                        headlines=args.headlines)
    console.print(Text(f"{data.total:,} matching articles; wrote {args.output / INDEX} and "
                       f"{len(data.charts)} charts"))
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # with FastAPI: only when serving

    from ceasefire.api import create_app, is_loopback

    if not is_loopback(args.host) and settings.api_key is None and not args.insecure_public:
        err.print(Text("error: ", style="red") + Text(
            f"--host {args.host} is reachable from other machines, and no API key is set: set "
            "CEASEFIRE_API_KEY (clients send it as X-API-Key), or pass --insecure-public to "
            "serve the index to anyone who can reach this port"))
        return EXIT_CONFIG
    where = f"[{args.host}]" if ":" in args.host else args.host
    console.print(f"serving {settings.read_alias} read-only at http://{where}:{args.port} "
                  f"(docs: /docs; API key {'required' if settings.api_key else 'not required'})")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def _parsed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse `type` from a parser raising ValueError: its message becomes the usage error."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.es_url:
        _cmd_es(argparse.Namespace(action="start", json=False), settings)
    _cmd_setup(args, settings)
    report = _run_ingest([str(args.path)], 500)
    _print_report(report, False)
    result = search(open_cluster(settings), settings.read_alias, args.query)
    print_results(result, args.query)
    count = open_cluster(settings).count(index=settings.read_alias)["count"]
    console.print(f"\nthe index now holds {count} articles. Try: ceasefire search \"ceasefire\""
                  + ("" if settings.es_url else "; stop the node with: ceasefire es stop"))
    return 0


DASK_HELP = ("read files and archives in shards on a Dask cluster: CEASEFIRE_DASK_ADDRESS, "
             "else a local cluster of CEASEFIRE_DASK_WORKERS processes (default: the cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ceasefire", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    es = sub.add_parser("es", help="the local Elasticsearch node or cluster: start, stop, status")
    es.add_argument("action", choices=["start", "stop", "status"])
    es.add_argument("--nodes", type=int, choices=range(1, 10), metavar="N",
                    help="start (or expect) a cluster of N local nodes (default: CEASEFIRE_ES_NODES, "
                         "or what is running, or 1); stop stops them all")
    es.add_argument("--json", action="store_true", help="status as JSON")
    es.set_defaults(func=_cmd_es)

    setup = sub.add_parser("setup", help="create or update templates, index and aliases")
    setup.set_defaults(func=_cmd_setup)

    ingest = sub.add_parser("ingest", help="ingest files or directories (.txt, .html, .jsonl)")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--batch-size", type=int, default=500)
    ingest.add_argument("--dask", action="store_true", help=DASK_HELP)
    ingest.add_argument("--json", action="store_true", help="summary as JSON")
    ingest.set_defaults(func=_cmd_ingest)

    run = sub.add_parser("run", help="ingest everything new from the source list (what the "
                                     "hourly deployment runs)")
    run.add_argument("--sources", type=Path, default=Path("sources.yaml"))
    run.add_argument("--only", action="append", help="only this source (repeatable)")
    run.add_argument("--batch-size", type=int, default=500)
    run.add_argument("--json", action="store_true", help="summary as JSON")
    run.set_defaults(func=_cmd_run)

    bf = sub.add_parser("backfill", help="ingest a folder, a URL list or the sources' archives "
                                         "over a date window (what the backfill deployment runs)")
    bf.add_argument("paths", nargs="*", type=Path, help="folders or files to read")
    bf.add_argument("--warc", nargs="+", action="extend", type=Path, metavar="FILE",
                    help="WARC/ARC files to read (plain or gzip per record, as CC-NEWS)")
    bf.add_argument("--dask", action="store_true", help=DASK_HELP)
    bf.add_argument("--url-list", help="a file of URLs, one per line")
    bf.add_argument("--url", action="append", help="a URL to fetch (repeatable)")
    bf.add_argument("--sources", help="read the feeds and sitemaps of this source list")
    bf.add_argument("--only", action="append", help="only this source of --sources (repeatable)")
    bf.add_argument("--since", help="published on or after (ISO date or time; naive = UTC)")
    bf.add_argument("--until", help="published before this time, or on or before this date")
    bf.add_argument("--refetch", action="store_true", help="fetch pages already indexed again")
    bf.add_argument("--batch-size", type=int, default=500)
    bf.add_argument("--json", action="store_true", help="summary as JSON")
    bf.set_defaults(func=_cmd_backfill)

    rx = sub.add_parser("reindex", help="rebuild the index with the current mapping, no downtime")
    rx.add_argument("--rollback", metavar="INDEX", help="point both aliases back at INDEX")
    rx.add_argument("--rebuild", action="store_true",
                    help="also run every document through the current cleaning and enrichment")
    rx.set_defaults(func=_cmd_reindex)

    src = sub.add_parser("sources", help="validate and list the source list")
    src.add_argument("action", choices=["check"])
    src.add_argument("--sources", type=Path, default=Path("sources.yaml"))
    src.set_defaults(func=_cmd_sources)

    s = sub.add_parser("search", help="full-text search with highlights and facets")
    s.add_argument("query")
    s.add_argument("--size", type=int, default=10)
    add_filter_arguments(s)
    s.add_argument("--collapse", action="store_true",
                   help="one hit per story: near-duplicate copies folded under the earliest")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_cmd_search)

    fc = sub.add_parser("facets", help="valid topics and conflicts, and the top values of every "
                                       "facet, with article counts")
    fc.add_argument("--size", type=int, default=20, help="top values per facet (default 20)")
    fc.add_argument("--json", action="store_true", help="machine-readable output")
    fc.set_defaults(func=_cmd_facets)

    ex = sub.add_parser("export", help="every matching article to CSV, JSON Lines or Parquet")
    ex.add_argument("query", nargs="?", default="", help="search text (default: every article)")
    add_filter_arguments(ex)
    ex.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    ex.add_argument("--format", choices=["csv", "jsonl", "parquet"],
                    help="default: from the file's extension")
    ex.add_argument("--fields", metavar="A,B,C", help="columns, comma-separated (default: id, url, "
                    "title, source, published_at, coverage_date, language, conflicts, topics, "
                    "persons, relevance, cluster_id, duplicate_of; with --collapse also copies)")
    ex.add_argument("--collapse", action="store_true",
                    help="one row per story: a near-duplicate cluster's earliest matching copy, "
                         "with its matching copies counted in 'copies'")
    ex.add_argument("--page-size", type=int, default=1000, metavar="N",
                    help="articles per request (default 1000)")
    ex.set_defaults(func=_cmd_export)

    tl = sub.add_parser("timeline", help="matching articles per day, week or month, with their "
                                         "share of all indexed articles")
    tl.add_argument("query", nargs="?", default="", help="search text (default: every article)")
    add_filter_arguments(tl)
    tl.add_argument("--interval", type=_parsed(parse_interval), default="week",
                    help="day, week (from Monday) or month; default week")
    tl.add_argument("--split", type=_parsed(parse_split),
                    help="one series per conflict, source, topic or language")
    tl.add_argument("--top", type=int, default=5, help="series for the top N split values "
                                                       "(the rest: 'other'); default 5")
    tl.add_argument("--date-field", choices=DATE_FIELDS,
                    help="the date to count by (default: coverage_date if the index has it, "
                         "else published_at)")
    tl.add_argument("--csv", type=Path, metavar="FILE", help="also write tidy CSV here")
    tl.add_argument("--chart", type=Path, metavar="FILE.png", help="also draw a PNG chart here")
    tl.add_argument("--json", action="store_true", help="machine-readable output")
    tl.set_defaults(func=_cmd_timeline)

    rp = sub.add_parser("report", help="an HTML page with charts and sample headlines, readable "
                                       "offline")
    rp.add_argument("query", nargs="?", default="", help="search text (default: every article)")
    add_filter_arguments(rp)
    rp.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                    help="folder for index.html and the PNG charts")
    rp.add_argument("--interval", type=_parsed(parse_interval), default="week",
                    help="the volume chart's interval: day, week or month; default week")
    rp.add_argument("--top", type=int, default=10, help="bars per chart; default 10")
    rp.add_argument("--headlines", type=int, default=20, help="sample headlines; default 20")
    rp.set_defaults(func=_cmd_report)

    sv = sub.add_parser("serve", help="a read-only HTTP API for scripts: /search, /timeline, "
                                      "/export, /facets (OpenAPI docs at /docs)")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only; any other "
                         "needs CEASEFIRE_API_KEY or --insecure-public)")
    sv.add_argument("--port", type=int, default=8000, help="default 8000")
    sv.add_argument("--insecure-public", action="store_true",
                    help="allow a non-loopback --host without an API key")
    sv.set_defaults(func=_cmd_serve)

    add_deadletter_commands(sub)

    demo = sub.add_parser("demo", help="start ES, set up, ingest the sample articles, search")
    demo.add_argument("--path", type=Path, default=EXAMPLES)
    demo.add_argument("--query", default="energy infrastructure")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The temporary Prefect server inherits this: no telemetry calls from offline machines.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect gives its temporary server 20 s to answer; a busy 2-core machine needs longer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The client logs each failed attempt with a traceback; what failed is said once, plainly.
    logging.getLogger("elastic_transport").setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    try:
        return args.func(args, Settings.from_env())
    except (local_es.LocalESError, ConfigError, SetupError, SourcesError, ReindexError) as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)))
        return EXIT_CONFIG
    except Exception as exc:  # the run itself failed: say so in one line (-v shows the traceback)
        if args.verbose:
            err.print_exception()
        err.print(Text("error: the run failed: ", style="red") + Text(f"{type(exc).__name__}: {exc}"))
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
