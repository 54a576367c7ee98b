"""Ops commands: the local Elasticsearch, index setup, running the pipeline (ingest, run,
backfill), reindexing, the source list, and the demo."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ceasefire.cli.common import EXAMPLES_DIR, command, existing, settings
from ceasefire.cli.errors import EXIT_DEAD_LETTERED, EXIT_OK, UserError
from ceasefire.cli.output import out, print_json, print_report, say, table, with_progress

BATCH_HELP = "articles per batch sent to Elasticsearch"
DASK_HELP = ("read files and archives in shards on a Dask cluster: CEASEFIRE_DASK_ADDRESS, "
             "else a local cluster of CEASEFIRE_DASK_WORKERS processes (default: the cores)")
PREFECT_HELP = ("run as a Prefect flow run (tracked in the Prefect UI; starts a temporary "
                "Prefect server when PREFECT_API_URL is not set). Default: only when "
                "PREFECT_API_URL is set or --dask")
JSON_SUMMARY = "print the summary as JSON (only JSON on stdout)"

Batch = Annotated[int, typer.Option("--batch-size", min=1, help=BATCH_HELP, show_default=True)]
Json = Annotated[bool, typer.Option("--json", help=JSON_SUMMARY)]
Prefect = Annotated[bool | None, typer.Option("--prefect/--no-prefect", help=PREFECT_HELP,
                                                 show_default=False)]
Only = Annotated[list[str] | None, typer.Option("--only", metavar="NAME",
                                                   help="only this source (repeatable)")]


class EsAction(StrEnum):
    start = "start"
    stop = "stop"
    status = "status"


class SourcesAction(StrEnum):
    check = "check"


def exit_code(report: Any) -> int:
    """0 every input indexed or skipped with a reason; 1 some dead-lettered."""
    return EXIT_OK if report.dead_lettered == 0 else EXIT_DEAD_LETTERED


def es(action: Annotated[EsAction, typer.Argument(metavar="ACTION", help="start, stop or status")],
       nodes: Annotated[int | None, typer.Option(
           "--nodes", min=1, max=9, metavar="N",
           help="start (or expect) a cluster of N local nodes (default: CEASEFIRE_ES_NODES, or "
                "what is running, or 1); stop stops them all")] = None,
       as_json: Annotated[bool, typer.Option("--json", help="status as JSON")] = False) -> int:
    """The local Elasticsearch node or cluster: start, stop, status.

    The first start downloads Elasticsearch (Maven) into CEASEFIRE_HOME. status exits 3 when
    the node is stopped. With ELASTICSEARCH_URL set, start refuses: that cluster is used.
    """
    from ceasefire import local_es

    config = settings()
    if nodes:
        config = config.replace(local_nodes=nodes)
    if action is EsAction.start:
        from ceasefire.cli.output import err

        with err().status("starting Elasticsearch (first use downloads it with Maven)..."):
            node = local_es.start(config)
        if len(node.nodes) == 1:
            say(f"Elasticsearch is up at {node.url} (pid {node.pid}, health {node.health})")
        else:
            say(f"Elasticsearch cluster of {len(node.nodes)} nodes is up at "
                f"{', '.join(node.urls)} (pids {[n.pid for n in node.nodes]}, health {node.health})")
        return EXIT_OK
    if action is EsAction.stop:
        pids = local_es.stop(config)
        say(f"stopped Elasticsearch (pids {pids})" if pids else "Elasticsearch was not running")
        return EXIT_OK
    node = local_es.status(config)
    analyzers = local_es.analyzers_state(config, node.nodes[0])
    if as_json:
        print_json({"running": node.running, "url": node.url, "pid": node.pid,
                    "health": node.health, "home": str(node.home),
                    "nodes": [{"url": n.url, "pid": n.pid, "running": n.running} for n in node.nodes],
                    "language_analyzers": analyzers})
    else:
        if len(node.nodes) > 1:
            for n in node.nodes:
                say(f"  {'running' if n.running else 'stopped'}: {n.url} pid={n.pid}")
        state = "running" if node.running else \
            "partly running" if any(n.running for n in node.nodes) else "stopped"
        say(f"{state}: {', '.join(node.urls)} pid={node.pid} health={node.health} home={node.home}")
        hint = " (loaded at the next `es stop` / `es start`)" if analyzers == "installed" else ""
        say(f"language analyzers: {analyzers}{hint}")
    return EXIT_OK if node.running else 3


def setup() -> int:
    """Create or update the templates, the index and its aliases (idempotent).

    Run once before the first ingest (ingest and run also create what is missing).
    """
    _setup(settings())
    return EXIT_OK


def _setup(config: Any) -> None:
    from tasks.store.client import open_cluster
    from tasks.store.setup import setup_indices

    result = setup_indices(open_cluster(config), config)
    why = "CEASEFIRE_STEMMED_LANGUAGES=none" if not config.stemmed_languages else \
        "the cluster has no language analyzers (analysis-common)"
    say(f"index {result.index} ready behind {config.read_alias} / {config.write_alias}; "
        f"stemmed languages: {', '.join(result.stemming) or f'none ({why})'}")
    if not result.stemming and config.stemmed_languages and not config.es_url \
            and config.local_language_analyzers:
        say("  the local node runs without its language analyzers: `ceasefire es stop` then "
            "`ceasefire es start` installs them, and `ceasefire reindex` stems what it holds")
    for change in result.changes + result.notices:
        say(f"  {change}")


def ingest(paths: Annotated[list[Path], typer.Argument(
               metavar="PATH", help="files or folders to read: .txt, .html, .jsonl, WARC",
               show_default=False)],
           batch_size: Batch = 500,
           dask: Annotated[bool, typer.Option("--dask", help=DASK_HELP)] = False,
           prefect: Prefect = None,
           as_json: Json = False) -> int:
    """Ingest files or folders (.txt, .html, .jsonl).

    Every input ends up indexed, dead-lettered (exit 1) or skipped with a named reason.
    """
    from tasks.pipeline.checks import check_paths  # light: before the pipeline is imported

    check_paths(paths)
    from ceasefire import running

    config = settings()
    report = with_progress(lambda: running.ingest(config, [str(p) for p in paths], batch_size,
                                                  dask=dask, prefect=prefect))
    print_report(report, as_json)
    return exit_code(report)


def run(sources: Annotated[Path, typer.Option("--sources", help="the source list",
                                              show_default=True)] = Path("sources.yaml"),
        only: Only = None, batch_size: Batch = 500, prefect: Prefect = None,
        as_json: Json = False) -> int:
    """Ingest everything new from the source list (what the hourly deployment runs)."""
    existing([sources], "source list")
    from ceasefire import running

    config = settings()
    report = with_progress(lambda: running.sources(config, str(sources), only or None, batch_size,
                                                   prefect=prefect))
    print_report(report, as_json)
    return exit_code(report)


def backfill(paths: Annotated[list[Path] | None, typer.Argument(
                 metavar="PATH", help="folders or files to read", show_default=False)] = None,
             warc: Annotated[list[Path] | None, typer.Option(
                 "--warc", metavar="FILE",
                 help="WARC/ARC files to read (plain or gzip per record, as CC-NEWS); "
                      "--warc A B takes both")] = None,
             dask: Annotated[bool, typer.Option("--dask", help=DASK_HELP)] = False,
             url_list: Annotated[str | None, typer.Option(
                 "--url-list", metavar="FILE", help="a file of URLs, one per line")] = None,
             url: Annotated[list[str] | None, typer.Option(
                 "--url", help="a URL to fetch (repeatable)")] = None,
             sources: Annotated[str | None, typer.Option(
                 "--sources", metavar="FILE",
                 help="read the feeds and sitemaps of this source list")] = None,
             only: Only = None,
             since: Annotated[str | None, typer.Option(
                 "--since", metavar="DATE",
                 help="published on or after (ISO date or time; naive = UTC)")] = None,
             until: Annotated[str | None, typer.Option(
                 "--until", metavar="DATE",
                 help="published before this time, or on or before this date")] = None,
             refetch: Annotated[bool, typer.Option(
                 "--refetch", help="fetch pages already indexed again")] = False,
             batch_size: Batch = 500, prefect: Prefect = None, as_json: Json = False) -> int:
    """Ingest a folder, a URL list or the sources' archives over a date window (what the
    backfill deployment runs)."""
    from tasks.pipeline.checks import check_paths  # light: before the pipeline is imported

    check_paths([*(paths or []), *(warc or [])])
    from ceasefire import running

    config = settings()
    report = with_progress(lambda: running.backfill(
        config, paths=[str(p) for p in paths or []], url_list=url_list,
        warcs=[str(p) for p in warc or []], urls=list(url or []), sources_file=sources,
        only=only or None, since=since, until=until, refetch=refetch, batch_size=batch_size,
        dask=dask, prefect=prefect))
    print_report(report, as_json)
    return exit_code(report)


def reindex(rollback: Annotated[str | None, typer.Option(
                "--rollback", metavar="INDEX", help="point both aliases back at INDEX")] = None,
            rebuild: Annotated[bool, typer.Option(
                "--rebuild",
                help="also run every document through the current cleaning and enrichment")] = False,
            prefect: Prefect = None) -> int:
    """Rebuild the index with the current mapping, no downtime.

    Copies into a new ceasefire-articles-vN, then moves both aliases; the old index is kept
    for --rollback.
    """
    config = settings()
    if rollback:
        return _rollback(config, rollback)
    from ceasefire import running

    result = running.reindex(config, rebuild, prefect=prefect)
    say(f"reindexed {result.source} -> {result.target}: {result.copied} copied, "
        f"{result.newer} written meanwhile, {result.target_count} documents; the old index is "
        f"kept (roll back: ceasefire reindex --rollback {result.source})")
    return EXIT_OK


def _rollback(config: Any, index: str) -> int:
    from tasks.store.client import open_cluster
    from tasks.store.reindex import rollback

    es_ = open_cluster(config)
    if not es_.indices.exists(index=index):
        pattern = f"{config.index_prefix}-articles-v*"
        candidates = sorted(es_.indices.get(index=pattern, expand_wildcards="open,closed"))
        raise UserError(f"index {index} does not exist",
                        f"indices to roll back to: {', '.join(candidates)}" if candidates
                        else f"no {pattern} index exists")
    rollback(es_, config, index)
    say(f"{config.read_alias} and {config.write_alias} -> {index}")
    return EXIT_OK


def sources(action: Annotated[SourcesAction, typer.Argument(metavar="ACTION",
                                                              help="check: validate and list")],
            sources_file: Annotated[Path, typer.Option(
                "--sources", help="the source list", show_default=True)] = Path("sources.yaml")) -> int:
    """Validate and list the source list."""
    from tasks.report import plural
    from tasks.sources import load_sources

    settings()
    found = load_sources(sources_file)
    table(f"{sources_file}: {plural(len(found), 'source')}",
          ("name", "kind", "where", "outlet", "lang", "enabled", "interval s", "max items"),
          ((s.name, s.kind, s.url or s.path or plural(len(s.urls), "URL"), s.outlet or "",
            s.language or "", "yes" if s.enabled else "no", f"{s.min_interval:g}",
            str(s.max_items)) for s in found))
    return EXIT_OK


def demo(path: Annotated[Path, typer.Option("--path", help="articles to ingest",
                                            show_default=True)] = EXAMPLES_DIR,
         query: Annotated[str, typer.Option("--query", help="what to search for",
                                            show_default=True)] = "energy infrastructure") -> int:
    """Start Elasticsearch, set up, ingest the sample articles, search them."""
    from tasks.pipeline.checks import check_paths  # light: before the pipeline is imported

    check_paths([path])
    from ceasefire import local_es, running
    from ceasefire.cli.research import print_results
    from ceasefire.search import search
    from tasks.report import plural
    from tasks.store.client import open_cluster

    config = settings()
    if not config.es_url:
        node = local_es.start(config)
        say(f"Elasticsearch is up at {node.url} (pid {node.pid}, health {node.health})")
    _setup(config)
    report = with_progress(lambda: running.ingest(config, [str(path)], 500))
    print_report(report, False)
    print_results(search(open_cluster(config), config.read_alias, query), query)
    count = open_cluster(config).count(index=config.read_alias)["count"]
    say(f"\nthe index now holds {plural(count, 'article')}. Try: ceasefire search \"ceasefire\""
        + ("" if config.es_url else "; stop the node with: ceasefire es stop"))
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """The ops commands, in the order `--help` lists them."""
    ops = "Ops"
    command(app, es,
            "ceasefire es start",
            "ceasefire es status --json",
            "ceasefire es start --nodes 3",
            panel=ops)
    command(app, setup,
            "ceasefire setup",
            panel=ops)
    command(app, ingest,
            "ceasefire ingest examples/",
            "ceasefire ingest articles.jsonl --batch-size 200 --json",
            "ceasefire ingest big/ --dask --prefect",
            panel=ops)
    command(app, run,
            "ceasefire run",
            "ceasefire run --sources sources.yaml --only lbc --json",
            panel=ops)
    command(app, backfill,
            "ceasefire backfill examples/ --since 2025-10-01 --until 2025-10-31",
            "ceasefire backfill --warc CC-NEWS-20251001.warc.gz --since 2025-10-01",
            "ceasefire backfill --sources sources.yaml --only lbc --since 2025-09-01",
            panel=ops)
    command(app, reindex,
            "ceasefire reindex",
            "ceasefire reindex --rebuild",
            "ceasefire reindex --rollback ceasefire-articles-v1",
            panel=ops)
    command(app, sources,
            "ceasefire sources check",
            "ceasefire sources check --sources my-sources.yaml",
            panel=ops)


def register_demo(app: typer.Typer) -> None:
    command(app, demo,
            "ceasefire demo",
            "ceasefire demo --query \"prisoner exchange\"",
            panel="Ops")


__all__ = ["out", "register", "register_demo"]
