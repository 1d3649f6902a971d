"""Real training of tiny models on real catalog rows: the loss falls, pairs can be learned by heart,
checkpoints reload exactly, and a resumed run continues with the same losses."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from interlingua.api import Translator
from interlingua.config import load_config
from interlingua.corpus.formats import ROW_ID, write_corpus
from interlingua.errors import InterlinguaError
from interlingua.train import train


def logged(run, kind="train"):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == kind]


# ----------------------------------------------------------------------------- golden losses of the recipe

GOLDEN_CORPUS = Path(__file__).parent / "data" / "golden.train.jsonl"  # 240 en/fr/de meanings, committed
GOLDEN = {  # the losses logged every 5 steps of 40 with the tiny preset's seed (measured with torch 2.13.0 on CPU)
    "plain": ([], [6.763966, 6.430407, 5.940164, 5.69435, 5.273092, 5.155096, 4.919499, 4.788074]),
    "aligned, adversary": (["align_weight=0.1", "adversary_weight=0.3"],
                           [8.844171, 8.140813, 7.669557, 7.326489, 7.073462, 6.911141, 6.779864, 6.564408]),
}


@pytest.mark.parametrize("variant", list(GOLDEN))
def test_the_tiny_recipe_logs_its_golden_losses(variant, tmp_path):
    """A silent change to training (losses, schedule, initialisation, batching, tokenizer) moves these numbers.

    The corpus is a committed file, not this machine's catalogs, so the numbers hold on any machine. The
    tolerance is 2e-4 relative: fp32 sums in another order (another thread count, another CPU's vector
    width) differ in their last bits, and 40 Adam steps grow that; a real change to training moves a loss by
    1e-2 or more. After a deliberate change, measure the new list and say in the commit why it moved.
    """
    overrides, expected = GOLDEN[variant]
    config = load_config("tiny", ["max_steps=40", "log_every=5", "eval_every=1000", "save_every_minutes=0",
                                  *overrides])
    run = train(GOLDEN_CORPUS, tmp_path / "run", config)
    losses = [r["loss"] for r in logged(run)]
    assert losses == pytest.approx(expected, rel=2e-4), losses


def test_loss_falls(tiny_run):
    losses = [r["loss"] for r in logged(tiny_run)]
    assert len(losses) >= 5
    assert losses[-1] < losses[0] - 0.5


def test_train_leaves_the_callers_config_as_it_was(corpus_path, tmp_path):
    config = load_config("tiny", ["max_steps=2", "eval_every=1000"])
    given = config.to_dict()
    run = train(corpus_path, tmp_path / "run", config)
    assert config.to_dict() == given
    assert json.loads((run / "config.json").read_text()) != given  # the run's copy was settled (languages, ...)
    train(corpus_path, run, config, resume=True)
    assert config.to_dict() == given


def test_run_folder_describes_itself(tiny_run):
    for name in ("config.json", "run.json", "tokenizer.model", "latest.json", "best.json", "grad_norms.jsonl"):
        assert (tiny_run / name).exists(), name
    run = json.loads((tiny_run / "run.json").read_text())
    assert "en>fr" in run["trained_directions"] and "fr>de" not in run["trained_directions"]
    norms = json.loads((tiny_run / "grad_norms.jsonl").read_text().splitlines()[-1])["norms"]
    assert {"embed", "encoder.0", "bridge", "decoder.0"} <= set(norms)
    assert not list(tiny_run.rglob("*.tmp"))


@pytest.mark.slow
def test_learns_a_handful_of_pairs_by_heart(real_rows, tmp_path):
    rows = [{ROW_ID: r[ROW_ID], "en": r["en"], "fr": r["fr"]} for r in real_rows if len(r["en"]) < 20][:8]
    write_corpus(rows, tmp_path / "eight.jsonl")
    config = load_config("tiny", ["model.d_model=64", "model.d_ff=128", "model.n_heads=4", "max_steps=250",
                                  "lr=0.005", "warmup_steps=20", "languages=en,fr", "directions=en-fr",
                                  "label_smoothing=0", "eval_every=1000"])
    run = train(tmp_path / "eight.jsonl", tmp_path / "run", config)
    out = Translator.load(run, "latest").translate([r["en"] for r in rows], to="fr")
    correct = sum(o == r["fr"] for o, r in zip(out, rows))
    assert correct >= 6, list(zip(out, [r["fr"] for r in rows]))


def test_reloaded_model_gives_identical_outputs(tiny_run):
    from interlingua.checkpoint import resolve_checkpoint
    a = Translator.load(tiny_run, "latest")
    b = Translator.load(tiny_run, str(resolve_checkpoint(tiny_run, "latest")))
    sentences = ["Open file", "Save the document as…"]
    assert a.translate(sentences, to=["fr", "de"]) == b.translate(sentences, to=["fr", "de"])
    assert np.array_equal(a.embed(sentences), b.embed(sentences))


@pytest.mark.slow
def test_resume_continues_with_the_same_losses(corpus_path, tmp_path):
    base = ["max_steps=40", "eval_every=20", "log_every=5", "model.dropout=0.1", "keep_checkpoints=5"]
    whole = train(corpus_path, tmp_path / "whole", load_config("tiny", base))
    half = train(corpus_path, tmp_path / "half", load_config("tiny", base[1:] + ["max_steps=20"]))
    resumed = train(corpus_path, half, load_config("tiny", base), resume=True)
    expect = {r["step"]: r["loss"] for r in logged(whole) if r["step"] > 20}
    got = {r["step"]: r["loss"] for r in logged(resumed) if r["step"] > 20}
    assert expect.keys() == got.keys() and len(got) == 4
    for step in expect:
        assert got[step] == pytest.approx(expect[step], rel=1e-4, abs=1e-4), step


@pytest.mark.slow
def test_a_run_with_the_adversary_and_alignment_saves_and_reloads(corpus_path, tmp_path):
    run = train(corpus_path, tmp_path / "adv", load_config("tiny", ["max_steps=20", "eval_every=20",
                                                                    "adversary_weight=0.3", "align_weight=0.1"]))
    assert Translator.load(run).translate(["Open file"], to="fr")  # saved, reloaded with its adversary


@pytest.mark.slow
def test_bf16_autocast_trains_and_a_resumed_run_keeps_the_precision_it_chose(corpus_path, tmp_path, caplog):
    run = train(corpus_path, tmp_path / "bf16", load_config("tiny", ["max_steps=20", "eval_every=10",
                                                                      "log_every=5", "precision=bf16"]))
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"
    losses = [r["loss"] for r in logged(run)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    caplog.clear()
    with caplog.at_level("INFO", logger="interlingua"):
        train(corpus_path, run, load_config("tiny", ["max_steps=30", "eval_every=10", "log_every=5"]),
              resume=True)  # asked for auto, as the command line does: the run's own choice wins
    assert any("on cpu, bf16" in r.getMessage() for r in caplog.records)
    assert [r["step"] for r in logged(run)][-1] == 30


def test_cosine_schedule_warms_up_peaks_and_reaches_zero_at_the_end_of_the_budget():
    from interlingua.config import TrainConfig
    from interlingua.train import budget_done, learning_rate
    by_steps = TrainConfig(max_steps=1000, warmup_steps=100, lr_schedule="cosine")
    rates = [learning_rate(s, 1e-3, 100, "cosine", budget_done(s, 0.0, by_steps)) for s in range(1, 1001)]
    assert rates[49] == pytest.approx(0.5e-3)                       # half-way up the warm-up
    assert max(rates) == pytest.approx(1e-3, rel=0.05) and rates.index(max(rates)) < 110  # decay runs from step 0
    assert all(a >= b for a, b in zip(rates[100:], rates[101:]))   # then only down
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    # A time budget: whichever of steps and minutes runs out first sets the progress.
    both = TrainConfig(max_steps=1000, max_minutes=10, lr_schedule="cosine")
    assert budget_done(100, 300.0, both) == pytest.approx(0.5)
    assert budget_done(900, 60.0, both) == pytest.approx(0.9)
    # The inverse square root schedule is unchanged: peak at the end of warm-up, then peak·sqrt(w/s).
    assert learning_rate(400, 1e-3, 100) == pytest.approx(0.5e-3)


def test_cooldown_keeps_the_schedule_then_falls_linearly_to_zero_with_the_budget():
    from interlingua.config import TrainConfig
    from interlingua.train import budget_done, learning_rate
    t = TrainConfig(max_steps=1000, warmup_steps=100, lr_cooldown=0.2)
    rates = [learning_rate(s, 1e-3, 100, "inverse_sqrt", budget_done(s, 0.0, t), t.lr_cooldown) for s in range(1, 1001)]
    plain = [learning_rate(s, 1e-3, 100) for s in range(1, 1001)]
    assert rates[:800] == pytest.approx(plain[:800])               # untouched before the last 20%
    assert rates[899] == pytest.approx(plain[899] * 0.5)            # half-way down the cool-down
    assert all(a > b for a, b in zip(rates[800:], rates[801:-1]))  # strictly down
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InterlinguaError, match="lr_cooldown ends the rate with the run's budget"):
        load_config("tiny", ["lr_cooldown=0.2"])
    with pytest.raises(InterlinguaError, match=r"train.lr_cooldown must be at least 0 and below 1, got 1"):
        load_config("tiny", ["lr_cooldown=1", "max_steps=10"])


def test_resuming_inside_the_cooldown_with_a_larger_budget_warns(caplog):
    from interlingua.config import TrainConfig
    from interlingua.train import warn_if_cooldown_undone
    saved = TrainConfig(max_steps=1000, warmup_steps=100, lr_cooldown=0.2)
    with caplog.at_level("WARNING", logger="interlingua"):
        warn_if_cooldown_undone(saved, TrainConfig(max_steps=1000, warmup_steps=100, lr_cooldown=0.2), 900, 0.0)
        warn_if_cooldown_undone(saved, TrainConfig(max_steps=2000, warmup_steps=100, lr_cooldown=0.2), 700, 0.0)
        assert not caplog.records  # same budget, or not yet cooling: nothing jumps
        warn_if_cooldown_undone(saved, TrainConfig(max_steps=2000, warmup_steps=100, lr_cooldown=0.2), 900, 0.0)
    assert len(caplog.records) == 1 and "step 900 was 90% through its budget" in caplog.text
    assert "jumps from" in caplog.text


def test_training_logs_the_cooled_down_rate(tmp_path):
    """The loop passes lr_cooldown to the schedule: a warm-up still rising at step 4 falls there instead."""
    from interlingua.train import learning_rate
    settings = ["max_steps=4", "log_every=1", "lr_cooldown=0.5", "warmup_steps=100", "eval_every=1000",
                "save_every_minutes=0"]
    config = load_config("tiny", settings)
    lr = {r["step"]: r["lr"] for r in logged(train(GOLDEN_CORPUS, tmp_path / "run", config))}
    plain = {step: learning_rate(step, config.train.lr, config.train.warmup_steps) for step in lr}
    assert lr[3] == pytest.approx(plain[3])  # before the budget's last half: the schedule's own rate
    assert lr[4] == pytest.approx(plain[4] / 2) and lr[4] < lr[3]  # half-way down the ramp, though warming up


def test_the_python_api_names_a_wrong_argument_itself(tiny_run):
    translator = Translator.load(tiny_run)
    lang = translator.languages[1]
    for bad, error, needle in [(None, TypeError, "got NoneType"), ("Open the file", TypeError, "wrap it as"),
                               (["Open", 3], TypeError, "sentences[1] must be a string, got int")]:
        with pytest.raises(error, match=re.escape(needle)):
            translator.translate(bad, to=lang)
        with pytest.raises(error, match=re.escape(needle)):
            translator.embed(bad)
    for beam in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="beam must be a whole number of at least 1"):
            translator.translate(["Open the file"], to=lang, beam=beam)
    with pytest.raises(ValueError, match="a has 2 sentences, b has 1"):
        translator.similarity(["Open", "Close"], ["Ouvrir"])
    assert translator.translate(("Open the file",), to=lang) and translator.translate([], to=lang) == []


def test_resume_config_is_the_runs_own_with_the_overrides_on_top(tmp_path):
    """One owner for how a stopped run goes on (the command line's train --resume and the quickstart)."""
    from interlingua.errors import InterlinguaError
    from interlingua.files import write_json
    from interlingua.train import resume_config, was_stopped
    run = tmp_path / "run"
    with pytest.raises(InterlinguaError, match="nothing to resume"):
        resume_config(run)
    assert not was_stopped(run)
    run.mkdir()
    saved = load_config("tiny", ["lr=0.002", "max_steps=7"])
    (run / "config.json").write_text(json.dumps(saved.to_dict()))
    assert was_stopped(run)  # a config but no checkpoint yet
    config = resume_config(run, ["max_steps=9"])
    assert (config.train.lr, config.train.max_steps, config.model.d_model) == (0.002, 9, saved.model.d_model)
    with pytest.raises(InterlinguaError, match="'lr'.*key=value"):
        resume_config(run, ["lr"])  # never dropped without a word
    write_json(run / "latest.json", {"step": 7, "metrics": {"step": 7, "partial": True}})
    assert was_stopped(run)
    write_json(run / "latest.json", {"step": 7, "metrics": {"step": 7, "dev_chrf": 1.0}})
    assert not was_stopped(run)
