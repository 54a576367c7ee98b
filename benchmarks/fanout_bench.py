"""End-to-end ingest throughput: one process (spaCy in 1 process, or in one per core) against
a Dask fan-out (a LocalCluster of one worker per core), on the same articles, interleaved and
repeated in one invocation.

    .venv/bin/python -m benchmarks.fanout_bench [--articles 400] [--words 600] [--files 16]
        [--rounds 2]

Each run is a fresh child process running `ingest_files` on JSONL files (`--files` of them,
so the fan-out has shards to spread); the time is the flow's own duration (Prefect's temporary
server start excluded; the LocalCluster's start and every worker's model load included).
Prints articles/s per run and the medians' ratios to the one-process, one-spaCy-process run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import uuid
from functools import partial
from pathlib import Path

from benchmarks.interleave import interleaved
from benchmarks.stream_memory import _drop, write_articles

ROOT = Path(__file__).resolve().parent.parent

INGEST = """
import json, sys
from flows.ingest import ingest_files
report = ingest_files(paths=[sys.argv[1]], dask=sys.argv[2] == "dask", files_per_shard=1)
print("RESULT " + json.dumps({"seconds": report.duration_s, "created": report.created,
                              "balanced": report.balanced}))
"""


def cores() -> int:
    return len(os.sched_getaffinity(0))


def run(folder: Path, mode: str, env: dict[str, str]) -> dict[str, float]:
    prefix = f"bench-fan-{uuid.uuid4().hex[:8]}"
    full = {**os.environ, **env, "CEASEFIRE_INDEX_PREFIX": prefix,
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", INGEST, str(folder), mode],
                          cwd=ROOT, env=full, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    _drop(prefix)
    result = json.loads(lines[-1][len("RESULT "):])
    if not result["balanced"]:
        raise SystemExit(f"{mode}: the run does not balance: {result}")
    return result


def split(path: Path, folder: Path, files: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir()
    for i in range(files):
        (folder / f"part-{i:03d}.jsonl").write_text("".join(lines[i::files]), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = cores()
    variants = [
        ("one process, spaCy n_process=1", "plain", {"CEASEFIRE_SPACY_PROCESSES": "1"}),
        (f"one process, spaCy n_process={n} (default)", "plain", {}),
        (f"Dask LocalCluster, {n} workers", "dask", {"CEASEFIRE_DASK_WORKERS": str(n)}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        write_articles(path, args.articles, args.words, seed=11)
        folder = Path(tmp) / "in"
        split(path, folder, args.files)
        print(f"{args.articles} articles of {args.words} words in {args.files} files; {n} cores")
        rates = interleaved([(label, partial(run, folder, mode, env)) for label, mode, env in variants],
                            args.rounds)
    medians = {label: statistics.median(v) for label, v in rates.items()}
    base = medians[variants[0][0]]
    for label, rate in medians.items():
        print(f"median {label:<42} {rate:7.2f} articles/s  = {rate / base:.2f} x one process")


if __name__ == "__main__":
    main()
