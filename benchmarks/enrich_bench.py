"""Enrichment evaluation and throughput.

    .venv/bin/python -m benchmarks.enrich_bench            # quality on the labelled set + speed
    .venv/bin/python -m benchmarks.enrich_bench --details  # per-article misses

Quality on benchmarks/enrich_eval/articles.jsonl (labelled by hand, 7 languages): language
accuracy; entity precision/recall per kind after canonicalisation; topic and conflict
precision/recall; "about a ceasefire" accuracy (relevance >= 0.5). Speed: articles/s and
words/s of the whole enrichment step next to spaCy alone (same model, same components, same
texts); the ratio is the overhead of our code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from tasks.clean import clean_article
from tasks.enrich.enricher import default_enricher
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
    default_enricher().enrich(articles)
    counts: dict[str, Counter[str]] = {k: Counter() for k in (*KINDS, "topics", "conflicts")}
    lang_ok = about_ok = 0
    for row, art in zip(rows, articles, strict=True):
        gold = row["gold"]
        lang_ok += art.language == row["language"]
        about_ok += ((art.relevance or 0) >= RELEVANT) == gold["about_ceasefire"]
        predicted = {k: set(getattr(art.entities, k)) for k in KINDS}
        predicted |= {"topics": set(art.topics), "conflicts": set(art.conflicts)}
        for key, got in predicted.items():
            want = set(gold.get(key, []))
            counts[key].update(tp=len(got & want), fp=len(got - want), fn=len(want - got))
            if details and got != want:
                print(f"  {row['id']} [{row['language']}] {key}: missing {sorted(want - got)} "
                      f"extra {sorted(got - want)}")
    scores: dict[str, object] = {
        "articles": len(rows), "languages": dict(Counter(r["language"] for r in rows)),
        "language_accuracy": lang_ok / len(rows), "about_ceasefire_accuracy": about_ok / len(rows)}
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scores = evaluate(load_eval(), details=args.details)
    speed = throughput()
    if args.json:
        print(json.dumps({"quality": scores, "speed": speed}, indent=2))
        return
    print(f"{scores['articles']} labelled articles, languages {scores['languages']}")
    print(f"language accuracy {scores['language_accuracy']:.3f}; "
          f"about-ceasefire accuracy {scores['about_ceasefire_accuracy']:.3f}")
    for key in (*KINDS, "entities_all", "topics", "conflicts"):
        s = scores[key]
        print(f"  {key:<14} P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f}")
    print(f"speed on {speed['articles']} English articles ({speed['words']} words): spaCy alone "
          f"{speed['spacy_articles_per_s']:.1f} art/s ({speed['spacy_words_per_s']:.0f} words/s); "
          f"enrichment {speed['enrich_articles_per_s']:.1f} art/s "
          f"({speed['enrich_words_per_s']:.0f} words/s); overhead ratio {speed['overhead_ratio']:.2f}")


if __name__ == "__main__":
    main()
