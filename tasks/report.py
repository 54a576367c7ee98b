"""The run summary: every input accounted for, as indexed, dead-lettered or skipped by reason."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

from tasks.models import Article, Skip
from tasks.store.bulk import IndexReport

MAX_LISTED_SKIPS = 50  # shown in tables and logs; the JSON summary and the state index get all


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 article`, `2 articles`, `1,204 articles` (`plural_form` for irregular nouns)."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


@dataclass(slots=True)
class RunReport:
    """Counts for one run; `balanced` checks that nothing went missing."""

    discovered: int = 0  # article links listed by feeds, sitemaps and URL lists
    seen_before: int = 0  # of those, already indexed or already tried
    outside_window: int = 0  # of those, listed outside a backfill's date window
    feeds_not_modified: int = 0  # feeds and sitemaps answered 304
    http_requests: int = 0  # every request sent, robots.txt included
    fetched: int = 0  # pages downloaded
    listing_skips: list[Skip] = field(default_factory=list)  # feeds and sitemaps that failed
    inputs: int = 0  # articles and skips produced from the sources
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    enrichment_kept: int = 0  # articles read again unchanged: stored enrichment kept, no NER
    near_duplicates: int = 0  # indexed, marked `duplicate_of` an earlier copy
    clusters_relabelled: int = 0  # existing clusters given an earlier representative or merged
    settled: int = 0  # cluster pointers moved because other writers ran at the same time
    notes: Counter[str] = field(default_factory=Counter)  # kept articles' dropped values, by reason
    skips: list[Skip] = field(default_factory=list)  # every skipped input, with its source
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # (id, origin, reason)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # time spent per stage
    stage_items: Counter[str] = field(default_factory=Counter)  # items each stage was given
    duration_s: float = 0.0

    @property
    def indexed(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def skipped(self) -> Counter[str]:
        """Skipped inputs by reason."""
        return Counter(s.reason for s in self.skips)

    @property
    def dead_lettered(self) -> int:
        return len(self.dead_letters)

    @property
    def listing_failures(self) -> Counter[str]:
        """Failed feeds and sitemaps by reason."""
        return Counter(s.reason for s in self.listing_skips)

    @property
    def balanced(self) -> bool:
        """input = indexed + dead-lettered + skipped."""
        return self.inputs == self.indexed + self.dead_lettered + len(self.skips)

    @property
    def skip_examples(self) -> list[str]:
        """The first skips (listings first), for tables and logs."""
        return [str(s) for s in [*self.listing_skips, *self.skips][:MAX_LISTED_SKIPS]]

    def add_inputs(self, articles: int, skips: list[Skip]) -> None:
        """Count a batch of inputs: articles to index, and inputs already skipped."""
        self.inputs += articles + len(skips)
        self.add_skips(skips)

    def add_notes(self, articles: list[Article]) -> None:
        """Count what was dropped from articles that are kept (e.g. an impossible date)."""
        for article in articles:
            self.notes.update(article.notes)

    def add_skips(self, skips: list[Skip]) -> None:
        """Inputs (counted already) that will not be indexed, each with its reason."""
        self.skips += skips

    def add_listing_skips(self, skips: list[Skip]) -> None:
        """Feeds and sitemaps that failed: reported, but not article inputs."""
        self.listing_skips += skips

    def add_time(self, stage: str, seconds: float, items: int = 0) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        self.stage_items[stage] += items

    @contextmanager
    def timing(self, stage: str, items: int) -> Iterator[None]:
        """Count the block's time and `items` to `stage`."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add_time(stage, time.monotonic() - started, items)

    def stage_lines(self) -> list[str]:
        """One plain line per stage that ran: what it was given, what came of it, its time.
        Stages overlap (a batch is written while the next is enriched), so the times add up
        to more than the run's duration; "read" is reading files (for web runs, discovery
        and fetching are their own lines)."""
        seconds, items = defaultdict(float, self.stage_seconds), self.stage_items
        read_s = max(0.0, seconds["read"] - seconds["discover"] - seconds["fetch"])
        failed = Counter(s.reason.split(":")[0] for s in self.skips)
        lines: list[tuple[str, str, float | None]] = []
        if "discover" in self.stage_seconds:
            lines.append(("discover", f"{plural(items['discover'], 'source')}: "
                          f"{plural(self.discovered, 'link')}, {self.seen_before:,} seen before",
                          seconds["discover"]))
        if "fetch" in self.stage_seconds:
            lines.append(("fetch", f"{plural(items['fetch'], 'page')}: {self.fetched:,} downloaded",
                          seconds["fetch"]))
        lines.append(("read", f"{plural(self.inputs, 'input')}", read_s))
        if "prepare" in self.stage_seconds:
            lines.append(("prepare", f"{plural(items['prepare'], 'article')}", seconds["prepare"]))
        if "enrich" in self.stage_seconds:
            lines.append(("enrich", f"{plural(items['enrich'], 'article')}"
                          + (f", {self.enrichment_kept:,} unchanged since enriched"
                             if self.enrichment_kept else "")
                          + (f", {failed['enrich-error']:,} failed" if failed["enrich-error"] else ""),
                          seconds["enrich"]))
        if "cluster" in self.stage_seconds:
            lines.append(("cluster", f"{plural(items['cluster'], 'article')}: "
                          f"{plural(self.near_duplicates, 'near-duplicate')}", seconds["cluster"]))
        if "index" in self.stage_seconds:
            lines.append(("index", f"{self.created:,} new, {self.updated:,} updated, "
                          f"{self.unchanged:,} unchanged, {self.dead_lettered:,} dead-lettered",
                          seconds["index"]))
        if self.skips:
            lines.append(("skipped", ", ".join(f"{n:,} {reason}" for reason, n
                                               in sorted(self.skipped.items())), None))
        return [f"{name:<9} {what}" + (f"  ({spent:.2f} s)" if spent is not None else "")
                for name, what, spent in lines]

    def add_index(self, result: IndexReport) -> None:
        self.add_time("index", result.seconds, result.created + result.updated + result.unchanged
                      + result.dead_lettered)
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.settled += result.settled
        self.dead_letters += [(r.article_id, r.origin or "", f"{r.error_type}: {r.reason}"[:500])
                              for r in result.rejections]

    def absorb(self, other: RunReport) -> None:
        """Add another report's counts and lists to this one (shards of one run)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            else:
                setattr(self, f.name, mine + theirs)

    def rows(self) -> list[tuple[str, int | str]]:
        """(label, value) rows for tables and artifacts."""
        rows: list[tuple[str, int | str]] = []
        if self.discovered or self.http_requests:
            rows += [("discovered links", self.discovered), ("seen before", self.seen_before),
                     ("feeds not modified (304)", self.feeds_not_modified),
                     ("pages fetched", self.fetched), ("http requests", self.http_requests)]
            if self.outside_window:
                rows.append(("listed outside the date window", self.outside_window))
            rows += [(f"feed failed: {r}", n) for r, n in sorted(self.listing_failures.items())]
        rows += [
            ("inputs", self.inputs), ("indexed: new", self.created),
            ("indexed: updated", self.updated), ("indexed: unchanged", self.unchanged),
            ("dead-lettered", self.dead_lettered),
            ("near-duplicates (kept, marked)", self.near_duplicates),
            ("clusters relabelled", self.clusters_relabelled),
        ]
        if self.enrichment_kept:
            rows.append(("enrichment kept (read again unchanged)", self.enrichment_kept))
        if self.settled:
            rows.append(("cluster pointers settled after other writers", self.settled))
        rows += [(f"skipped: {reason}", n) for reason, n in sorted(self.skipped.items())]
        rows += [(f"kept, value dropped: {note}", n) for note, n in sorted(self.notes.items())]
        rows.append(("duration", f"{self.duration_s:.2f} s"))
        return rows

    def to_markdown(self) -> str:
        """A markdown table of the counts."""
        lines = ["| step | count |", "| --- | ---: |"]
        lines += [f"| {label} | {value} |" for label, value in self.rows()]
        return "\n".join(lines)

    def to_dict(self, full: bool = True) -> dict[str, object]:
        """The summary as plain values; `full` adds every skip and dead letter with its source."""
        counts: dict[str, object] = {"discovered": self.discovered, "seen_before": self.seen_before,
                "outside_window": self.outside_window,
                "feeds_not_modified": self.feeds_not_modified, "http_requests": self.http_requests,
                "fetched": self.fetched, "listing_failures": dict(self.listing_failures),
                "inputs": self.inputs, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "indexed": self.indexed,
                "enrichment_kept": self.enrichment_kept,
                "dead_lettered": self.dead_lettered, "near_duplicates": self.near_duplicates,
                "clusters_relabelled": self.clusters_relabelled, "settled": self.settled,
                "skipped": dict(self.skipped),
                "notes": dict(self.notes),
                "skip_examples": self.skip_examples, "duration_s": round(self.duration_s, 3),
                "balanced": self.balanced}
        if not full:
            return counts
        return {**counts,
                "skips": [{"origin": s.origin, "reason": s.reason, "detail": s.detail} for s in self.skips],
                "listing_failures_by_source": [{"origin": s.origin, "reason": s.reason, "detail": s.detail}
                                               for s in self.listing_skips],
                "dead_letters": [{"id": i, "origin": o, "reason": r} for i, o, r in self.dead_letters]}
