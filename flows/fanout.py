"""Fan a large run out over a Dask cluster (prefect-dask's DaskTaskRunner).

The flow walks its folders and cuts the files it finds into shards (a list of file paths, or
one WARC/ARC archive each) and sends these descriptors, never article bodies, to Dask workers.
Each worker runs the whole pipeline on its shard (read -> extract -> clean -> enrich -> sign
-> cluster -> index) as an `ingest-shard` flow run and writes to Elasticsearch itself; the
spaCy model is loaded once per worker process (a per-process cache) and never shipped. Many
writers give the clusters of one, because each batch settles its clusters after writing
(`tasks.dedupe.settle`).

CEASEFIRE_DASK_ADDRESS names an existing scheduler (its workers need this package, the model,
PREFECT_API_URL and the Elasticsearch settings); without it a LocalCluster of
CEASEFIRE_DASK_WORKERS single-threaded processes runs on this machine for the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.runtime import runtime_settings
from flows.steps import PREFECT_STEPS, keep_skips, quoted
from tasks.extract.read_files import iter_archives, iter_inputs, walk_inputs
from tasks.extract.warc_names import is_archive
from tasks.models import Skip
from tasks.pipeline.run import IngestRun, ingest_stream
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.store.client import open_cluster
from tasks.window import DateWindow

FILES_PER_SHARD = 64


@dataclass(frozen=True, slots=True)
class Shard:
    """What one worker reads: files under the usual rules, or WARC/ARC archives."""

    number: int
    paths: tuple[str, ...]
    kind: Literal["files", "archives"] = "files"


def cut_shards(entries: Iterable[Any], archives: Iterable[str] = (),
               files_per_shard: int = FILES_PER_SHARD) -> Iterator[Shard | Skip]:
    """Shards of the walked `entries` (paths, or Skips for what the walk passed over, passed
    through): an archive file is a shard of its own, other files go `files_per_shard` to a
    shard; then one shard per archive of `archives`. Lazy: a large tree is never listed whole."""
    if files_per_shard < 1:
        raise ValueError("files_per_shard must be at least 1")
    number = 0
    pending: list[str] = []
    for entry in entries:
        if isinstance(entry, Skip):
            yield entry
            continue
        path = str(entry)
        if is_archive(path):
            yield Shard(number, (path,))
            number += 1
            continue
        pending.append(path)
        if len(pending) == files_per_shard:
            yield Shard(number, tuple(pending))
            number, pending = number + 1, []
    if pending:
        yield Shard(number, tuple(pending))
        number += 1
    for archive in archives:
        yield Shard(number, (archive,), "archives")
        number += 1


def shard_inputs(shard: Shard) -> Iterator[Any]:
    """The shard's articles and skips, read lazily on the worker."""
    return iter_archives(shard.paths) if shard.kind == "archives" else iter_inputs(shard.paths)


@flow(name="ingest-shard", validate_parameters=False)  # called by our own code only
def ingest_shard(shard: Shard, run_id: str, batch_size: int = 500,
                 window: DateWindow | None = None) -> RunReport:
    """One shard through the whole pipeline, on a Dask worker; `run_id` is the parent run's."""
    settings = runtime_settings()
    with open_cluster(settings) as es:
        run = IngestRun(PREFECT_STEPS, settings, es, batch_size, run_id)
        ingest_stream(run, shard_inputs(shard), window=window or DateWindow())
    if not run.report.balanced:
        raise RuntimeError(f"shard {shard.number} does not balance: {run.report.to_dict(full=False)}")
    return run.report


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="shard-{shard.number}")
def run_shard(shard: Shard, run_id: str, batch_size: int, window: DateWindow | None) -> RunReport:
    """A shard on a Dask worker (re-run whole on failure: writes are idempotent)."""
    return ingest_shard(shard, run_id, batch_size, window)


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to: PREFECT_API_URL, else the temporary server the
    CLI started for the run (None before one is started)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return str(PREFECT_API_URL.value())
    server = SubprocessASGIServer()  # the process's temporary server, if it started one
    return server.api_url if server.server_process is not None else None


def dask_runner(settings: Settings) -> Any:
    """The task runner for the run: the configured scheduler, else a LocalCluster whose
    workers report to this run's Prefect API (without it, each worker process would start a
    temporary Prefect server of its own)."""
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    api = prefect_api_url()
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
        "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "env": {"PREFECT_API_URL": api} if api else {}})


def fan_out(run: IngestRun, shards: Iterable[Shard | Skip], window: DateWindow | None = None) -> None:
    """Send every shard to the Dask cluster and add each shard's report to the run's as it
    finishes. At most two shards per worker wait in the scheduler, so a long listing is cut
    into shards only as the cluster takes them."""
    with dask_runner(run.settings) as runner:
        in_flight: deque[Any] = deque()
        limit = 2 * max(1, run.settings.dask_workers)
        passed_over: list[Skip] = []
        for item in shards:
            if isinstance(item, Skip):
                passed_over.append(item)
                continue
            in_flight.append(runner.submit(run_shard, parameters={
                "shard": item, "run_id": run.run_id, "batch_size": run.batch_size, "window": window}))
            if len(in_flight) >= limit:
                run.report.absorb(in_flight.popleft().result())
        while in_flight:
            run.report.absorb(in_flight.popleft().result())
    if passed_over:
        run.report.add_inputs(0, passed_over)
        keep_skips(quoted(passed_over), run.run_id, quoted(run.es), run.settings)


def fan_out_paths(run: IngestRun, folders: list[str], archives: list[str],
                  window: DateWindow | None = None, files_per_shard: int = FILES_PER_SHARD) -> None:
    """Walk `folders`, shard what is found (plus `archives`) and fan the shards out."""
    fan_out(run, cut_shards(walk_inputs(folders), archives, files_per_shard), window)
