"""Throughput of the streamed ingest against a baseline checkout and against spaCy NER alone,
on the same articles, interleaved and repeated in one invocation.

    .venv/bin/python -m benchmarks.stream_throughput [--articles 1000] [--words 600]
        [--rounds 2] [--baseline /path/to/other/checkout]

Each round runs, in fresh child processes: spaCy NER alone over the articles' texts (the
model and pipes the enricher uses, same batch size and process count), this checkout's
`ingest_files`, and, with `--baseline`, the same flow of another checkout (with its own
.venv, e.g. a `git worktree` of the commit before a change). Times are the flow's own
duration (Prefect's temporary server start excluded) and NER's pipe time. Prints articles/s
per run and the medians' ratios: ingest / NER alone, current / baseline.
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
report = ingest_files(paths=[sys.argv[1]])
print("RESULT " + json.dumps({"seconds": report.duration_s, "created": report.created,
                              "balanced": report.balanced}))
"""

NER = """
import json, sys, time
from tasks.enrich.enricher import enricher_for
from tasks.settings import Settings
enricher = enricher_for(Settings.from_env())
texts = [f"{r['title']}\\n\\n{r['body']}" for r in map(json.loads, open(sys.argv[1], encoding="utf-8"))]
started = time.perf_counter()
ents = sum(len(doc.ents) for doc in enricher.nlp.pipe(texts, batch_size=enricher.batch_size,
                                                       n_process=enricher.n_process))
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started, "created": len(texts),
                              "entities": ents}))
"""


def child(checkout: Path, code: str, path: Path) -> dict[str, float]:
    prefix = f"bench-tp-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CEASEFIRE_INDEX_PREFIX": prefix, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), "-c", code, str(path)],
                          cwd=checkout, env=env, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{checkout}: child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    _drop(prefix)
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path)
    args = parser.parse_args()
    variants = [("spaCy NER alone", ROOT, NER), ("ingest (this checkout)", ROOT, INGEST)]
    if args.baseline:
        variants.append((f"ingest ({args.baseline})", args.baseline.resolve(), INGEST))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        write_articles(path, args.articles, args.words, seed=7)
        rates = interleaved([(label, partial(child, checkout, code, path))
                             for label, checkout, code in variants], args.rounds, width=40)
    medians = {label: statistics.median(v) for label, v in rates.items()}
    ner = medians["spaCy NER alone"]
    for label, rate in medians.items():
        print(f"median {label:<40} {rate:7.2f} articles/s  = {rate / ner:.2f} x NER alone")
    if args.baseline:
        current, baseline = medians["ingest (this checkout)"], medians[variants[2][0]]
        print(f"this checkout / baseline: {current / baseline:.2f}")


if __name__ == "__main__":
    main()
