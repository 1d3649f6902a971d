"""Post-hoc language removal: known answers on made-up vectors, a tiny run's statistics round trip, bad files."""
import shutil

import numpy as np
import pytest

from conftest import assert_clean_error, one_thread, run_cli
from interlingua.errors import InterlinguaError
from interlingua.evaluate.probes import probe_accuracy, split_by_meaning
from interlingua.language_removal import FILE, LanguageRemoval, fit


def _vectors(seed: int, languages=("en", "fr", "de", "es"), meanings=150, d=16):
    """Each meaning a random point (``seed``); each language adds its own fixed offset: the language is linearly
    readable."""
    offsets = {lang: 2 * np.random.default_rng(100 + n).normal(size=d) for n, lang in enumerate(languages)}
    rng = np.random.default_rng(seed)
    meaning = rng.normal(size=(meanings, d))
    return {lang: meaning + offsets[lang] + 0.1 * rng.normal(size=(meanings, d)) for lang in languages}


def test_projection_puts_every_language_mean_on_one_point_and_the_probe_at_chance():
    train, test = _vectors(seed=0), _vectors(seed=1)  # fitted on other meanings than it is scored on
    removal = fit(train, meanings=150)
    assert removal.directions.shape == (3, 16)  # four language means span three directions
    assert np.allclose(removal.directions @ removal.directions.T, np.eye(3), atol=1e-5)
    labels = np.repeat(list(test), 150)
    groups = np.tile(np.arange(150), len(test))
    halves = split_by_meaning(groups)
    raw = np.concatenate(list(test.values()))
    assert probe_accuracy(raw, labels, halves) > 0.95
    projected = removal.project(raw)
    assert np.allclose(np.linalg.norm(projected, axis=1), 1, atol=1e-5)
    means = [projected[labels == lang].mean(axis=0) for lang in test]
    assert max(np.abs(m - means[0]).max() for m in means) < 0.1
    assert probe_accuracy(projected, labels, halves) < 0.4  # chance 0.25
    centred = np.concatenate([removal.center(v, lang) for lang, v in test.items()])
    assert probe_accuracy(centred, labels, halves) < 0.4
    with pytest.raises(InterlinguaError, match="no language mean for 'ja'"):
        removal.center(raw, "ja")
    assert fit(train, meanings=150, rank=1).directions.shape == (1, 16)
    with pytest.raises(InterlinguaError, match="at least two languages"):
        fit({"en": train["en"]}, meanings=150)


def test_nullspace_rounds_find_the_language_the_kept_directions_left():
    train, test = _vectors(seed=0), _vectors(seed=1)
    labels = np.repeat(list(test), 150)
    halves = split_by_meaning(np.tile(np.arange(150), len(test)))
    raw = np.concatenate(list(test.values()))
    one = fit(train, meanings=150, rank=1)  # one of the three language directions: the others still tell
    assert probe_accuracy(one.project(raw), labels, halves) > 0.8
    rounds = fit(train, meanings=150, rank=1, rounds=2)
    count = rounds.directions.shape[0]
    assert 1 < count <= 1 + 2 * 4
    assert np.allclose(rounds.directions @ rounds.directions.T, np.eye(count), atol=1e-5)
    assert probe_accuracy(rounds.project(raw), labels, halves) < 0.4


@pytest.fixture
def run_copy(made_up_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(made_up_run, out)
    return out


def test_statistics_of_a_tiny_run_round_trip_and_embed_applies_them(run_copy):
    from interlingua.api import Translator
    from interlingua.language_removal import fit_run
    sentences = ["open file 3", "ouvrir fichier 3", "Datei öffnen 3"]
    with one_thread():
        translator = Translator.load(run_copy)
        assert translator.language_removal is None
        raw = translator.embed(sentences)
        removal = fit_run(translator, run_copy, meanings=40)
        assert removal.languages == translator.languages and removal.meanings == 40
        removal.save(run_copy / FILE)
        assert not list(run_copy.glob("*.tmp"))
        again = LanguageRemoval.load(run_copy / FILE)
        for key in ("mean", "language_means", "directions"):
            assert np.array_equal(getattr(again, key), getattr(removal, key))
        assert again.languages == removal.languages and again.meanings == removal.meanings
        applied = Translator.load(run_copy).embed(sentences)
        assert np.allclose(applied, removal.project(raw), atol=1e-5)
        assert not np.allclose(applied, raw, atol=1e-3)
        assert np.allclose(Translator.load(run_copy, language_removal=False).embed(sentences), raw, atol=1e-6)
        # layer_vectors stay the model's own: the probes measure the model, not the removal
        assert np.allclose(Translator.load(run_copy).layer_vectors(sentences)["pooled"], raw, atol=1e-5)


@pytest.mark.slow  # CLI subprocesses
def test_cli_fits_writes_and_turns_off(run_copy, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("open file 3\nouvrir fichier 3\n")
    assert run_cli("embed", "--model", str(run_copy), "--in", str(text), "--out", str(tmp_path / "raw.npy")
                   ).returncode == 0
    fitted = run_cli("embed", "--model", str(run_copy), "--fit-language-removal", "--meanings", "30")
    assert fitted.returncode == 0, fitted.stderr.decode()
    assert (run_copy / FILE).is_file() and "wrote" in fitted.stdout.decode()
    for args, name in (([], "removed.npy"), (["--no-language-removal"], "off.npy")):
        result = run_cli("embed", "--model", str(run_copy), "--in", str(text), "--out", str(tmp_path / name), *args)
        assert result.returncode == 0, result.stderr.decode()
    raw, removed, off = (np.load(tmp_path / n) for n in ("raw.npy", "removed.npy", "off.npy"))
    assert np.allclose(off, raw, atol=1e-6) and not np.allclose(removed, raw, atol=1e-3)
    assert_clean_error(run_cli("embed", "--model", str(run_copy)), "--in and --out")


def test_missing_or_corrupt_statistics_are_errors_that_name_the_file(run_copy, tmp_path):
    with pytest.raises(InterlinguaError, match="nothing.safetensors: missing language-removal file"):
        LanguageRemoval.load(tmp_path / "nothing.safetensors")
    assert LanguageRemoval.of_run(run_copy) is None  # absent from a run: no removal, not an error
    (run_copy / FILE).write_bytes(b"")
    with pytest.raises(InterlinguaError, match="not a usable language-removal file"):
        LanguageRemoval.of_run(run_copy)


@pytest.mark.slow  # CLI subprocesses
def test_corrupt_statistics_are_one_clear_line_in_the_cli(run_copy, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("open file\n")
    (run_copy / FILE).write_bytes(b"\x00\x01 not safetensors")
    result = run_cli("embed", "--model", str(run_copy), "--in", str(text), "--out", str(tmp_path / "v.npy"))
    assert_clean_error(result, FILE, "not a usable language-removal file")
    assert not (tmp_path / "v.npy").exists()
    # a whole safetensors file of something else (a checkpoint) is refused too
    weights = next((run_copy / "checkpoints").glob("step_*[0-9].safetensors"))
    shutil.copy(weights, run_copy / FILE)
    assert_clean_error(run_cli("mine", "--model", str(run_copy), "--src", str(text), "--tgt", str(text),
                               "--out", str(tmp_path / "p.tsv")), FILE, "not a usable language-removal file")
