"""A fixed tiny run's whole evaluation, compared with the JSON a known commit produced.

The golden losses (test_train.py) pin training; this pins what comes after it: batching and padding at
inference (``Translator``), greedy search, chrF/BLEU, retrieval, the probe and the placeholder counts. A
refactor that claims "outputs unchanged" shows it here. ``tests/data/golden.eval.json`` was written by
``python tests/test_golden_eval.py`` at the commit the README names; after a deliberate change,
write it again and say in the commit why it moved.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import pytest

GOLDEN_CORPUS = Path(__file__).parent / "data" / "golden.train.jsonl"  # 240 en/fr/de meanings, committed
GOLDEN_EVAL = Path(__file__).parent / "data" / "golden.eval.json"
SETTINGS = ["max_steps=150", "log_every=50", "eval_every=1000", "save_every_minutes=0"]  # outputs that differ by input
MAX_SENTENCES = 40  # per source language: 4 supervised and 2 zero-shot directions, pivot, retrieval, probe


def golden_evaluation(folder: Path) -> dict:
    """Train ``tiny`` on the committed corpus with its fixed seed, evaluate on that corpus; no paths kept.

    The rows are the training rows: the numbers pin the code, they say nothing of quality.
    """
    from interlingua.config import load_config
    from interlingua.evaluate.run import run_evaluation
    from interlingua.train import train
    run = train(GOLDEN_CORPUS, folder / "run", load_config("tiny", SETTINGS))
    result = run_evaluation(run, GOLDEN_CORPUS, max_sentences=MAX_SENTENCES, progress=False)
    del result["model"], result["data"]  # where this run and the checkout happen to be
    return json.loads(json.dumps(result))  # tuples as lists, as in the stored file


def close(got, expected, path: str = "") -> list[str]:
    """Where two JSON values differ: numbers by more than 2e-4 relative (fp32 sums in another order), the rest
    exactly."""
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(got) != set(expected):
            return [f"{path}: keys {sorted(set(got) ^ set(expected))}"]
        return [d for k in expected for d in close(got[k], expected[k], f"{path}.{k}")]
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return [f"{path}: {len(got)} items, expected {len(expected)}"]
        return [d for i, (g, e) in enumerate(zip(got, expected)) for d in close(g, e, f"{path}[{i}]")]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(got, numbers) and not isinstance(expected, bool):
        if math.isclose(got, expected, rel_tol=2e-4, abs_tol=1e-9) or (math.isnan(got) and math.isnan(expected)):
            return []
    elif got == expected:
        return []
    return [f"{path}: {got!r}, expected {expected!r}"]


@pytest.mark.slow
def test_the_tiny_run_evaluates_as_the_stored_json(tmp_path):
    expected = json.loads(GOLDEN_EVAL.read_text())
    differences = close(golden_evaluation(tmp_path), expected)
    assert not differences, "\n".join(differences[:20])


def test_the_comparison_can_fail():
    stored = json.loads(GOLDEN_EVAL.read_text())
    assert close(stored, stored) == []
    moved = json.loads(GOLDEN_EVAL.read_text())
    moved["summary"]["supervised_chrf"] = (moved["summary"]["supervised_chrf"] or 0) * 1.01 + 0.01
    assert close(moved, stored) and close({**stored, "extra": 1}, stored)


if __name__ == "__main__":  # write the stored JSON again (after a deliberate change)
    from interlingua.files import write_json
    with tempfile.TemporaryDirectory() as tmp:
        write_json(GOLDEN_EVAL, golden_evaluation(Path(tmp)))
    print(f"wrote {GOLDEN_EVAL}", file=sys.stderr)
