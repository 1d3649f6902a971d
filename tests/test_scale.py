"""Scale and fault tolerance, for real: torchrun with two processes, and kill -9 in the middle of training."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from interlingua.config import load_config
from interlingua.train import train

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = ["max_steps=60", "eval_every=10", "log_every=5", "threads=1", "keep_checkpoints=3"]


def losses(run):
    """step -> loss, the last record of each step winning (a resumed run logs steps again)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "train":
            out[record["step"]] = record["loss"]
    return out


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_two_processes_then_resume_on_one(corpus_path, tmp_path):
    run = tmp_path / "ddp"
    two = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "interlingua", "train",
                          "--data", str(corpus_path), "--out", str(run), "--config", "tiny", "max_steps=20",
                          "eval_every=10", "threads=1"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert two.returncode == 0, two.stderr.decode()[-3000:]
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [10, 20], (steps, two.stderr.decode()[-2000:])  # only rank 0 logs
    one = subprocess.run([sys.executable, "-m", "interlingua", "train", "--data", str(corpus_path), "--out", str(run),
                          "--resume", "max_steps=30"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert one.returncode == 0, one.stderr.decode()[-3000:]
    assert max(losses(run)) == 30


def test_kill_9_then_resume_matches_an_uninterrupted_run(corpus_path, tmp_path):
    whole = train(corpus_path, tmp_path / "whole", load_config("tiny", TINY))
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "interlingua", "train", "--data", str(corpus_path), "--out", str(killed),
               "--config", "tiny", *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD)
    deadline = time.time() + 120
    while not (killed / "latest.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))  # a random moment after the first checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(killed.rglob("*.tmp")) or True  # a .tmp may remain from the killed write; never a pointer to it
    latest = json.loads((killed / "latest.json").read_text())
    assert (killed / latest["weights"]).exists()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    expected, got = losses(whole), losses(killed)
    after = [step for step in expected if step > latest["step"]]
    assert after and max(after) == 60
    for step in after:
        assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-4), step


@pytest.mark.parametrize("failure", ["disk full", "unwritable"])
def test_a_failed_checkpoint_write_is_a_clear_error_and_the_previous_one_stays_whole(corpus_path, tmp_path,
                                                                                    monkeypatch, failure):
    """The disk fills up (half a file written, then ENOSPC) or the folder turns read-only mid-run."""
    import errno
    from interlingua import checkpoint
    from interlingua.api import Translator
    from interlingua.errors import InterlinguaError
    real_save, saves = checkpoint.save_file, []

    def failing_save(tensors, path, metadata=None):
        saves.append(path)
        if len(saves) <= 2:  # the first checkpoint (weights + optimizer) is written normally
            return real_save(tensors, path, metadata=metadata)
        if failure == "disk full":
            with open(path, "wb") as f:
                f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(checkpoint, "save_file", failing_save)
    run = tmp_path / "run"
    with pytest.raises(InterlinguaError) as caught:
        train(corpus_path, run, load_config("tiny", ["max_steps=40", "eval_every=20", "threads=1"]))
    message = str(caught.value)
    assert "step_0000040" in message and "cannot write" in message
    assert ("No space left on device" if failure == "disk full" else "Permission denied") in message
    assert json.loads((run / "latest.json").read_text())["step"] == 20  # still the last whole checkpoint
    assert not list(run.rglob("*.tmp"))  # the half-written file was removed
    monkeypatch.setattr(checkpoint, "save_file", real_save)
    assert Translator.load(run, "latest").translate(["Open file"], to="fr")  # it loads and translates
    train(corpus_path, run, load_config("tiny", ["max_steps=40", "eval_every=20", "threads=1"]), resume=True)
    assert json.loads((run / "latest.json").read_text())["step"] == 40
