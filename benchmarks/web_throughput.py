"""Discovery + fetch + extraction throughput on the real pages of the extraction corpus.

    .venv/bin/python -m benchmarks.web_throughput [--hosts 8]

Serves the 63 pages of benchmarks/extraction_corpus from loopback hosts (127.0.0.x), lists
them in one news sitemap per host, then runs discovery (sitemap fetch + parse + canonical
dedupe) and page fetching + trafilatura extraction exactly as `ingest-sources` does, without
Elasticsearch. Politeness interval 0 on loopback: this measures our code, not the network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from concurrent.futures import Executor

from benchmarks.extraction_bench import load_corpus
from tasks.dedupe.identity import dedupe_links
from tasks.fetch.client import PoliteFetcher
from tasks.fetch.web import discover, extraction_pool, fetch_articles
from tasks.models import Article
from tasks.settings import FetchSettings
from tasks.sources import parse_sources
from testkit.http_server import Server, page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    args = parser.parse_args()
    os.environ["CEASEFIRE_FETCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    corpus = load_corpus()
    servers = []
    for h in range(args.hosts):
        mine = corpus[h::args.hosts]
        routes = {f"/p/{p.id}": page(p.html) for p in mine}
        routes["/robots.txt"] = page("User-agent: *\nAllow: /\n", "text/plain")
        server = Server(routes, host=f"127.0.0.{h + 1}").__enter__()
        urls = "".join(f"<url><loc>{server.url('/p/' + p.id)}</loc></url>" for p in mine)
        server.routes["/sitemap.xml"] = page(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>", "application/xml")
        servers.append(server)
    sources = parse_sources("sources:\n" + "".join(
        f"  - {{name: h{i}, kind: sitemap, url: '{s.url('/sitemap.xml')}', min_interval: 0}}\n"
        for i, s in enumerate(servers)))
    settings = FetchSettings.from_env(min_interval=0.0, per_host_concurrency=4)

    async def run(executor: Executor | None) -> tuple[float, float, int, int]:
        async with PoliteFetcher(settings) as fetcher:
            t0 = time.perf_counter()
            found = await discover(fetcher, sources, {})
            links = dedupe_links(found.links)
            t1 = time.perf_counter()
            items, downloaded = await fetch_articles(fetcher, links, executor=executor)
            t2 = time.perf_counter()
        return t1 - t0, t2 - t1, downloaded, sum(isinstance(i, Article) for i in items)

    try:
        with extraction_pool(len(corpus)) as pool:
            asyncio.run(run(pool))  # warm the workers (imports) outside the timing
            runs = [("threads", None), ("process pool", pool)]
            results = {name: min((asyncio.run(run(ex)) for _ in range(3)), key=lambda r: r[0] + r[1])
                       for name, ex in runs}
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    size = sum(len(p.html) for p in corpus) / 1e6
    for name, (discovery_s, fetch_s, downloaded, articles) in results.items():
        total = discovery_s + fetch_s
        print(f"{name}: {len(corpus)} pages ({size:.1f} MB) on {args.hosts} loopback hosts, best "
              f"of 3: discovery {discovery_s:.2f} s, fetch + extract {fetch_s:.2f} s, "
              f"{downloaded} downloaded, {articles} articles; "
              f"{len(corpus) / total:.1f} pages/s end to end ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
