"""Syndicated copies of news stories, the way outlets rerun wire copy: a labelled dedup corpus.

Each base story in `benchmarks/dedup_corpus/stories.jsonl` is an original; copies get a different outlet
and URL, later timestamps, and a mix of edits: new headline, outlet boilerplate around the
body, truncation, paragraph reordering, and small word edits. Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "dedup_corpus" / "stories.jsonl"

OUTLETS = ["Daily Ledger", "Harbour Times", "Capital Wire", "Evening Post", "Metro Herald",
           "Northern Star", "Global Desk", "Valley News", "Courier Online", "Morning Bulletin"]
HEADERS = ["(Wire) -", "LIVE UPDATES", "This story was first published by our wire partner.",
           "Updated 2 hours ago", "Breaking news"]
FOOTERS = ["Reporting by staff correspondents; editing by the world desk.",
           "© 2025 {outlet}. All rights reserved.",
           "Follow {outlet} on social media for live updates on the conflict.",
           "Read more: Ceasefire talks, explained in five charts",
           "Sign up to our newsletter for the day's top stories.",
           "This story has been published from a wire agency feed without modifications to the text.",
           "Additional reporting by agencies."]
SWAPS = {"said": "stated", "defence": "defense", "talks": "negotiations", "on Monday": "Monday",
         "officials": "authorities", "ceasefire": "truce", "agreed": "consented",
         "announced": "declared", "people": "residents", "killed": "left dead"}
TITLE_EDITS = [lambda t: f"UPDATE 1-{t}", lambda t: f"{t} | {{outlet}}", lambda t: f"LIVE: {t}",
               lambda t: t.replace(" says ", " claims "), lambda t: f"{t}, officials say",
               lambda t: t.upper()[:1] + t[1:].rstrip(".") + " - report"]


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    """A corpus article and the story it belongs to (the ground truth)."""

    story: str
    event: str
    url: str
    source: str
    title: str
    body: str
    published_at: datetime
    is_original: bool
    edits: tuple[str, ...]

    def record(self) -> dict[str, str]:
        """A JSONL record as `ceasefire ingest` reads it."""
        return {"url": self.url, "title": self.title, "body": self.body, "source": self.source,
                "published_at": self.published_at.isoformat()}


def load_stories(path: Path = CORPUS) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _edit_words(text: str, rng: random.Random) -> str:
    keys = rng.sample(sorted(SWAPS), k=6)
    for key in keys:
        text = re.sub(rf"\b{re.escape(key)}\b", SWAPS[key], text, count=2)
    return text


def make_copy(story: dict[str, str], outlet: str, rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    """(title, body, edits applied) for one syndicated copy."""
    paragraphs = story["body"].split("\n\n")
    title = story["title"]
    edits: list[str] = []
    ops = rng.sample(["headline", "boilerplate", "truncate", "reorder", "words"], k=rng.randint(2, 4))
    if "headline" in ops:
        title = rng.choice(TITLE_EDITS)(title).replace("{outlet}", outlet)
        edits.append("headline")
    if "truncate" in ops and len(paragraphs) > 3:
        keep = max(2, round(len(paragraphs) * rng.uniform(0.4, 0.8)))
        paragraphs = paragraphs[:keep]
        edits.append(f"truncate:{keep}")
    if "reorder" in ops and len(paragraphs) > 3:
        i = rng.randrange(1, len(paragraphs) - 1)
        paragraphs[i], paragraphs[i + 1] = paragraphs[i + 1], paragraphs[i]
        edits.append("reorder")
    if "words" in ops:
        paragraphs = [_edit_words(p, rng) for p in paragraphs]
        edits.append("words")
    if "boilerplate" in ops:
        head = [rng.choice(HEADERS)] if rng.random() < 0.5 else []
        feet = [f.format(outlet=outlet) for f in rng.sample(FOOTERS, k=rng.randint(1, 3))]
        paragraphs = head + paragraphs + feet
        edits.append("boilerplate")
    return title, "\n\n".join(paragraphs), tuple(edits)


def build_corpus(seed: int = 7, max_copies: int = 6, original_missing: float = 0.2,
                 stories: list[dict[str, str]] | None = None) -> list[LabelledArticle]:
    """Every story as 0..max_copies syndicated copies, plus the original except for a
    share `original_missing` of stories (copies must then find each other)."""
    rng = random.Random(seed)
    out: list[LabelledArticle] = []
    for story in stories if stories is not None else load_stories():
        published = datetime.fromisoformat(story["published_at"])
        if rng.random() >= original_missing:
            out.append(LabelledArticle(story["id"], story["event"],
                                       f"https://wire.example.net/{story['id']}", "Example Wire",
                                       story["title"], story["body"], published, True, ()))
        for n, outlet in enumerate(rng.sample(OUTLETS, k=rng.randint(0, max_copies))):
            title, body, edits = make_copy(story, outlet, rng)
            slug = outlet.lower().replace(" ", "-")
            out.append(LabelledArticle(
                story["id"], story["event"], f"https://{slug}.example.com/news/{story['id']}-{n}",
                outlet, title, body, published + timedelta(minutes=rng.randint(5, 720)), False,
                edits))
    return out


def true_pairs(articles: list[LabelledArticle]) -> set[tuple[str, str]]:
    """URL pairs that are the same story."""
    by_story: dict[str, list[str]] = {}
    for a in articles:
        by_story.setdefault(a.story, []).append(a.url)
    return {(min(x, y), max(x, y)) for urls in by_story.values()
            for i, x in enumerate(urls) for y in urls[i + 1:]}


def predicted_pairs(cluster_of_url: dict[str, str]) -> set[tuple[str, str]]:
    """URL pairs that share a cluster."""
    by_cluster: dict[str, list[str]] = {}
    for url, cluster in cluster_of_url.items():
        by_cluster.setdefault(cluster, []).append(url)
    return {(min(x, y), max(x, y)) for urls in by_cluster.values()
            for i, x in enumerate(urls) for y in urls[i + 1:]}


def pair_scores(truth: set[tuple[str, str]], predicted: set[tuple[str, str]]) -> tuple[float, float]:
    """(pair precision, pair recall)."""
    hit = len(truth & predicted)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(truth) if truth else 1.0
    return precision, recall


def prepared_articles(corpus: list[LabelledArticle]) -> list[Any]:
    """Fresh prepared Articles for a labelled corpus (clustering mutates them, so every run
    gets its own)."""
    from tasks.models import Article
    from tasks.prepare import prepare_articles

    ready, skips = prepare_articles([
        Article(title=c.title, body=c.body, url=c.url, source=c.source,
                published_at=c.published_at, origin=c.url) for c in corpus])
    assert not skips, skips
    return ready
