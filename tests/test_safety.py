"""Safe by default (issue 11), through the CLI as a user runs it: --overwrite never deletes what is not
a run's, outputs never replace a device, FIFO or symlink, a run folder works from any directory, and
an interrupted training keeps its steps and resumes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import assert_clean_error, run_cli

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``run_cli`` from another working directory."""
    return subprocess.run([sys.executable, "-m", "interlingua", *args], capture_output=True, cwd=cwd,
                          env={**ONE_THREAD, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=timeout)


def copy_corpus(corpus_path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in corpus_path.parent.glob("corpus*.jsonl"):
        shutil.copy(path, folder / path.name)
    return folder / corpus_path.name


# ----------------------------------------------------------------------------- --overwrite

@pytest.mark.slow
def test_overwrite_replaces_only_the_runs_own_files(corpus_path, tmp_path):
    copy_corpus(corpus_path, tmp_path / "data")
    train = ["train", "--data", "data/corpus.jsonl", "--out", "run", "--config", "tiny", "threads=1"]
    first = cli(*train, "max_steps=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    # run.json records the corpus absolute, though it was given relative to the working directory
    assert json.loads((tmp_path / "run" / "run.json").read_text())["data"] == str(tmp_path / "data" / "corpus.jsonl")
    # the user keeps things beside the run: a corpus, notes, a file of their own among the checkpoints
    shutil.copy(corpus_path, tmp_path / "run" / "corpus.jsonl")
    (tmp_path / "run" / "notes.txt").write_text("mine")
    (tmp_path / "run" / "checkpoints" / "keep.txt").write_text("mine too")
    second = cli("--debug", *train[:-1], "--overwrite", "threads=1", "max_steps=3", cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    run = tmp_path / "run"
    assert (run / "notes.txt").read_text() == "mine" and (run / "checkpoints" / "keep.txt").read_text() == "mine too"
    assert (run / "corpus.jsonl").read_bytes() == corpus_path.read_bytes()
    assert json.loads((run / "latest.json").read_text())["step"] == 3
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.json")) == ["step_0000003.json"]  # old ones gone
    assert len((run / "log.jsonl").read_text().splitlines()) == 1  # the old run's log went with it


@pytest.mark.parametrize("command", ["train", "quickstart"])
def test_overwrite_refuses_a_folder_that_is_not_a_run(corpus_path, tmp_path, command):
    work = tmp_path / "work"
    copy_corpus(corpus_path, work)
    folder = work / "model" if command == "quickstart" else work / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    (folder / "log.jsonl").write_text("not a training log\n")  # a run's file name, in a folder that is no run
    if command == "train":
        result = cli("train", "--data", str(work / "corpus.jsonl"), "--out", str(folder), "--config", "tiny",
                     "--overwrite")
    else:
        result = cli("quickstart", "--workdir", str(work), "--config", "tiny", "--steps", "20", "--overwrite")
    assert_clean_error(result, str(folder), "not a run folder")
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert (folder / "log.jsonl").read_text() == "not a training log\n"


# ----------------------------------------------------------------------------- the one writer of outputs

def test_outputs_follow_symlinks_write_into_devices_and_fifos_and_dash_is_stdout(tiny_run, tmp_path):
    # embed --out -: the .npy on stdout, no file named '-'
    (tmp_path / "in.txt").write_text("Open the file\nSave\n")
    result = cli("embed", "--model", str(tiny_run), "--in", "in.txt", "--out", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.startswith(b"\x93NUMPY") and not (tmp_path / "-").exists()
    assert "wrote 2 vectors" in result.stderr.decode()
    # a symlink is followed: its target gets the output, the link stays a link
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    result = cli("translate", "--model", str(tiny_run), "--to", "fr", "--out", "link.txt", "Open", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() not in ("", "old")
    # /dev/null stays a device
    result = cli("translate", "--model", str(tiny_run), "--to", "fr", "--out", "/dev/null", "Open")
    assert result.returncode == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    # a FIFO is written into, not replaced by a file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = cli("translate", "--model", str(tiny_run), "--to", "fr,es", "--out", str(fifo), "Open")
    reader.join(60)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and len(received[0].splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "link.txt", "pipe", "real.txt"]  # no temp file


@pytest.mark.parametrize("where, needle", [("folder", "is a folder"), ("under a file", "not a folder"),
                                           ("/proc", "cannot write"), ("no folder", "no such folder")])
def test_an_unusable_output_is_one_line_and_leaves_nothing(tiny_run, tmp_path, where, needle):
    (tmp_path / "file.txt").write_text("x")
    out = {"folder": str(tmp_path), "under a file": str(tmp_path / "file.txt" / "out.npy"),
           "/proc": "/proc/interlingua-test.npy", "no folder": str(tmp_path / "nowhere" / "out.npy")}[where]
    (tmp_path / "in.txt").write_text("Open\n")
    assert_clean_error(run_cli("embed", "--model", str(tiny_run), "--in", str(tmp_path / "in.txt"), "--out", out),
                       out, needle)
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "fr", "--out", out, "Open"), out, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "in.txt"]


def test_weights_are_as_readable_as_the_json_beside_them(tiny_run):
    modes = {stat.S_IMODE(p.stat().st_mode) for p in [tiny_run / "config.json", *tiny_run.rglob("*.safetensors")]}
    assert modes == {0o666 & ~current_umask()}, [oct(m) for m in modes]


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- run.json from any directory

def test_a_run_with_an_old_relative_corpus_path_evaluates_from_another_directory(tiny_run, corpus_path, tmp_path):
    project = tmp_path / "project"
    copy_corpus(corpus_path, project / "data")
    run = project / "runs" / "tiny"
    shutil.copytree(tiny_run, run)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "data": "data/corpus.jsonl"}))  # as older runs saved it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("evaluate", "--model", str(run), "--max-sentences", "4", "--json", "-", "--quiet", cwd=elsewhere)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert json.loads(result.stdout)["data"] == str(project / "data" / "corpus.test.jsonl")


# ----------------------------------------------------------------------------- never lose a run

@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_current_step_and_resume_goes_on_from_it(corpus_path, tmp_path, sig):
    run = tmp_path / "run"
    command = ["train", "--data", str(corpus_path), "--out", str(run), "--config", "tiny", "max_steps=100000",
               "log_every=1", "eval_every=100000", "threads=1"]
    process = subprocess.Popen([sys.executable, "-m", "interlingua", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**ONE_THREAD, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.time() + 180
    while not ((run / "log.jsonl").exists() and (run / "log.jsonl").read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    assert not list(run.glob("latest.json"))  # nothing saved yet: eval_every is far away
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    err = err.decode()
    assert process.returncode == 128 + sig, err[-2000:]
    assert "Traceback" not in err
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    saved = json.loads((run / "latest.json").read_text())["step"]
    assert saved == steps[-1] and (run / "checkpoints" / f"step_{saved:07d}.safetensors").exists()
    message = [line for line in err.splitlines() if line.startswith("interlingua:")]
    assert len(message) == 1 and f"at step {saved}" in message[0], err[-2000:]
    resume = message[0].split("resume with: ")[1].split()
    assert resume[:2] == ["interlingua", "train"] and "--resume" in resume
    resumed = cli(*resume[1:], f"max_steps={saved + 2}")
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert f"resuming {run} at step {saved}" in resumed.stderr.decode()
    assert json.loads((run / "latest.json").read_text())["step"] == saved + 2


def test_time_based_checkpoints_whatever_eval_every_is(corpus_path, tmp_path, monkeypatch):
    from interlingua import train as training
    from interlingua.config import load_config
    saved = []
    real = training.save_checkpoint
    monkeypatch.setattr(training, "save_checkpoint", lambda run, step, *a, **k: (saved.append(step),
                                                                                 real(run, step, *a, **k)))
    # save_every_minutes this small is due at every step: each step is saved, though eval_every never comes
    training.train(corpus_path, tmp_path / "run", load_config("tiny", ["max_steps=4", "eval_every=1000", "threads=1",
                                                                       "save_every_minutes=1e-9"]))
    assert saved == [1, 2, 3, 4]
    metrics = json.loads((tmp_path / "run" / "checkpoints" / "step_0000003.json").read_text())["metrics"]
    assert metrics.get("partial") is True  # a safety copy, not an evaluated checkpoint
    assert "dev_loss" in json.loads((tmp_path / "run" / "latest.json").read_text())["metrics"]  # the final one is


@pytest.mark.slow
def test_resume_before_the_first_checkpoint_starts_from_step_0(corpus_path, tmp_path):
    run = tmp_path / "run"
    first = cli("train", "--data", str(corpus_path), "--out", str(run), "--config", "tiny", "max_steps=2", "threads=1")
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    for name in ("latest.json", "best.json"):  # as if stopped between the tokenizer and the first checkpoint
        (run / name).unlink()
    shutil.rmtree(run / "checkpoints")
    resumed = cli("train", "--data", str(corpus_path), "--out", str(run), "--resume", "max_steps=2")
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert "no checkpoint yet" in resumed.stderr.decode()
    assert json.loads((run / "latest.json").read_text())["step"] == 2


# ----------------------------------------------------------------------------- checkpoints that lie

def test_corrupt_tensor_bytes_under_a_whole_header_are_caught_and_translation_skips_the_optimizer(tiny_run,
                                                                                                 tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    weights = broken / json.loads((broken / "best.json").read_text())["weights"]
    optimizer = weights.with_name(weights.name.replace(".safetensors", ".optim.safetensors"))
    optimizer.write_bytes(b"not an optimizer")  # translation must not need it
    result = run_cli("translate", "--model", str(broken), "--to", "fr", "Open")
    assert result.returncode == 0 and result.stdout.count(b"\n") == 1, result.stderr.decode()[-2000:]
    data = bytearray(weights.read_bytes())
    data[-64:] = b"\xff" * 64  # the header parses; the last tensor's bytes are overwritten
    weights.write_bytes(bytes(data))
    assert_clean_error(run_cli("translate", "--model", str(broken), "--to", "fr", "Open"), weights.name, "corrupt")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_final_evaluation_stops_it_keeps_the_step_and_resume_evaluates_it(made_up_corpus, tmp_path,
                                                                                             monkeypatch, capsys, sig):
    from interlingua import train as training
    from interlingua.cli import main

    def evaluation_signalled(*args, **kwargs):
        os.kill(os.getpid(), sig)
        time.sleep(5)  # minutes of translation, on a real dev set: the signal must end them at once
        raise AssertionError("the evaluation went on after the signal")

    real = training.dev_chrf
    monkeypatch.setattr(training, "dev_chrf", evaluation_signalled)
    run = tmp_path / "run"
    code = main(["train", "--data", str(made_up_corpus), "--out", str(run), "--config", "tiny", "max_steps=2",
                 "eval_every=1000", "threads=1"])
    err = capsys.readouterr().err
    assert code == 128 + sig, err  # it exited 0 as if the run were finished and evaluated
    message = [line for line in err.splitlines() if line.startswith("interlingua:")]
    assert len(message) == 1 and "at step 2" in message[0] and "--resume" in message[0], err
    latest = json.loads((run / "latest.json").read_text())
    assert latest["step"] == 2 and latest["metrics"].get("partial") is True
    assert (run / latest["weights"]).exists()
    # resuming a run whose last step was saved unevaluated evaluates it, though no step is left to train
    monkeypatch.setattr(training, "dev_chrf", real)
    assert main(["train", "--data", str(made_up_corpus), "--out", str(run), "--resume"]) == 0
    latest = json.loads((run / "latest.json").read_text())
    assert latest["step"] == 2 and "dev_loss" in latest["metrics"] and "partial" not in latest["metrics"]
