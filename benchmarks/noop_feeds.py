"""No-op run benchmark: 50 feeds on 50 loopback hosts, ingested once, then again unchanged.

    .venv/bin/python -m benchmarks.noop_feeds [--feeds 50] [--pages 2]

The second run must send one conditional request per feed (answered 304), fetch no article
again, and index nothing. Prints requests and wall time of both runs, and how many
Elasticsearch clients (connection pools) and fetchers each run opened. Uses the running local
node (or ELASTICSEARCH_URL) under a throwaway index prefix, and Prefect's temporary server.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.setup import delete_all
from testkit.news_site import NewsSite, Page
from testkit.syndication import load_stories


def build_sites(feeds: int, pages: int) -> list[NewsSite]:
    stories = load_stories()
    sites = []
    for i in range(feeds):
        chosen = [stories[(i * pages + j) % len(stories)] for j in range(pages)]
        site_pages = [Page(f"{s['id']}-{i}", s["title"], s["body"],
                           datetime.fromisoformat(s["published_at"]) + timedelta(minutes=i))
                      for s in chosen]
        # 127.0.0.1 .. 127.0.0.N: distinct hosts, so per-host politeness does not serialise them.
        sites.append(NewsSite(f"Site {i}", site_pages, host=f"127.0.0.{i + 1}").start())
    return sites


class Opened:
    """Counts the clients a run opens: Elasticsearch connection pools and PoliteFetchers."""

    def __init__(self) -> None:
        from elasticsearch import Elasticsearch

        from tasks.fetch.client import PoliteFetcher

        self.es = self.fetchers = 0
        for cls, attr in ((Elasticsearch, "es"), (PoliteFetcher, "fetchers")):
            self._count(cls, attr)

    def _count(self, cls: type, attr: str) -> None:
        init = cls.__init__

        def counted(obj: object, *args: object, **kwargs: object) -> None:
            if kwargs.get("_transport") is None:  # `.options()` reuses the pool: not a new client
                setattr(self, attr, getattr(self, attr) + 1)
            init(obj, *args, **kwargs)

        cls.__init__ = counted  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    os.environ["CEASEFIRE_FETCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    prefix = f"bench-noop-{uuid.uuid4().hex[:6]}"
    os.environ["CEASEFIRE_INDEX_PREFIX"] = prefix
    settings = Settings.from_env().replace(index_prefix=prefix)
    from flows.ingest import ingest_sources  # after the environment is set

    opened = Opened()
    sites = build_sites(args.feeds, args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources.yaml"
        sources.write_text("version: 1\nsources:\n" + "".join(
            f"  - {{name: site-{i}, kind: feed, url: '{s.feed_url}', outlet: '{s.name}', "
            f"min_interval: 0.2}}\n" for i, s in enumerate(sites)))
        try:
            for label in ("first run", "no-op run"):
                before = [len(s.requests) for s in sites]
                opened.es = opened.fetchers = 0
                t0 = time.perf_counter()
                report = ingest_sources(sources_file=str(sources))
                wall = time.perf_counter() - t0
                new = [r for s, b in zip(sites, before, strict=True) for r in s.requests[b:]]
                served = len(new)
                pages = sum(1 for r in new if r.startswith("/news/"))
                print(f"{label}: wall {wall:.2f} s (flow {report.duration_s:.2f} s), "
                      f"requests served {served}, counted {report.http_requests}, "
                      f"304s {report.feeds_not_modified}, pages fetched {report.fetched}, "
                      f"article requests {pages}, created {report.created}, "
                      f"unchanged {report.unchanged}, inputs {report.inputs}, "
                      f"Elasticsearch clients opened {opened.es}, fetchers opened {opened.fetchers}")
        finally:
            for site in sites:
                site.close()
            delete_all(connect(settings), settings)


if __name__ == "__main__":
    main()
