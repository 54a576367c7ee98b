"""Peak memory and throughput of `ingest_files` as the input grows: streamed runs must not grow
with the input.

    .venv/bin/python -m benchmarks.stream_memory [--sizes 1000,10000,100000] [--words 600]
        [--big-files 6] [--model default|blank] [--batch-size 500] [--baseline CHECKOUT]

Generates JSONL inputs of N distinct articles (~`--words` words each, words drawn from the
dedup corpus' vocabulary with a Zipf-like law, so no two articles are near-duplicates) and,
with `--big-files K`, K files of ~50 MB each, then ingests each input in a fresh child
process (`ingest_files` through Prefect's temporary server, into a throwaway index prefix of
the running node) and prints the child's peak RSS (ru_maxrss), wall time, articles per second
and the run's counts. `--model blank` enriches with an empty spaCy pipeline (language, alias
table and taxonomy still run; no NER), so 100k articles finish in minutes; `default` uses the
installed en_core_web_md. `--baseline` runs every input through another checkout too (its
own .venv; e.g. a `git worktree` of the commit before a change). Compare the figures of one
invocation with each other, not across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from testkit.syndication import load_stories

ROOT = Path(__file__).resolve().parent.parent
BIG_FILE_BYTES = 50 * 1024 * 1024 - 64 * 1024  # just under the reader's 50 MB per-file cap


def vocabulary() -> tuple[list[str], list[float]]:
    """Words of the dedup corpus with Zipf-like weights (rank^-1)."""
    counts = Counter(w for s in load_stories() for w in re.findall(r"[A-Za-z']+", s["body"]))
    words = [w for w, _ in counts.most_common()]
    return words, [1.0 / (rank + 1) for rank in range(len(words))]


def write_articles(path: Path, n: int, words_per: int, seed: int, limit: int | None = None) -> int:
    """Write `n` distinct JSONL articles (or until the file would pass `limit` bytes)."""
    rng = random.Random(seed)
    words, weights = vocabulary()
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            body = " ".join(rng.choices(words, weights, k=words_per))
            sentences = re.sub(r"((?:\S+ ){18}\S+) ", r"\1. ", body)  # sentence-ish breaks
            line = json.dumps({"url": f"https://bench.example/{seed}/{i}", "source": "Bench Wire",
                               "title": f"Ceasefire talks resume, round {seed}-{i}",
                               "body": f"Ceasefire talks resumed. {sentences}.",
                               "published_at": "2025-10-13T06:32:54+05:30"}) + "\n"
            if limit is not None and out.tell() + len(line.encode()) > limit:
                break
            out.write(line)
            written += 1
    return written


# One ingest in a fresh process (of this checkout or a baseline's), its figures as JSON.
CHILD = """
import json, resource, sys, time
from flows.ingest import ingest_files
started = time.perf_counter()
report = ingest_files(paths=sys.argv[2:], batch_size=int(sys.argv[1]))
wall = time.perf_counter() - started
print("RESULT " + json.dumps({
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "wall_s": round(wall, 1), "inputs": report.inputs, "created": report.created,
    "unchanged": report.unchanged, "skipped": sum(report.skipped.values()),
    "dead_lettered": report.dead_lettered, "balanced": report.balanced}))
"""


def blank_model(directory: Path) -> str:
    import spacy

    spacy.blank("en").to_disk(directory)
    return str(directory)


def run_child(paths: list[Path], batch_size: int, env: dict[str, str],
              checkout: Path = ROOT) -> dict[str, object]:
    prefix = f"bench-stream-{uuid.uuid4().hex[:8]}"
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-c", CHILD,
                           str(batch_size), *map(str, paths)], cwd=checkout,
                          env={**env, "CEASEFIRE_INDEX_PREFIX": prefix}, capture_output=True,
                          text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    _drop(prefix)
    return json.loads(lines[-1][len("RESULT "):])


def _drop(prefix: str) -> None:
    from tasks.settings import Settings
    from tasks.store.client import connect
    from tasks.store.setup import delete_all

    settings = Settings.from_env().replace(index_prefix=prefix)
    delete_all(connect(settings), settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--big-files", type=int, default=0)
    parser.add_argument("--model", choices=("default", "blank"), default="blank")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--baseline", type=Path, help="another checkout (with .venv) to run too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one ingest in this process (what run_child starts through `-c CHILD`)
        sys.argv = [sys.argv[0], str(args.batch_size), *args.paths]
        exec(CHILD)
        return
    checkouts = [("", ROOT)] + ([(" [baseline]", args.baseline.resolve())] if args.baseline else [])
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "blank":
            env["CEASEFIRE_SPACY_MODEL"] = blank_model(Path(tmp) / "blank-en")
        inputs: list[tuple[str, list[Path]]] = []
        for n in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"articles-{n}.jsonl"
            write_articles(path, n, args.words, seed=n)
            inputs.append((f"{n} articles", [path]))
        if args.big_files:
            big = [Path(tmp) / f"big-{i}.jsonl" for i in range(args.big_files)]
            count = sum(write_articles(p, 10**9, args.words, seed=100 + i, limit=BIG_FILE_BYTES)
                        for i, p in enumerate(big))
            inputs.append((f"{args.big_files} x 50 MB files ({count} articles)", big))
        print(f"model: {args.model}; batch size {args.batch_size}; ~{args.words} words per article")
        for (label, paths), (tag, checkout) in ((i, c) for i in inputs for c in checkouts):
            r = run_child(paths, args.batch_size, env, checkout)
            rate = float(r["inputs"]) / float(r["wall_s"]) if r["wall_s"] else 0.0  # type: ignore[arg-type]
            print(f"{label + tag:>52}: peak RSS {r['peak_rss_mb']} MB, wall {r['wall_s']} s, "
                  f"{rate:.1f} articles/s, created {r['created']}, skipped {r['skipped']}, "
                  f"dead-lettered {r['dead_lettered']}, balanced {r['balanced']}", flush=True)


if __name__ == "__main__":
    main()
