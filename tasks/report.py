"""The run summary: every input accounted for, as indexed, dead-lettered or skipped by reason."""

from __future__ import annotations

from collections import Counter
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
    near_duplicates: int = 0  # indexed, marked `duplicate_of` an earlier copy
    clusters_relabelled: int = 0  # existing clusters given an earlier representative or merged
    settled: int = 0  # cluster pointers moved because other writers ran at the same time
    notes: Counter[str] = field(default_factory=Counter)  # kept articles' dropped values, by reason
    skips: list[Skip] = field(default_factory=list)  # every skipped input, with its source
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # (id, origin, reason)
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

    def add_index(self, result: IndexReport) -> None:
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
