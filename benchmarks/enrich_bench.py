"""Enrichment evaluation and throughput.

    .venv/bin/python -m benchmarks.enrich_bench            # quality on the labelled set + speed
    .venv/bin/python -m benchmarks.enrich_bench --quality  # quality only (no speed part)
    .venv/bin/python -m benchmarks.enrich_bench --details  # per-article misses
    .venv/bin/python -m benchmarks.enrich_bench --quality --language fr  # French articles only
    .venv/bin/python -m benchmarks.enrich_bench --compare [--pipes tok2vec+ner,ner]
        [--processes 1,2] [--articles 1000] [--rounds 3]      # pipelines x processes
    .venv/bin/python -m benchmarks.enrich_bench --startup [--sizes 1,8,32,33,64,128]
        [--stories 1]                                         # when a second process pays

Quality on benchmarks/enrich_eval/articles.jsonl (labelled by hand, 7 languages): language
accuracy; entity precision/recall per kind after canonicalisation; topic and conflict
precision/recall (all topics, and the ceasefire topics alone); "about a ceasefire" accuracy
(relevance >= 0.5); whether topics and relevance agree (a ceasefire topic only with
relevance > 0, relevance > 0 only with a ceasefire term: `tasks.enrich.topics`). Speed: articles/s and
words/s of the whole enrichment step next to spaCy alone (same model, same components, same
texts); the ratio is the overhead of our code.

`--compare` times the whole enrichment step on long articles (each three dedup-corpus stories,
~670 words) for every pipeline (`ner`: what the enricher loads; `tok2vec+ner`: what it ran
before; `full`: the untouched model) and `n_process`, interleaved (order reversed every other
round) and repeated in one process, so the machine's load hits every variant alike; it prints
medians, ratios to the first variant and whether every variant found the first one's
entities. `--startup` times `nlp.pipe` with 1 and 2 processes on small batches, to show from
which batch size a second process pays (`worker_processes` in the enricher).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import spacy

from tasks.clean import clean_article
from tasks.enrich.canonical import tokens
from tasks.enrich.enricher import (
    DEFAULT_MODEL,
    Enricher,
    default_enricher,
    load_nlp,
    ner_text,
    read_model_config,
)
from tasks.enrich.topics import CEASEFIRE, CEASEFIRE_TOPICS
from tasks.models import Article
from testkit.syndication import load_stories

EVAL = Path(__file__).resolve().parent / "enrich_eval" / "articles.jsonl"
KINDS = ("persons", "organizations", "groups", "locations")
RELEVANT = 0.5


def load_eval(path: Path = EVAL) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(rows: list[dict], details: bool = False) -> dict[str, object]:
    """Scores of the default enricher against the gold labels."""
    articles = [clean_article(Article(title=r["title"], body=r["body"], origin=r["id"]))
                for r in rows]
    enricher = default_enricher()
    enricher.enrich(articles)
    keys = (*KINDS, "topics", "ceasefire_topics", "conflicts", "about_ceasefire")
    counts: dict[str, Counter[str]] = {k: Counter() for k in keys}
    lang_ok = about_ok = 0
    disagree: list[str] = []
    for row, art in zip(rows, articles, strict=True):
        gold = row["gold"]
        lang_ok += art.language == row["language"]
        about = (art.relevance or 0) >= RELEVANT
        about_ok += about == gold["about_ceasefire"]
        predicted = {k: set(getattr(art.entities, k)) for k in KINDS}
        predicted |= {"topics": set(art.topics), "conflicts": set(art.conflicts),
                      "ceasefire_topics": set(art.topics) & CEASEFIRE_TOPICS,
                      "about_ceasefire": {"yes"} if about else set()}
        wanted = {k: set(gold.get(k, [])) for k in (*KINDS, "topics", "conflicts")}
        wanted |= {"ceasefire_topics": set(gold["topics"]) & CEASEFIRE_TOPICS,
                   "about_ceasefire": {"yes"} if gold["about_ceasefire"] else set()}
        for key, got in predicted.items():
            want = wanted[key]
            counts[key].update(tp=len(got & want), fp=len(got - want), fn=len(want - got))
            if details and got != want:
                print(f"  {row['id']} [{row['language']}] {key}: missing {sorted(want - got)} "
                      f"extra {sorted(got - want)}")
        terms = enricher.taxonomy.phrases.count(tokens(f"{art.title}\n{art.body}"))[CEASEFIRE]
        relevant = (art.relevance or 0) > 0
        if (set(art.topics) & CEASEFIRE_TOPICS and not relevant) or relevant != (terms > 0):
            disagree.append(row["id"])
    scores: dict[str, object] = {
        "articles": len(rows), "languages": dict(Counter(r["language"] for r in rows)),
        "language_accuracy": lang_ok / len(rows), "about_ceasefire_accuracy": about_ok / len(rows),
        "topics_relevance_agreement": (len(rows) - len(disagree)) / len(rows),
        "topics_relevance_disagree": disagree}
    for key, c in counts.items():
        scores[key] = dict(zip(("precision", "recall", "f1"), prf(c["tp"], c["fp"], c["fn"]),
                               strict=True))
    all_entities = sum((counts[k] for k in KINDS), Counter())
    scores["entities_all"] = dict(zip(("precision", "recall", "f1"),
                                      prf(all_entities["tp"], all_entities["fp"], all_entities["fn"]),
                                      strict=True))
    return scores


def throughput(repeat: int = 3) -> dict[str, float]:
    """Enrichment vs spaCy alone on the same English texts (best of `repeat`)."""
    enricher = default_enricher()
    stories = load_stories()
    texts = [(s["title"], s["body"]) for s in stories] * 3
    words = sum(len(f"{t}\n\n{b}".split()) for t, b in texts)
    raw, ours = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _doc in enricher.nlp.pipe((f"{t}\n\n{b}" for t, b in texts), batch_size=enricher.batch_size):
            pass
        raw.append(time.perf_counter() - t0)
        articles = [Article(title=t, body=b) for t, b in texts]
        t0 = time.perf_counter()
        enricher.enrich(articles)
        ours.append(time.perf_counter() - t0)
    best_raw, best_ours = min(raw), min(ours)
    return {"articles": len(texts), "words": words,
            "spacy_articles_per_s": len(texts) / best_raw, "spacy_words_per_s": words / best_raw,
            "enrich_articles_per_s": len(texts) / best_ours, "enrich_words_per_s": words / best_ours,
            "overhead_ratio": best_ours / best_raw,
            "spread": statistics.pstdev(ours) / statistics.mean(ours)}


PIPES = {"ner": ("ner",), "tok2vec+ner": ("tok2vec", "ner"), "full": None}


def pipeline(name: str) -> Any:
    """The model with only the named components (`ner`: exactly what the enricher loads)."""
    if name == "ner":
        return load_nlp(DEFAULT_MODEL)
    keep = PIPES[name]
    names = read_model_config(DEFAULT_MODEL)["nlp"]["pipeline"]
    return spacy.load(DEFAULT_MODEL, exclude=[p for p in names if keep and p not in keep])


def long_articles(n: int, stories: int = 3) -> list[tuple[str, str]]:
    """`n` (title, body) pairs, each body `stories` consecutive dedup-corpus stories."""
    base = load_stories()
    return [(base[i % len(base)]["title"],
             "\n\n".join(base[(i + j) % len(base)]["body"] for j in range(stories)))
            for i in range(n)]


def compare(pipes: list[str], processes: list[int], n: int, rounds: int) -> None:
    """Enrichment time per pipeline and process count, interleaved; medians and ratios."""
    texts = long_articles(n)
    enrichers = {(p, k): Enricher(pipeline(p), default_enricher().table, default_enricher().taxonomy,
                                  n_process=k) for p in pipes for k in processes}
    words = sum(len(f"{t}\n\n{b}".split()) for t, b in texts)
    print(f"{n} articles, {words / n:.0f} words each on average; {rounds} rounds, interleaved")
    times: dict[tuple[str, int], list[float]] = {v: [] for v in enrichers}
    found: dict[tuple[str, int], list[object]] = {}
    for round_ in range(rounds):
        order = list(enrichers) if round_ % 2 == 0 else list(enrichers)[::-1]
        for variant in order:
            articles = [Article(title=t, body=b) for t, b in texts]
            t0 = time.perf_counter()
            enrichers[variant].enrich(articles)
            times[variant].append(time.perf_counter() - t0)
            found[variant] = [a.entities for a in articles]
            print(f"round {round_ + 1}: {variant[0]:<12} n_process={variant[1]}  "
                  f"{times[variant][-1]:7.1f} s  (load average {os.getloadavg()[0]:.1f})",
                  flush=True)
    first = next(iter(enrichers))
    base = statistics.median(times[first])
    for variant, seconds in times.items():
        med = statistics.median(seconds)
        same = sum(a == b for a, b in zip(found[variant], found[first], strict=True))
        print(f"median {variant[0]:<12} n_process={variant[1]}  {med:7.1f} s  {n / med:6.2f} art/s  "
              f"{med / base:.2f} x {first[0]} n_process={first[1]}  "
              f"({1000 * med / n:.0f} s per 1k; same entities as it: {same}/{n})")


def startup(sizes: list[int], stories: int, rounds: int) -> None:
    """`nlp.pipe` with 1 and 2 processes on batches of a few articles (the enricher's rule
    bypassed): what a fork costs and from which size the second process pays."""
    nlp = load_nlp(DEFAULT_MODEL)
    batch = default_enricher().batch_size
    texts = [ner_text(Article(title=t, body=b)) for t, b in long_articles(max(sizes), stories)]
    times: dict[tuple[int, int], list[float]] = {}
    for round_ in range(rounds):
        for size in sizes:
            for k in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                t0 = time.perf_counter()
                for _doc in nlp.pipe(texts[:size], batch_size=batch, n_process=k):
                    pass
                times.setdefault((size, k), []).append(time.perf_counter() - t0)
    print(f"nlp.pipe, batch_size {batch}, {stories} stories per article; median of {rounds}")
    for size in sizes:
        one, two = statistics.median(times[(size, 1)]), statistics.median(times[(size, 2)])
        print(f"{size:5d} articles: n_process=1 {one:6.2f} s  n_process=2 {two:6.2f} s  "
              f"ratio {two / one:.2f}")


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--quality", action="store_true", help="quality only, no speed part")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--language", help="only the labelled articles in these languages (fr,en)")
    parser.add_argument("--compare", action="store_true", help="pipelines x processes, interleaved")
    parser.add_argument("--pipes", default="tok2vec+ner,ner", help=f"comma-separated: {', '.join(PIPES)}")
    parser.add_argument("--processes", type=ints, default=[1, 2])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--startup", action="store_true", help="1 vs 2 processes on small batches")
    parser.add_argument("--sizes", type=ints, default=[1, 8, 32, 33, 48, 64, 128])
    parser.add_argument("--stories", type=int, default=1, help="stories per article (--startup)")
    args = parser.parse_args()
    if args.compare:
        pipes = args.pipes.split(",")
        if unknown := set(pipes) - set(PIPES):
            parser.error(f"unknown pipes {sorted(unknown)}; choose from {', '.join(PIPES)}")
        compare(pipes, args.processes, args.articles, args.rounds)
        return
    if args.startup:
        startup(args.sizes, args.stories, args.rounds)
        return
    rows = load_eval()
    if args.language:
        rows = [r for r in rows if r["language"] in args.language.split(",")]
    scores = evaluate(rows, details=args.details)
    speed = None if args.quality else throughput()
    if args.json:
        print(json.dumps({"quality": scores, "speed": speed}, indent=2))
        return
    print(f"{scores['articles']} labelled articles, languages {scores['languages']}")
    print(f"language accuracy {scores['language_accuracy']:.3f}; "
          f"about-ceasefire accuracy {scores['about_ceasefire_accuracy']:.3f}; topics/relevance "
          f"agreement {scores['topics_relevance_agreement']:.3f} "
          f"(disagree: {', '.join(cast(list[str], scores['topics_relevance_disagree'])) or 'none'})")
    for key in (*KINDS, "entities_all", "topics", "ceasefire_topics", "conflicts", "about_ceasefire"):
        s = cast(dict[str, float], scores[key])
        print(f"  {key:<16} P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f}")
    if speed is None:
        return
    print(f"speed on {speed['articles']} English articles ({speed['words']} words): spaCy alone "
          f"{speed['spacy_articles_per_s']:.1f} art/s ({speed['spacy_words_per_s']:.0f} words/s); "
          f"enrichment {speed['enrich_articles_per_s']:.1f} art/s "
          f"({speed['enrich_words_per_s']:.0f} words/s); overhead ratio {speed['overhead_ratio']:.2f}")


if __name__ == "__main__":
    main()
