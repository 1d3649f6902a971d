"""How much a split flatters the translation memory: its chrF on the test split of each corpus given.

    python bench/split_memory.py data/random/corpus.jsonl data/grouped/corpus.jsonl --langs fr,uk,es,ru,sv,de

Each CORPUS must have its train and test splits beside it (``interlingua corpus split``). For each,
the translation memory of ``interlingua evaluate --baselines`` (evaluate/baselines.py) is built from
the training split and scored en→X and X→en on every test row having both languages, as evaluate
does. Also printed: the share of English test sentences whose best fuzzy match in the training
English is ≥ 90% (``fuzz.ratio`` on the raw text, as the memory scores it), i.e. a near-copy
the memory can hand back.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.corpus.formats import ROW_ID  # noqa: E402
from interlingua.corpus.langcodes import split_languages  # noqa: E402
from interlingua.corpus.split import load_split  # noqa: E402
from interlingua.evaluate.baselines import translation_memory_chrf  # noqa: E402
from interlingua.evaluate.testset import sort_by_id  # noqa: E402
from interlingua.evaluate.translation import Direction  # noqa: E402
from interlingua.memory import TranslationMemory  # noqa: E402

ENGLISH = "en"
NEAR_COPY = 90


def directions(test: list[dict[str, str]], langs: list[str]) -> list[Direction]:
    out = []
    for lang in langs:
        for src, tgt in ((ENGLISH, lang), (lang, ENGLISH)):
            chosen = [i for i, row in enumerate(test) if src in row and tgt in row]
            out.append(Direction(src, tgt, "supervised", chosen, [test[i][src] for i in chosen],
                                 [test[i][tgt] for i in chosen], []))
    return out


def near_copy_share(test: list[dict[str, str]], train: list[dict[str, str]]) -> float:
    from rapidfuzz import fuzz, process
    queries = [row[ENGLISH] for row in test if ENGLISH in row]
    memory = [row[ENGLISH] for row in train if ENGLISH in row]
    best = np.zeros(len(queries), dtype=np.uint8)
    for start in range(0, len(queries), 256):
        scores = process.cdist(queries[start:start + 256], memory, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
        best[start:start + 256] = scores.max(axis=1)
    return float((best >= NEAR_COPY).mean()) if len(best) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="+", help="corpus files with .train/.test splits beside them")
    parser.add_argument("--langs", default="fr,uk,es,ru,sv,de", help="languages besides English (default: base's)")
    args = parser.parse_args()
    langs = split_languages(args.langs)
    results = {}
    for corpus in args.corpora:
        train, test = load_split(Path(corpus), "train"), load_split(Path(corpus), "test")
        test = sort_by_id([{k: v for k, v in row.items() if k in (ROW_ID, ENGLISH, *langs)} for row in test])
        found = directions(test, langs)
        scores = translation_memory_chrf(TranslationMemory(train), found, progress=False)
        sizes = {(d.src, d.tgt): len(d.rows) for d in found}
        results[corpus] = (scores, sizes, near_copy_share(test, train), len(test))

    print("| language | " + " | ".join(f"{c} en→X chrF (sentences) | X→en chrF" for c in args.corpora) + " |")
    print("|---|" + "---|---|" * len(args.corpora))
    for lang in [*langs, "mean"]:
        cells = []
        for scores, sizes, _, _ in results.values():
            if lang == "mean":
                to = np.mean([scores[(ENGLISH, x)] for x in langs])
                back = np.mean([scores[(x, ENGLISH)] for x in langs])
                cells += [f"**{to:.1f}**", f"**{back:.1f}**"]
            else:
                cells += [f"{scores[(ENGLISH, lang)]:.1f} ({sizes[(ENGLISH, lang)]})", f"{scores[(lang, ENGLISH)]:.1f}"]
        print(f"| {lang} | " + " | ".join(cells) + " |")
    for corpus, (_, _, share, rows) in results.items():
        print(f"{corpus}: {rows} test meanings; English test sentences with a ≥ {NEAR_COPY}% fuzzy match in "
              f"training: {share:.1%}")


if __name__ == "__main__":
    main()
