"""The memory-reading model's retrieval cost (interlingua/memory.py): the training search per source language
and the look-up at translation time, on a real split.

    python bench/tm_retrieval.py [--memory data/corpus.train.jsonl] [--languages en,fr] [--queries data/corpus.test.jsonl]
                                 [--target fr] [--no-training]

Training search: every text of a language against the others (trigram shortlist scored by fuzz.ratio, each
text's near-duplicate group masked), as ``train`` does it for ``model.memory=true``, but without writing the
cache beside the file. Look-up: English queries from ``--queries`` into ``--target`` against every text of the
memory, as ``Translator`` does with ``--tm``; the first call includes fitting the memory's trigram vocabulary.
Wall seconds; run it with the machine otherwise idle.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.corpus.formats import read_corpus  # noqa: E402
from interlingua.memory import TranslationMemory  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory", default="data/corpus.train.jsonl")
    parser.add_argument("--languages", default="en,uk,fr,ru,es,sv,de", help="training search: source languages")
    parser.add_argument("--queries", default="data/corpus.test.jsonl", help="look-up: English queries from here")
    parser.add_argument("--target", default="fr")
    parser.add_argument("--min-score", type=float, default=50.0)
    parser.add_argument("--no-training", action="store_true", help="time the look-up only")
    args = parser.parse_args()

    memory = TranslationMemory(read_corpus(args.memory))  # no path: nothing is cached beside the file
    if not args.no_training:
        start = time.perf_counter()
        memory._groups()
        print(f"near-duplicate groups: {time.perf_counter() - start:.1f} s")
        for lang in args.languages.split(","):
            start = time.perf_counter()
            position, neighbours, _ = memory._training_index(lang, args.min_score)
            print(f"training search {lang}: {len(position)} texts, {(neighbours[:, 0] >= 0).mean():.1%} with a "
                  f"match >= {args.min_score:g} outside their group, {time.perf_counter() - start:.1f} s")
    queries = [row["en"] for row in read_corpus(args.queries) if row.get("en")][:400]
    start = time.perf_counter()
    memory.lookup(queries[:1], args.target, args.min_score)
    print(f"look-up, first call (trigram vocabulary of {len(memory._all_trigrams()[1])} texts): "
          f"{time.perf_counter() - start:.1f} s")
    for n in (1, 32, len(queries)):
        start = time.perf_counter()
        found = memory.lookup(queries[:n], args.target, args.min_score)
        seconds = time.perf_counter() - start
        print(f"look-up of {n} queries into {args.target}: {seconds:.3f} s ({seconds / n * 1000:.1f} ms each), "
              f"{sum(f is not None for f in found)} matched")


if __name__ == "__main__":
    main()
