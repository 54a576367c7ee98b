"""What a run reads, as one lazy stream: the web sources' new pages (discovered, filtered,
fetched a batch at a time by the run's one polite fetcher), then the folders' files."""

from __future__ import annotations

from collections.abc import Iterator

from tasks.batches import batched
from tasks.extract.read_files import iter_inputs
from tasks.models import Article, Skip
from tasks.pipeline.run import ALL_TIME, IngestRun
from tasks.sources import Source
from tasks.store.state import load_robots
from tasks.window import DateWindow, links_in_window


def web_inputs(run: IngestRun, web: list[Source], *, backfill: bool = False,
               refetch: bool = False, window: DateWindow = ALL_TIME) -> Iterator[Article | Skip]:
    """Discover links, keep the new ones, then fetch and extract their pages a batch at a
    time, with one fetcher for the run."""
    from tasks.fetch.session import open_fetch_session  # the HTTP stack: when fetching
    from tasks.fetch.web import fetch_settings_for

    settings, es, report, steps = run.settings, run.es, run.report, run.steps
    robots = load_robots(es, settings.state_index)
    with open_fetch_session(fetch_settings_for(settings, web), robots) as fetching:
        with report.timing("discover", len(web)):
            found = steps.discover_links(web, fetching, es, settings, conditional=not backfill)
        report.discovered = len(found.links)
        report.feeds_not_modified = found.not_modified
        report.add_listing_skips(found.skips)
        links, report.outside_window = links_in_window(found.links, window)
        new, run.previous, report.seen_before = steps.select_new_links(
            links, es, settings, skip_indexed=not refetch, retry_schedule=not backfill)
        for chunk in batched(new, run.batch_size):
            with report.timing("fetch", len(chunk)):
                articles, skips, fetched = steps.fetch_pages(chunk, fetching, es, settings)
            report.fetched += fetched
            yield from articles
            yield from skips
        report.http_requests = fetching.requests_sent


def gather_inputs(run: IngestRun, web: list[Source], folders: list[str], *,
                  backfill: bool = False, refetch: bool = False,
                  window: DateWindow = ALL_TIME) -> Iterator[Article | Skip]:
    """The web sources' new pages, then the folders' files, as one lazy stream. A backfill
    ignores feed validators and retry times; `refetch` fetches pages already indexed too."""
    if web:
        yield from web_inputs(run, web, backfill=backfill, refetch=refetch, window=window)
    if folders:
        yield from iter_inputs(folders)
