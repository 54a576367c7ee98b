"""Prefect's own overhead per run: the same 500-article batch ingested by the `ingest-files`
flow (under a real Prefect API server) and by the same task functions called plainly.

    .venv/bin/python -m benchmarks.prefect_overhead [--articles 500] [--reps 3]

Each run writes into a fresh index prefix on the running local node (or ELASTICSEARCH_URL),
so both do identical work: read, clean, enrich, cluster, create 500 documents. A warm-up run
loads spaCy first. Runs alternate (plain, flow) to spread machine noise; prints each run,
the medians, and overhead = flow - plain (median of the paired differences) in seconds and
as % of the flow run. Not included: a deployment run's process start on the worker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tasks.dedupe.clusters import dedupe_batch
from tasks.enrich.enricher import enricher_for
from tasks.extract.read_files import read_paths
from tasks.prepare import prepare_articles
from tasks.settings import Settings
from tasks.store.client import connect
from tasks.store.setup import delete_all, setup_indices
from tasks.store.write import write_batch
from testkit.syndication import build_corpus


def write_corpus(folder: Path, size: int) -> None:
    """`size` distinct ceasefire articles (syndicated copies from three seeds) as JSONL."""
    records, bodies = [], set()
    for seed in (1, 2, 3):
        for article in build_corpus(seed=seed, max_copies=10):
            record = article.record()
            if record["body"] in bodies:
                continue
            bodies.add(record["body"])
            record["url"] = record["url"].replace("://", f"://s{seed}.")
            records.append(record)
    if len(records) < size:
        raise SystemExit(f"only {len(records)} distinct articles available")
    (folder / "batch.jsonl").write_text("\n".join(json.dumps(r) for r in records[:size]))


def plain_ingest(paths: list[str], settings: Settings, batch_size: int) -> int:
    """`ingest_files` without Prefect: the same pipeline functions, called directly."""
    es = connect(settings)
    setup_indices(es, settings)
    articles, _ = read_paths(paths)
    ready, _ = prepare_articles(articles)
    enricher = enricher_for(settings)
    created = 0
    for start in range(0, len(ready), batch_size):
        batch = enricher.enrich(ready[start:start + batch_size])
        clusters = dedupe_batch(es, settings.read_alias, batch)
        created += write_batch(es, settings, batch, clusters.plan.relabel).created
    return created


def flow_ingest(paths: list[str], settings: Settings, batch_size: int) -> int:
    from flows.ingest import ingest_files

    return ingest_files(paths=paths, batch_size=batch_size).created


def timed(run, paths: list[str], base: Settings, batch_size: int, expected: int) -> float:
    """Seconds for one run into a fresh prefix (the prefix is deleted afterwards)."""
    settings = base.replace(index_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    os.environ["CEASEFIRE_INDEX_PREFIX"] = settings.index_prefix  # the flow reads the env
    try:
        started = time.perf_counter()
        created = run(paths, settings, batch_size)
        elapsed = time.perf_counter() - started
    finally:
        delete_all(connect(settings), settings)
    if created != expected:
        raise SystemExit(f"{run.__name__} created {created} documents, expected {expected}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    base = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        write_corpus(Path(tmp), args.articles)
        paths, n = [tmp], args.articles
        timed(plain_ingest, paths, base, n, n)  # warm-up: spaCy, Python caches
        timed(flow_ingest, paths, base, n, n)  # warm-up: Prefect client, server database
        plain, flow = [], []
        for rep in range(args.reps):
            plain.append(timed(plain_ingest, paths, base, n, n))
            flow.append(timed(flow_ingest, paths, base, n, n))
            print(f"rep {rep + 1}: plain {plain[-1]:.2f} s, flow {flow[-1]:.2f} s, "
                  f"difference {flow[-1] - plain[-1]:+.2f} s")
    p, f = statistics.median(plain), statistics.median(flow)
    diffs = [b - a for a, b in zip(plain, flow, strict=True)]
    paired = statistics.median(diffs)  # pairs share the machine's state: the steadier figure
    print(f"{n} articles in one batch; median plain {p:.2f} s ({n / p:.1f} art/s), "
          f"median flow {f:.2f} s ({n / f:.1f} art/s)")
    print(f"Prefect overhead per run (median of paired differences): {paired:.2f} s = "
          f"{100 * paired / f:.1f} % of the flow run; difference of medians {f - p:.2f} s; "
          f"per-rep differences {', '.join(f'{d:+.2f}' for d in diffs)} s")


if __name__ == "__main__":
    main()
