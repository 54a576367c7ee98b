"""Web sources: fetch feeds and sitemaps (conditionally), then article pages, politely.

The fetcher (tasks.fetch.PoliteFetcher) does politeness, robots.txt, retries, caps and the
SSRF guard; this module decides what to fetch and turns responses into Links and Articles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Coroutine, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks import progress
from tasks.extract.dates import sane_date
from tasks.extract.html import ExtractionError, extract_html
from tasks.fetch.client import FetchResult, PoliteFetcher
from tasks.fetch.discover import Listing, parse_feed, parse_sitemap, parse_url_list
from tasks.models import Article, Link, Skip
from tasks.settings import FetchSettings, Settings
from tasks.sources import Source
from tasks.store.state import FeedState

LOGGER = logging.getLogger(__name__)

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/xml", "text/xml", "application/x-rss+xml", "text/plain",
              "application/octet-stream", "application/x-gzip", "application/gzip")
PAGE_TYPES = ("text/html", "application/xhtml+xml")
MAX_CHILD_SITEMAPS = 50
MAX_SITEMAP_DEPTH = 2
PAGE_CONCURRENCY = 32  # pages in flight across all hosts (per host: the fetcher's limit)


@dataclass(slots=True)
class Discovery:
    """Links found in one run, new feed validators, and listings that failed."""

    links: list[Link] = field(default_factory=list)
    feed_states: list[FeedState] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    not_modified: int = 0


POOL_MIN_PAGES = 16  # below this, starting worker processes costs more than it saves


def extraction_pool(pages: int) -> contextlib.AbstractContextManager[Executor | None]:
    """A process pool for extraction on every core, or no pool (a thread) for a few pages.

    forkserver: forking a process that runs threads (Prefect's, the event loop) can deadlock.
    """
    cores = os.cpu_count() or 1
    if pages < POOL_MIN_PAGES or cores < 2:
        return contextlib.nullcontext(None)
    return ProcessPoolExecutor(max_workers=cores, mp_context=multiprocessing.get_context("forkserver"))


def fetch_settings_for(settings: Settings, sources: Iterable[Source]) -> FetchSettings:
    """The fetch settings with each source's `min_interval` for its host."""
    return settings.fetch_for((host, source.min_interval) for source in sources
                              if source.url and (host := urlsplit(source.url).hostname))


def sane_published(extracted: datetime | None, listed: datetime | None,
                   now: datetime) -> datetime | None:
    """The page's date unless impossible (future beyond skew, or absurdly old); else the feed's.

    The range is the one rule of `tasks.extract.dates.date_in_range`."""
    return sane_date(extracted, now) or sane_date(listed, now)


async def _listing(fetcher: PoliteFetcher, source: Source, url: str,
                   states: dict[str, FeedState], found: Discovery, depth: int = 0) -> None:
    old = states.get(url, FeedState(url))
    result = await fetcher.fetch(url, etag=old.etag, last_modified=old.last_modified,
                                 accept=FEED_TYPES)
    if result.not_modified:
        found.not_modified += 1
        found.feed_states.append(old)
        return
    if not result.ok:
        found.skips.append(Skip(url, f"{source.kind}-{result.reason}", result.detail))
        return
    parse = parse_feed if source.kind == "feed" else parse_sitemap
    listing: Listing = parse(result.body or b"", result.final_url, source.name, source.outlet,
                             source.language)
    found.feed_states.append(FeedState(url, result.etag, result.last_modified, result.status,
                                       len(listing.links)))
    if listing.error and not listing.children:
        found.skips.append(Skip(url, listing.error, listing.detail))
    found.links += listing.links[: source.max_items]
    if listing.children and depth < MAX_SITEMAP_DEPTH:
        for child in listing.children[:MAX_CHILD_SITEMAPS]:
            await _listing(fetcher, source, child, states, found, depth + 1)


async def discover(fetcher: PoliteFetcher, sources: Iterable[Source],
                   states: dict[str, FeedState]) -> Discovery:
    """Links from every feed, sitemap and URL list, fetched concurrently across hosts."""
    found = Discovery()
    jobs = []
    for source in sources:
        if source.kind in ("feed", "sitemap"):
            jobs.append(_listing(fetcher, source, source.url or "", states, found))
        elif source.kind == "urls":
            text = "\n".join(source.urls)
            if source.path:
                try:
                    text += "\n" + Path(source.path).read_text(encoding="utf-8")
                except OSError as exc:
                    found.skips.append(Skip(source.path, "url-list-unreadable", str(exc)))
            found.links += parse_url_list(text, source.name, source.outlet,
                                          source.language).links[: source.max_items]
    done = 0

    async def counted(job: Coroutine[Any, Any, None]) -> None:
        nonlocal done
        await job
        done += 1
        progress.advance("read feeds and sitemaps", done, len(jobs))

    await asyncio.gather(*(counted(job) for job in jobs))
    return found


def _article(result: FetchResult, link: Link, now: datetime) -> Article | Skip:
    """Extract one fetched page; listing metadata fills what the page lacks."""
    try:
        article = extract_html(result.body or b"", url=result.final_url)
    except ExtractionError as exc:
        return Skip(link.url, exc.reason, exc.detail)
    article.url = link.url  # the canonical URL we decided to fetch names the article
    article.published_at = sane_published(article.published_at, link.published_at, now)
    # The source list names the outlet more reliably than page metadata does.
    article.source = link.outlet or article.source
    article.language_hint = article.language_hint or link.language
    article.feed = link.listing
    article.origin = result.final_url
    article.fetched_at = now
    return article


async def fetch_articles(fetcher: PoliteFetcher, links: list[Link], now: datetime | None = None,
                         executor: Executor | None = None) -> tuple[list[Article | Skip], int]:
    """Fetch and extract every link; failures become Skips with a named reason.

    Extraction runs in `executor` (a process pool uses every core) or a thread. Returns the
    articles and skips, and how many pages were downloaded.
    """
    now = now or datetime.now(UTC)
    gate = asyncio.Semaphore(PAGE_CONCURRENCY)
    downloaded = finished = 0

    async def one(link: Link) -> Article | Skip:
        nonlocal downloaded, finished
        async with gate:
            result = await fetcher.fetch(link.url, accept=PAGE_TYPES)
        if not result.ok:
            item: Article | Skip = Skip(link.url, result.reason or "fetch-failed", result.detail)
        else:
            downloaded += 1
            # Extraction is CPU work: keep the event loop free for the other downloads.
            item = await asyncio.get_running_loop().run_in_executor(executor, _article, result,
                                                                    link, now)
        finished += 1
        progress.advance("fetch pages", finished, len(links))
        return item

    items = list(await asyncio.gather(*(one(link) for link in links)))
    return items, downloaded
