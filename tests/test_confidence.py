"""A confidence for every draft (issue 17): Translator.drafts, the calibration's JSON and fit, `interlingua calibrate`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from interlingua.confidence import Calibration
from interlingua.errors import InterlinguaError
from interlingua.evaluate.calibration import held_out


def test_drafts_are_translate_with_the_models_confidence(tiny_run):
    from interlingua import Translator
    translator = Translator.load(tiny_run)
    sentences = ["Open the file", "", "Close the window", "  "]
    drafts = translator.drafts(sentences, to=["fr", "de"])
    plain = translator.translate(sentences, to=["fr", "de"])
    for lang in ("fr", "de"):
        assert [d.text for d in drafts[lang]] == plain[lang]
        assert drafts[lang][1].confidence is None and drafts[lang][3].confidence is None  # blank: no model draft
        assert all(0 < d.confidence < 1 for d in (drafts[lang][0], drafts[lang][2]))
    assert translator.drafts(sentences, to="fr") == drafts["fr"]
    # through a pivot a draft is as sure as its weaker leg
    french = ["Ouvrir le fichier", "Fermer la fenêtre"]
    first = translator.drafts(french, to="en")
    second = translator.drafts([d.text for d in first], to="de")
    via = translator.drafts(french, to="de", pivot="en")
    assert [d.text for d in via] == [d.text for d in second]
    assert [d.confidence for d in via] == [a.confidence if b.confidence is None else min(a.confidence, b.confidence)
                                           for a, b in zip(first, second)]


def test_a_calibration_round_trips_as_plain_json_and_interpolates(tmp_path):
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.1, 0.9, 400)
    good = rng.uniform(size=400) < conf  # the chance of a good draft is its confidence: a calibrated model
    curve = Calibration.fit(conf.tolist(), good.tolist(), 50.0, {"drafts": 400})
    assert all(b >= a for a, b in zip(curve.chance, curve.chance[1:]))
    assert curve.chance_of(0.2) < 0.35 < 0.65 < curve.chance_of(0.8)
    assert curve.chance_of(0.0) == curve.chance[0] and curve.chance_of(1.0) == curve.chance[-1]  # flat outside
    path = tmp_path / "calibration.json"
    curve.save(path)
    assert Calibration.load(path) == curve and json.loads(path.read_text())["kind"] == "interlingua confidence calibration"
    with pytest.raises(InterlinguaError, match="need both kinds"):
        Calibration.fit([0.2, 0.5], [True, True], 50.0)
    path.write_text('{"kind": "interlingua confidence calibration", "min_chrf": 50, "confidence": [0.5, 0.1], '
                    '"chance": [0, 1]}')
    with pytest.raises(InterlinguaError, match=f"{path}: not a usable calibration"):
        Calibration.load(path)
    path.write_text('{"kind": "something else"}')
    with pytest.raises(InterlinguaError, match="not a calibration"):
        Calibration.load(path)


def test_held_out_measures_know_the_answer():
    """A confidence that says which drafts are good ranks perfectly (AUC 1); one that says nothing, at chance."""
    rng = np.random.default_rng(1)
    chrf = rng.uniform(0, 100, 600)
    points = [{"src": "en", "tgt": "fr", "confidence": c / 100, "chrf": c} for c in chrf]
    measured, predicted = held_out(points, 50.0)
    assert measured["auc"] == 1.0 and measured["brier"] < 0.02 < 0.2 < measured["brier_base_rate"]
    noise = [{**p, "confidence": float(rng.uniform())} for p in points]
    measured, _ = held_out(noise, 50.0)
    assert 0.4 < measured["auc"] < 0.6 and measured["brier"] >= measured["brier_base_rate"] - 0.01
    assert measured["directions"]["en>fr"]["drafts"] == 600


def calibrated_copy(run, tmp_path, calibration):
    """The shared tiny run, linked file by file into a folder of its own that has a calibration."""
    copy = tmp_path / "run"
    copy.mkdir()
    for item in run.iterdir():
        (copy / item.name).symlink_to(item)
    calibration.save(copy / "calibration.json")
    return copy


@pytest.mark.slow  # CLI subprocesses
def test_cli_calibrate_then_translate_file_with_min_confidence(tiny_run, tmp_path):
    from interlingua import Translator
    from interlingua.evaluate.calibration import collect
    from interlingua.evaluate.testset import load_test_rows
    translator = Translator.load(tiny_run)
    rows, _, _ = load_test_rows(None, translator.languages, tiny_run)  # the test split of the run's corpus
    scores = sorted(p["chrf"] for p in collect(translator, rows, ["fr", "de"], max_sentences=8, progress=False))
    middle = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2  # both kinds of draft on each side
    run = calibrated_copy(tiny_run, tmp_path, Calibration(50.0, [0.0], [0.0]))
    (run / "calibration.json").unlink()
    result = run_cli("calibrate", "--model", str(run), "--max-sentences", "8", "--min-chrf", f"{middle:.4f}",
                     "--plot", str(tmp_path / "cal.png"), "--points", str(tmp_path / "points.jsonl"), "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    assert "Brier" in result.stdout.decode() and "en>fr: 8 drafts" in result.stdout.decode()
    calibration = Calibration.load(run / "calibration.json")
    assert calibration.measured["drafts"] == 24  # 8 rows into each of fr, de, es
    assert Translator.load(run).calibration == calibration and translator.calibration is None  # read with the run
    assert (tmp_path / "cal.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "points.jsonl").read_text().splitlines()) == 24
    catalog = tmp_path / "app.pot"
    catalog.write_text('msgid "Open the file"\nmsgstr ""\n\nmsgid "%s: %s"\nmsgstr ""\n', encoding="utf-8")
    result = run_cli("translate-file", str(catalog), "--model", str(run), "--to", "fr", "--out", str(tmp_path / "o"),
                     "--min-confidence", "1", "--quiet")  # no model draft is that sure
    assert result.returncode == 0, result.stderr.decode()
    assert "1 filled" in result.stdout.decode() and "1 below --min-confidence" in result.stdout.decode()
    (run / "calibration.json").write_text("{not json")
    assert_clean_error(run_cli("translate-file", str(catalog), "--model", str(run), "--to", "fr", "--out",
                               str(tmp_path / "o")), "calibration.json", "corrupt JSON")
    assert_clean_error(run_cli("translate-file", str(catalog), "--model", str(run), "--to", "fr", "--out",
                               str(tmp_path / "o"), "--min-confidence", "2"), "--min-confidence", "0 to 1")
