"""The ONNX Runtime engine against the PyTorch model on a run's held-out sentences: same outputs? what chrF?

    python bench/engine_equality.py --model RUN [--data TEST.jsonl] [--sentences 420] [--beam 1] [--json OUT]

RUN needs its exports first (``interlingua export --model RUN --format onnx`` and ``... --int8``; a
missing one is skipped with a note). The first --sentences rows of the test split that have English are
translated from English, row i into the i-th of the model's other languages in turn (so every target
language is covered), by PyTorch fp32 and by each export, with the same search (greedy by default).
Printed: how many outputs of each export are identical to PyTorch's, and the chrF of each against the
references, overall and per language, with its difference to PyTorch's.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.api import Translator  # noqa: E402
from interlingua.checkpoint import run_corpus  # noqa: E402
from interlingua.corpus.formats import iter_corpus  # noqa: E402
from interlingua.corpus.split import split_path  # noqa: E402
from interlingua.evaluate.metrics import chrf  # noqa: E402
from interlingua.export import MANIFEST, export_folder  # noqa: E402


def held_out(data: Path, languages: list[str], n: int) -> dict[str, list[tuple[str, str]]]:
    """{target: [(English source, reference)]}: row i of the split goes into the i-th language in turn."""
    targets = [lang for lang in languages if lang != "en"]
    pairs: dict[str, list[tuple[str, str]]] = {lang: [] for lang in targets}
    taken = 0
    for row in iter_corpus(data):
        if taken == n:
            break
        lang = targets[taken % len(targets)]
        if "en" in row and lang in row:
            pairs[lang].append((row["en"], row[lang]))
            taken += 1
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="run folder with its ONNX exports")
    parser.add_argument("--data", type=Path, help="held-out corpus (default: the test split of the run's corpus)")
    parser.add_argument("--sentences", type=int, default=420, help="held-out sentences (default 420)")
    parser.add_argument("--beam", type=int, default=1, help="beam width (default 1: greedy)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    data = args.data or split_path(run_corpus(args.model), "test")
    reference = Translator.load(args.model, engine="torch")
    pairs = held_out(data, reference.languages, args.sentences)
    engines = {"torch fp32": reference}
    for precision in ("fp32", "int8"):
        if (export_folder(args.model, precision) / MANIFEST).exists():
            engines[f"onnx {precision}"] = Translator.load(args.model, engine="onnx", precision=precision)
        else:
            print(f"note: no {precision} export in {export_folder(args.model, precision)}: skipped")
    outputs: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, float] = {}
    for name, translator in engines.items():
        start = time.process_time()  # CPU time: the machine may be busy with other work
        outputs[name] = {lang: translator.translate([src for src, _ in rows], to=lang, beam=args.beam)
                         for lang, rows in pairs.items() if rows}
        seconds[name] = time.process_time() - start
    refs = {lang: [ref for _, ref in rows] for lang, rows in pairs.items() if rows}
    total = sum(map(len, refs.values()))
    report = {"model": str(args.model), "data": str(data), "sentences": total, "beam": args.beam, "engines": {}}
    print(f"{args.model}: {total} held-out sentences from {data}, English into {', '.join(refs)}, beam {args.beam}")
    base = chrf(sum(outputs["torch fp32"].values(), []), sum(refs.values(), []))
    for name, out in outputs.items():
        same = sum(a == b for lang in refs for a, b in zip(out[lang], outputs["torch fp32"][lang]))
        score = chrf(sum(out.values(), []), sum(refs.values(), []))
        per_lang = {lang: round(chrf(out[lang], refs[lang]), 2) for lang in refs}
        report["engines"][name] = {"identical_to_torch": same, "chrf": round(score, 2), "chrf_by_language": per_lang,
                                   "cpu_seconds": round(seconds[name], 1)}
        print(f"  {name:<11} identical to torch fp32: {same}/{total}; chrF {score:.2f} ({score - base:+.2f}); "
              f"per language " + ", ".join(f"{k} {v}" for k, v in per_lang.items())
              + f"; {seconds[name]:.1f} CPU s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
