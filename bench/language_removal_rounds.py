"""Language removal with 0, 1, ... rounds of nullspace projection: retrieval and both probes on one run.

    python bench/language_removal_rounds.py --model runs/base60 --rounds 0 1 3 6

The training vectors (the first ``--meanings`` training meanings per language, as
``language_removal.fit_run`` takes them) are embedded once and every setting is fitted on them;
each is then scored as ``interlingua evaluate --max-sentences 200`` scores the ``project`` method
(same rows, same probe halves). One JSON line per setting on stdout. docs/evaluation.md quotes it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from interlingua.api import Translator
from interlingua.corpus.split import run_split
from interlingua.evaluate.probes import evaluate_probes
from interlingua.evaluate.retrieval import evaluate_retrieval
from interlingua.evaluate.testset import load_test_rows
from interlingua.evaluate.vectors import LayerVectors, RemovedVectors
from interlingua.language_removal import FIT_MEANINGS, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--rounds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--meanings", type=int, default=FIT_MEANINGS)
    parser.add_argument("--max-sentences", type=int, default=200)
    args = parser.parse_args()
    translator = Translator.load(args.model, language_removal=False)
    languages = translator.languages
    rows = run_split(Path(args.model), "train")[0]
    ordered = ([r for r in rows if all(lang in r for lang in languages)]
               + [r for r in rows if not all(lang in r for lang in languages)])
    train = {lang: translator.embed([r[lang] for r in ordered if lang in r][:args.meanings], language_removal=False)
             for lang in languages}
    test_rows, test_languages, _ = load_test_rows(None, languages, args.model)
    vectors = LayerVectors(translator)
    for rounds in args.rounds:
        removed = RemovedVectors(vectors, fit(train, args.meanings, rounds=rounds), "project")
        retrieval, _, _ = evaluate_retrieval(removed, test_rows, test_languages, max_sentences=args.max_sentences,
                                             progress=False)
        result = {"rounds": rounds, "directions": int(removed.removal.directions.shape[0]),
                  "xsim_error": float(np.mean([r["xsim_error"] for r in retrieval.values()])),
                  "xsim_error_margin": float(np.mean([r["xsim_error_margin"] for r in retrieval.values()]))}
        for kind in ("linear", "mlp"):
            probe, _ = evaluate_probes(removed, test_rows, test_languages, per_language=args.max_sentences,
                                       progress=False, kind=kind)
            result[f"langid_probe_{kind}"] = probe["pooled"]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
