"""The frame of every ingesting run and its batch loop: open the cluster once, read inputs
lazily, and take every batch through prepare -> enrich -> cluster -> index, counting every
input once. A run calls its steps through `Steps` (`tasks/pipeline/steps.py`): in this
process, or as Prefect tasks inside a flow run (`flows/`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from tasks import progress
from tasks.batches import batched
from tasks.models import Article, Skip, split_skips
from tasks.pipeline.checks import check_batch_size
from tasks.pipeline.steps import Pending, Steps
from tasks.report import RunReport
from tasks.settings import Settings
from tasks.store.bulk import IndexReport, Rejection
from tasks.store.client import open_cluster
from tasks.store.state import UrlState, outcomes_of
from tasks.window import DateWindow, articles_in_window

ALL_TIME = DateWindow()


@dataclass(slots=True)
class IngestRun:
    """One ingesting run: its steps, settings and clients (opened once), its report and batch
    size, and what it must remember across batches."""

    steps: Steps
    settings: Settings
    es: Elasticsearch
    batch_size: int
    run_id: str
    report: RunReport = field(default_factory=RunReport)
    seen: dict[str, str] = field(default_factory=dict)  # article ids of this run -> origin
    previous: dict[str, UrlState] = field(default_factory=dict)  # URLs tried in earlier runs
    done: int = 0  # inputs whose batch is finished


# --- the frame of every ingest flow ------------------------------------------------------------


def finish_run(run: IngestRun, started: float) -> RunReport:
    """Check the accounting, then publish the summary (log, and artifact in a flow run)."""
    report = run.report
    report.duration_s = time.monotonic() - started
    if not report.balanced:
        raise RuntimeError(f"run does not balance, articles went missing: {report.to_dict(full=False)}")
    run.steps.publish(report)
    return report


@contextmanager
def ingest_run(steps: Steps, batch_size: int, setup: bool) -> Iterator[IngestRun]:
    """Check the batch size, open the cluster (once), set up the indices; on success, finish
    the report. Runs may overlap: every batch's clusters are settled against other writers."""
    check_batch_size(batch_size)
    started = time.monotonic()
    settings = steps.settings()
    with open_cluster(settings) as es:
        run = IngestRun(steps, settings, es, batch_size, steps.run_id())
        if setup:
            steps.ensure_indices(es, settings)
        yield run
        finish_run(run, started)


# --- each batch through the pipeline ----------------------------------------------------------


@dataclass(slots=True)
class Staged:
    """A batch read, prepared and enriched, waiting for its write."""

    inputs: int  # how many inputs the batch held
    ready: list[Article]  # prepared and enriched, to cluster and index
    skipped: list[Skip]  # counted as skipped, remembered as tried (web runs)
    outside: list[Skip]  # outside a backfill's window: counted, not remembered
    write: Pending[IndexReport] | None = None


def stage(run: IngestRun, batch: list[Article | Skip], window: DateWindow) -> Staged:
    """Account for a batch of inputs, prepare and enrich it (CPU work that overlaps the
    previous batch's write)."""
    report, steps = run.report, run.steps
    articles, skips = split_skips(batch)
    articles, outside = articles_in_window(articles, window)
    report.add_inputs(len(articles), skips + outside)
    report.add_notes(articles)
    with report.timing("prepare", len(articles)):
        ready, dropped = steps.prepare(articles, run.seen)
    report.add_skips(dropped)
    enriched: list[Article] = []
    failed: list[Skip] = []
    if ready:  # the spaCy model is loaded by the first batch with English articles to enrich
        with report.timing("enrich", len(ready)):
            enriched, failed, kept = steps.enrich_batch(ready, run.es, run.settings)
        report.enrichment_kept += kept
    report.add_skips(failed)
    return Staged(len(batch), enriched, skips + dropped + failed, outside)


def write(run: IngestRun, staged: Staged) -> Staged:
    """Cluster the batch against everything written so far, then start its write in the
    background. The batch's ledger is made here, outside the step: if the step is retried,
    writes of the failed try still count as created/updated, not as "unchanged"."""
    if staged.ready:
        settings, es, report = run.settings, run.es, run.report
        with report.timing("cluster", len(staged.ready)):
            clusters = run.steps.cluster_batch(staged.ready, es, settings)
        report.near_duplicates += clusters.near_duplicates
        report.clusters_relabelled += len(clusters.plan.relabel)
        ledger: dict[str, str] = {}
        staged.write = run.steps.start_index(staged.ready, clusters.plan.relabel, es, settings, ledger)
    return staged


def finish(run: IngestRun, staged: Staged, remember: bool) -> None:
    """Wait for the batch's write; count it, keep its skips, remember its URLs' outcomes."""
    rejected: list[Rejection] = []
    steps = run.steps
    if staged.write is not None:
        result = staged.write.result()
        run.report.add_index(result)
        rejected = result.rejections
    if staged.skipped or staged.outside:
        steps.keep_skips(staged.skipped + staged.outside, run.run_id, run.es, run.settings)
    if remember:
        outcomes = outcomes_of(staged.ready, staged.skipped, {r.article_id for r in rejected})
        if outcomes:
            steps.remember_outcomes(outcomes, run.previous, run.es, run.settings)
    run.done += staged.inputs
    progress.advance("enrich, cluster, index", run.done, 0)  # a stream: no total


def timed_reads(run: IngestRun, items: Iterable[Article | Skip]) -> Iterator[Article | Skip]:
    """`items`, with the time spent producing them (reading files, fetching pages) counted
    as the run's "read" stage."""
    iterator = iter(items)
    while True:
        started = time.monotonic()
        try:
            item = next(iterator)
        except StopIteration:
            run.report.add_time("read", time.monotonic() - started)
            return
        run.report.add_time("read", time.monotonic() - started)
        yield item


def ingest_stream(run: IngestRun, items: Iterable[Article | Skip], *, window: DateWindow = ALL_TIME,
                  remember: bool = False) -> None:
    """Every input through the pipeline in bounded batches, read lazily: memory follows the
    batch size, not the size of the input. While a batch is written, the next one is read,
    prepared and enriched; it is clustered only once the previous write is done, so it sees
    every earlier copy."""
    writing: Staged | None = None
    for batch in batched(timed_reads(run, items), run.batch_size):
        staged = stage(run, batch, window)
        if writing is not None:
            finish(run, writing, remember)
        writing = write(run, staged)
    if writing is not None:
        finish(run, writing, remember)
