"""interlingua average: the mean of a run's last checkpoints, loaded as --checkpoint averaged by every command,
without moving latest (resume) or best."""
import dataclasses
import json
import shutil

import pytest
import torch

from conftest import assert_clean_error, one_thread, run_cli
from interlingua.api import Translator
from interlingua.card import card_text, model_card
from interlingua.checkpoint import (average_checkpoints, checkpoint_label, checkpoint_stem, clear_run, load_weights,
                                    read_run_config, resolve_checkpoint, save_checkpoint, saved_steps)
from interlingua.config import load_config
from interlingua.errors import InterlinguaError
from interlingua.model import Interlingua
from interlingua.train import train

STEPS = ["max_steps=6", "eval_every=2", "keep_checkpoints=3", "eval_sentences=2", "save_every_minutes=0",
         "log_every=1"]


@pytest.fixture(scope="module")
def three_checkpoints(made_up_corpus, tmp_path_factory):
    """A tiny model trained for real for 6 steps, saved at 2, 4 and 6, then averaged over the last two."""
    run = tmp_path_factory.mktemp("runs") / "average"
    with one_thread():
        train(made_up_corpus, run, load_config("tiny", STEPS))
    pointers = {name: (run / f"{name}.json").read_text() for name in ("latest", "best")}
    assert average_checkpoints(run, last=2) == [4, 6]
    return run, pointers


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the session's tiny run (kept: steps 30 and 60), to average and break without touching it."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert saved_steps(run) == [30, 60]
    return run


def test_the_average_is_the_mean_of_the_last_two_and_latest_and_best_stay(run_copy):
    run = run_copy
    pointers = {name: (run / f"{name}.json").read_text() for name in ("latest", "best")}
    assert average_checkpoints(run, last=2) == [30, 60]
    first, last, averaged = load_weights(run, 30), load_weights(run, 60), load_weights(run, "averaged")
    assert averaged.keys() == last.keys()
    for name, tensor in averaged.items():
        assert tensor.dtype == torch.float32 and tensor.shape == last[name].shape
        torch.testing.assert_close(tensor, (first[name].float() + last[name].float()) / 2, rtol=0, atol=1e-7)
    assert any(not torch.equal(averaged[name], last[name]) for name in last)  # trained: the steps differ
    assert json.loads((run / "checkpoints" / "averaged.json").read_text())["averaged_steps"] == [30, 60]
    assert {name: (run / f"{name}.json").read_text() for name in ("latest", "best")} == pointers
    assert resolve_checkpoint(run, "latest") == 60 and resolve_checkpoint(run, "averaged") == "averaged"


def test_every_output_names_the_averaged_checkpoint_by_its_steps(run_copy):
    """A result or card whose step is "averaged" (not a number to format with :,) names the steps averaged."""
    run = run_copy
    assert checkpoint_label(run, 6000) == "step 6,000"
    assert checkpoint_label(run, "averaged") == "averaged"  # none written yet
    average_checkpoints(run, steps=[30, 60])
    assert checkpoint_label(run, "averaged") == "averaged (steps 30, 60)"
    card = model_card(run)
    card["evaluation"] = {"step": "averaged", "data": "test.jsonl", "supervised_chrf": 12.5}
    assert "- evaluated (averaged (steps 30, 60), test.jsonl): supervised_chrf 12.5" in card_text(card)
    with pytest.raises(TypeError, match="a step number or 'averaged'"):
        checkpoint_stem(run, "60")  # a step as text would name a file that is never there


def test_last_n_is_the_newest_saves_not_an_old_best_that_pruning_kept(run_copy):
    run = run_copy
    (run / "best.json").write_text(json.dumps({"step": 30}))  # dev liked step 30 best...
    model = Interlingua(read_run_config(run).model)
    save_checkpoint(run, 90, model, None, {}, keep=2)  # ...so pruning keeps it beside the newest two saves
    assert saved_steps(run) == [30, 60, 90]
    assert average_checkpoints(run, last=2) == [60, 90]
    with pytest.raises(InterlinguaError, match=r"only 2 are kept \(steps 60, 90\); step 30 is older, kept only "
                                               r"because best.json names it \(name it with --steps"):
        average_checkpoints(run, last=3)
    assert average_checkpoints(run, steps=[30, 60, 90]) == [30, 60, 90]


def test_a_corrupt_averaged_checkpoint_says_to_average_again(run_copy):
    run = run_copy
    average_checkpoints(run, last=2)
    weights = run / "checkpoints" / "averaged.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(InterlinguaError, match=r"averaged.safetensors: corrupt .*; re-run: interlingua average "
                                               r"--model .*run$"):
        load_weights(run, "averaged")


@pytest.mark.slow  # an evaluation, after the fixture's training
def test_the_averaged_checkpoint_translates_and_evaluates_through_the_normal_path(three_checkpoints, made_up_corpus):
    from interlingua.evaluate.run import format_summary, run_evaluation
    run, _ = three_checkpoints
    averaged = Translator.load(run, "averaged", engine="torch")
    loaded, saved = averaged.model.state_dict(), load_weights(run, "averaged")
    assert all(torch.equal(loaded[name], tensor) for name, tensor in saved.items())
    out = averaged.translate(["open the file 3"], to="fr")
    assert len(out) == 1 and isinstance(out[0], str)
    with one_thread():
        result = run_evaluation(run, made_up_corpus.with_name("corpus.test.jsonl"), max_sentences=2,
                                checkpoint="averaged", progress=False)
    assert result["checkpoint"] == "averaged" and result["step"] == "averaged"
    assert "(checkpoint averaged: averaged (steps 4, 6))" in format_summary(result).splitlines()[0]
    assert result["summary"]["supervised_chrf"] is not None


@pytest.mark.slow  # training, twice
def test_resume_after_averaging_goes_on_from_the_last_real_step(three_checkpoints, made_up_corpus, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(three_checkpoints[0], run)
    with one_thread():
        train(made_up_corpus, run, load_config("tiny", STEPS + ["max_steps=8"]), resume=True)
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]  # steps 7 and 8 appended once, after the 6 of the first run
    assert resolve_checkpoint(run, "latest") == 8
    # pruning (keep 3: 4, 6, 8) leaves the averaged checkpoint, which still names what it averaged
    assert saved_steps(run)[-3:] == [4, 6, 8]
    assert json.loads((run / "checkpoints" / "averaged.json").read_text())["averaged_steps"] == [4, 6]
    assert load_weights(run, "averaged").keys() == load_weights(run, 8).keys()
    clear_run(run)  # --overwrite: the averaged checkpoint is the run's too
    assert not (run / "checkpoints").exists()


def test_what_cannot_be_averaged_is_one_clear_error(run_copy, tmp_path):
    run = run_copy
    with pytest.raises(InterlinguaError, match=r"no such run folder"):
        average_checkpoints(tmp_path / "none", last=2)
    (tmp_path / "plain").mkdir()
    with pytest.raises(InterlinguaError, match=r"plain: not a run folder"):
        average_checkpoints(tmp_path / "plain", last=2)
    with pytest.raises(InterlinguaError, match=r"only 2 are kept \(steps 30, 60\); train with keep_checkpoints=5"):
        average_checkpoints(run, last=5)
    with pytest.raises(InterlinguaError, match=r"no checkpoint of step 3 \(kept: 30, 60\)"):
        average_checkpoints(run, steps=[3, 30])
    with pytest.raises(InterlinguaError, match="at least two checkpoints, got 1"):
        average_checkpoints(run, steps=[30, 30])
    with pytest.raises(InterlinguaError, match="no averaged checkpoint"):
        resolve_checkpoint(tmp_path, "averaged")

    weights = run / "checkpoints" / "step_0000060.safetensors"
    saved = weights.read_bytes()
    weights.write_bytes(saved[:-1] + bytes([saved[-1] ^ 0xFF]))
    with pytest.raises(InterlinguaError, match="step_0000060.safetensors: corrupt"):
        average_checkpoints(run, steps=[30, 60])
    weights.write_bytes(saved)

    config = read_run_config(run).model
    wider = Interlingua(dataclasses.replace(config, d_ff=config.d_ff * 2))
    save_checkpoint(run, 30, wider, None, {}, keep=0)  # step 30 of a model of another shape
    with pytest.raises(InterlinguaError, match=r"step_0000060.safetensors: .* is \(\d+, \d+\), \(\d+, \d+\) at step "
                                               r"30: checkpoints of different models cannot be averaged"):
        average_checkpoints(run, steps=[30, 60])


@pytest.mark.slow
def test_the_command_line_averages_and_translate_uses_it(three_checkpoints, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(three_checkpoints[0], run)
    (run / "checkpoints" / "averaged.json").unlink()
    assert_clean_error(run_cli("translate", "--model", str(run), "--checkpoint", "averaged", "--to", "fr", "hi"),
                       "no averaged checkpoint", "interlingua average")
    done = run_cli("average", "--model", str(run), "--steps", "2,6")
    assert done.returncode == 0, done.stderr.decode()
    assert "mean of steps 2, 6" in done.stdout.decode() and "--checkpoint averaged" in done.stdout.decode()
    translated = run_cli("translate", "--model", str(run), "--checkpoint", "averaged", "--to", "fr", "open the file")
    assert translated.returncode == 0 and len(translated.stdout.decode().splitlines()) == 1, translated.stderr
    assert_clean_error(run_cli("average", "--model", str(tmp_path / "none"), "--last", "2"),
                       "none: no such run folder")
    assert_clean_error(run_cli("average", "--model", str(run), "--last", "4"),
                       "cannot average the last 4 checkpoints, only 3 are kept")
    assert_clean_error(run_cli("average", "--model", str(run)), "either --last N or --steps")


def test_the_export_hint_names_the_checkpoint_unless_it_is_best(run_copy):
    """An export belongs to one checkpoint: the command offered to make it must export that one."""
    from interlingua.engine import _check_export
    run = run_copy
    average_checkpoints(run, last=2)
    best = resolve_checkpoint(run, "best")
    other = 30 if best == 60 else 60
    for checkpoint, flag in ((best, ""), (other, f" --checkpoint {other}"), ("averaged", " --checkpoint averaged")):
        with pytest.raises(InterlinguaError) as error:
            _check_export(run, run / "onnx" / "fp32", checkpoint, "fp32")
        assert str(error.value).endswith(f"(make one with: interlingua export --model {run} --format onnx{flag})")
