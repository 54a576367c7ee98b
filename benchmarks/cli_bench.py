"""What a new operator waits for: wall time of `ceasefire --help`, of an argument error, and of
`ceasefire ingest` of one sample file against the work that run does, for this checkout and
(with --baseline REV) an earlier commit, interleaved round by round on the same machine.

    .venv/bin/python -m benchmarks.cli_bench [--rounds 5] [--baseline f28ffe9] [--prefect]

Needs a running node (`ceasefire es start`, or ELASTICSEARCH_URL). Each ingest writes into a
fresh index prefix, so every run indexes one new article and loads the spaCy model; the
prefixes are deleted afterwards. `--baseline` checks REV out into a temporary worktree and runs
its CLI with this virtualenv. `--prefect` adds `ingest --prefect` (a flow run; a temporary
Prefect server unless PREFECT_API_URL is set). Printed: every run, then medians per variant:
wall time; for ingest also the run's own duration (`duration_s`: setup, read, enrich with the
model load, cluster, index), overhead = wall - duration, and the model load measured alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "lbc-zelenskyy-trump-call.txt"
LOAD_MODEL = ("import time; t = time.monotonic(); from tasks.enrich.enricher import load_nlp; "
              "load_nlp(); print(time.monotonic() - t)")


@contextmanager
def checkout(rev: str | None) -> Iterator[Path]:
    """This checkout, or `rev` in a temporary worktree (removed afterwards)."""
    if rev is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev],
                       check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)


def timed(tree: Path, args: list[str], env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Wall seconds, stdout and exit code of `python -m ceasefire.cli ARGS` run in `tree`."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ceasefire.cli", *args], cwd=tree, text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(tree), **(env or {})})
    return time.monotonic() - started, done.stdout, done.returncode


def ingest_once(tree: Path, prefixes: list[str], extra: list[str]) -> dict[str, float]:
    prefix = f"clibench-{uuid.uuid4().hex[:8]}"
    prefixes.append(prefix)
    wall, out, code = timed(tree, ["ingest", str(SAMPLE), "--json", *extra],
                            {"CEASEFIRE_INDEX_PREFIX": prefix})
    if code != 0:
        raise SystemExit(f"ingest in {tree} exited {code}: {out[-2000:]}")
    report = json.loads(out)
    return {"wall": wall, "work": report["duration_s"], "overhead": wall - report["duration_s"]}


def cleanup(prefixes: list[str]) -> None:
    from tasks.settings import Settings
    from tasks.store.client import connect
    from tasks.store.setup import delete_all

    for prefix in prefixes:
        settings = Settings.from_env().replace(index_prefix=prefix)
        delete_all(connect(settings), settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="also measure the CLI at this commit")
    parser.add_argument("--prefect", action="store_true", help="also measure `ingest --prefect`")
    args = parser.parse_args()
    env = {"PREFECT_API_URL": ""}  # auto mode: no API configured, as on a fresh machine
    os.environ.update(env)
    prefixes: list[str] = []
    with checkout(args.baseline) as base:
        trees = [("now", ROOT, [])] + ([(f"at {args.baseline}", base, [])] if args.baseline else [])
        if args.prefect:
            trees.append(("now --prefect", ROOT, ["--prefect"]))
        results: dict[str, dict[str, list[float]]] = {}
        try:
            for round_ in range(args.rounds):
                order = trees if round_ % 2 == 0 else trees[::-1]
                for label, tree, extra in order:
                    r = results.setdefault(label, {})
                    if not extra:
                        r.setdefault("--help", []).append(timed(tree, ["--help"])[0])
                        r.setdefault("argument error", []).append(
                            timed(tree, ["search", "x", "--size", "many"])[0])
                    for key, value in ingest_once(tree, prefixes, extra).items():
                        r.setdefault(f"ingest {key}", []).append(value)
                    print(f"round {round_ + 1}: {label:<16} " + ", ".join(
                        f"{k} {v[-1]:.2f} s" for k, v in r.items()), flush=True)
                load = subprocess.run([sys.executable, "-c", LOAD_MODEL], cwd=ROOT, text=True,
                                      capture_output=True, check=True)
                results.setdefault("model load alone", {}).setdefault("load", []).append(
                    float(load.stdout.strip()))
        finally:
            cleanup(prefixes)
    print(f"\nmedians of {args.rounds} (seconds):")
    for label, measures in results.items():
        print(f"  {label:<18} " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in measures.items()))


if __name__ == "__main__":
    main()
