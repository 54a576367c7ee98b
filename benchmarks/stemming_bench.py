"""What the per-language stemmed sub-fields cost and give, on a node of its own with the
language analyzers:

    .venv/bin/python -m benchmarks.stemming_bench [--copies 20] [--rounds 4]

The labelled enrichment set (54 articles in 7 languages) and the dedup stories (72, English),
each article `--copies` times under new ids, are bulk-indexed into two indices that differ only
in the mapping: language-neutral fields alone ("plain", what a node without analysis-common
gets) and the same plus title/lead/body stemmed in six languages ("stemmed"). Printed:

- indexing rate, the two variants interleaved and alternating, repeated (`--rounds`);
- store size after a merge to one segment;
- search time of the query set below (ES `took`, each query on both indices in turn);
- articles matched by each query, plain vs stemmed (other forms of the word: plurals, cases,
  the Arabic article), one copy of each article;
- whole ingest runs (read, enrich, cluster, index) of one copy, with and without stemming.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

import index_mappings
from ceasefire import running
from ceasefire.query import Filters, article_query
from ceasefire.search import build_query
from tasks.settings import Settings
from tasks.store.client import connect
from testkit.private_node import private_node

ROOT = Path(__file__).resolve().parent
CORPORA = [ROOT / "enrich_eval" / "articles.jsonl", ROOT / "dedup_corpus" / "stories.jsonl"]
# Everyday news words in a form other than the commonest, per language; not chosen from the
# corpus (a word may match nothing in it either way).
QUERIES = {
    "en": ["ceasefires", "negotiation", "strike", "hostage", "talk"],
    "fr": ["négociations", "frappe", "otage", "trêves", "attaques"],
    "de": ["Waffenstillstände", "Verhandlung", "Angriff", "Geisel"],
    "es": ["negociaciones", "ataque", "rehén", "treguas"],
    "ru": ["перемирия", "переговор", "удар", "заложник"],
    "ar": ["الهدنة", "مفاوضات", "هجوم"],
}


def documents(copies: int) -> list[dict[str, Any]]:
    records = [json.loads(line) for path in CORPORA for line in path.read_text("utf-8").splitlines()]
    return [{"_id": f"{r['id']}-{n}", "_source": {"title": r["title"], "body": r["body"],
                                                   "language": r.get("language", "en")}}
            for n in range(copies) for r in records]


def create(es: Elasticsearch, name: str, languages: tuple[str, ...]) -> None:
    body = index_mappings.articles_template(languages)["template"]
    es.options(ignore_status=404).indices.delete(index=name)
    es.indices.create(index=name, settings={**body["settings"], "refresh_interval": "-1"},
                      mappings=body["mappings"])


def index_rate(es: Elasticsearch, name: str, languages: tuple[str, ...],
               docs: list[dict[str, Any]]) -> float:
    create(es, name, languages)
    start = time.perf_counter()
    helpers.bulk(es, ({**d, "_index": name} for d in docs), chunk_size=500)
    es.indices.refresh(index=name)
    return len(docs) / (time.perf_counter() - start)


VARIANTS = {"plain": (), "stemmed": tuple(index_mappings.stemmed_languages())}


def indexing(es: Elasticsearch, docs: list[dict[str, Any]], rounds: int, copies: int) -> None:
    for label in VARIANTS:  # warm-up, untimed: the first bulk pays for the JIT
        index_rate(es, f"bench-{label}", VARIANTS[label], docs)
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_ in range(rounds):
        for label in list(VARIANTS) if round_ % 2 == 0 else list(VARIANTS)[::-1]:
            rates[label].append(index_rate(es, f"bench-{label}", VARIANTS[label], docs))
    print(f"{len(docs)} documents ({copies} copies of {len(docs) // copies}), "
          f"{rounds} interleaved rounds")
    for label, values in rates.items():
        print(f"  index {label:<8} {statistics.median(values):8.0f} docs/s  "
              f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")
    ratios = [p / s for p, s in zip(rates["plain"], rates["stemmed"], strict=True)]
    print(f"  stemmed indexing takes {statistics.median(ratios):.2f}x the time of plain (median of rounds)")


def store_sizes(es: Elasticsearch) -> None:
    es.indices.forcemerge(index="bench-*", max_num_segments=1)
    stats = es.indices.stats(index="bench-*", metric="store")["indices"]
    size = {label: stats[f"bench-{label}"]["primaries"]["store"]["size_in_bytes"] for label in VARIANTS}
    for label, n in size.items():
        print(f"  store {label:<8} {n / 1e6:8.2f} MB")
    print(f"  stemmed store is {size['stemmed'] / size['plain']:.2f}x plain")


def search_times(es: Elasticsearch, repeats: int = 5) -> None:
    took: dict[str, list[int]] = {v: [] for v in VARIANTS}
    for _ in range(repeats):
        for word in (w for words in QUERIES.values() for w in words):
            for label in VARIANTS:
                body = build_query(word, size=10)
                took[label].append(es.search(index=f"bench-{label}", **body)["took"])
    for label, values in took.items():
        print(f"  search {label:<8} median {statistics.median(values):.0f} ms, "
              f"mean {statistics.fmean(values):.1f} ms over {len(values)} searches "
              "(highlights and facets as `ceasefire search`)")


def matches(es: Elasticsearch) -> None:
    one = documents(1)
    for label in VARIANTS:
        create(es, f"bench-one-{label}", VARIANTS[label])
        helpers.bulk(es, ({**d, "_index": f"bench-one-{label}"} for d in one), refresh=True)
    print(f"\narticles matched (of {len(one)}; plain -> stemmed; in the query's language, then all)")
    gained = 0
    for code, words in QUERIES.items():
        cells = []
        for word in words:
            counts = {label: [es.count(index=f"bench-one-{label}", query=article_query(word, f))["count"]
                              for f in (Filters(language=[code]), Filters())] for label in VARIANTS}
            gained += counts["stemmed"][0] - counts["plain"][0]
            cells.append(f"{word} {counts['plain'][0]}->{counts['stemmed'][0]}"
                         f" ({counts['plain'][1]}->{counts['stemmed'][1]})")
        print(f"  {code}: " + ", ".join(cells))
    queries = sum(map(len, QUERIES.values()))
    print(f"  in the query's language: {gained} more matches over {queries} queries")


def ingest_runs(node: Settings, rounds: int) -> None:
    """Whole ingest runs of the corpus (one copy) into fresh indices, with and without stemmed
    sub-fields, interleaved: what stemming adds to a run, where enrichment dominates."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps({"title": d["_source"]["title"], "body": d["_source"]["body"]},
                                           ensure_ascii=False) + "\n" for d in documents(1)), "utf-8")
        runs: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        for round_ in range(rounds):
            for label in list(VARIANTS) if round_ % 2 == 0 else list(VARIANTS)[::-1]:
                settings = node.replace(index_prefix=f"run-{label}-{round_}",
                                        stemmed_languages=VARIANTS[label])
                report = running.ingest(settings, [str(path)], 500, prefect=False)
                runs[label].append((report.duration_s, report.stage_seconds.get("index", 0.0)))
    print(f"\nwhole ingest runs of {len(documents(1))} articles, {rounds} interleaved rounds")
    for label, values in runs.items():
        print(f"  run {label:<8} median {statistics.median(v[0] for v in values):6.2f} s, "
              f"of which index {statistics.median(v[1] for v in values):5.2f} s")
    ratios = [p[0] / s[0] for p, s in zip(runs["plain"], runs["stemmed"], strict=True)]
    print(f"  a stemmed run takes {1 / statistics.median(ratios):.2f}x the time of a plain one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with private_node(Settings.from_env()) as node:
        es = connect(node).options(request_timeout=300)
        indexing(es, documents(args.copies), args.rounds, args.copies)
        store_sizes(es)
        search_times(es)
        matches(es)
        ingest_runs(node, args.rounds)


if __name__ == "__main__":
    main()
