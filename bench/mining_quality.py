"""Bitext mining quality: precision and recall of `interlingua mine` on held-out meanings, per threshold.

    python bench/mining_quality.py --model runs/base-align --data data/corpus.test.jsonl --lang fr [--pairs 400]

From the test rows having LANG and English: ``--pairs`` true pairs, plus ``--pairs/4`` LANG
sentences and ``--pairs/4`` English sentences whose translations are absent (noise). Both sides
are shuffled and mined with the real code; a mined pair is right when it is one of the true
pairs. Prints precision, recall and F1 for several margin thresholds, and the same for plain
cosine (no margin) at its best threshold, to show what the margin buys.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.api import Translator  # noqa: E402
from interlingua.corpus.formats import ROW_ID, read_corpus  # noqa: E402
from interlingua.mine import mine_vectors  # noqa: E402

THRESHOLDS = (1.0, 1.02, 1.04, 1.05, 1.06, 1.08, 1.1, 1.15, 1.2)


def scores(pairs: list[tuple[float, int, int]], gold: set[tuple[int, int]], threshold: float) -> tuple[int, float, float, float]:
    kept = [(i, j) for score, i, j in pairs if score >= threshold]
    right = sum(pair in gold for pair in kept)
    precision, recall = right / max(1, len(kept)), right / max(1, len(gold))
    return len(kept), precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--lang", default="fr")
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [r for r in read_corpus(args.data) if args.lang in r and "en" in r]
    seen_x, seen_en, unique = set(), set(), []
    for r in rows:  # a repeated text would be a second right answer
        if r[args.lang] not in seen_x and r["en"] not in seen_en:
            seen_x.add(r[args.lang]), seen_en.add(r["en"]), unique.append(r)
    random.Random(args.seed).shuffle(unique)
    noise = args.pairs // 4
    if len(unique) < args.pairs + 2 * noise:
        parser.error(f"{args.data}: only {len(unique)} usable {args.lang}-en rows")
    true, src_only, tgt_only = (unique[:args.pairs], unique[args.pairs:args.pairs + noise],
                                unique[args.pairs + noise:args.pairs + 2 * noise])
    src = [(r[args.lang], r[ROW_ID]) for r in true + src_only]
    tgt = [(r["en"], r[ROW_ID]) for r in true + tgt_only]
    random.Random(args.seed + 1).shuffle(src)
    random.Random(args.seed + 2).shuffle(tgt)
    true_ids = {r[ROW_ID] for r in true}
    tgt_index = {rid: j for j, (_, rid) in enumerate(tgt)}
    gold = {(i, tgt_index[rid]) for i, (_, rid) in enumerate(src) if rid in true_ids}

    translator = Translator.load(args.model)
    x, y = translator.embed([s for s, _ in src]), translator.embed([t for t, _ in tgt])
    mined = mine_vectors(x, y, threshold=0.0)
    print(f"{args.model}: {args.lang}-en, {args.pairs} true pairs among {len(src)} x {len(tgt)} sentences "
          f"({noise} unmatched on each side)")
    print(f"{'margin >=':>10}{'pairs':>7}{'precision':>11}{'recall':>8}{'F1':>7}")
    for threshold in THRESHOLDS:
        n, p, r, f = scores(mined, gold, threshold)
        print(f"{threshold:>10.2f}{n:>7}{p:>11.3f}{r:>8.3f}{f:>7.3f}")
    # Plain cosine, same greedy one-to-one selection: the best F1 over thresholds.
    cos = x @ y.T
    order = np.dstack(np.unravel_index(np.argsort(-cos, axis=None), cos.shape))[0]
    used_x, used_y, plain = set(), set(), []
    for i, j in order[: 50 * len(src)]:
        if i not in used_x and j not in used_y:
            used_x.add(i), used_y.add(j), plain.append((float(cos[i, j]), int(i), int(j)))
    best = max((scores(plain, gold, t) + (t,) for t in np.arange(0.3, 1.0, 0.02)), key=lambda s: s[3])
    print(f"plain cosine at its best threshold ({best[4]:.2f}): {best[0]} pairs, precision {best[1]:.3f}, "
          f"recall {best[2]:.3f}, F1 {best[3]:.3f}")


if __name__ == "__main__":
    main()
