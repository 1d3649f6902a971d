"""Each benchmark runs once in its tiny mode, so it keeps working (no timing is asserted)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytestmark = pytest.mark.slow  # each one a whole benchmark in a fresh process


def test_train_throughput_tiny():
    pytest.importorskip("transformers")
    result = subprocess.run([sys.executable, str(BENCH / "train_throughput.py"), "--tiny"], capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out = result.stdout.decode()
    # The fastest peer may be HF Marian or, where its virtualenv exists, OpenNMT-py.
    assert "like for like, fp32: interlingua / " in out and "/ best peer (" in out, out[-2000:]


def test_inference_tiny():
    """bench/inference.py in its tiny mode prints its table; without ctranslate2 it says so and still runs."""
    pytest.importorskip("transformers")
    result = subprocess.run([sys.executable, str(BENCH / "inference.py"), "--tiny"], capture_output=True,
                            timeout=120)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "tok/s" in out and "/ CT2 fp32" in out and "interlingua / CTranslate2 fp32" in out, out[-2000:]
    assert "HF generate" in out and "output tokens: identical" in out, out[-2000:]
    assert "CTranslate2 fp32" in out.split("tok/s", 1)[1] or "CTranslate2 is not installed" in out, out[-2000:]


def test_decode_step_tiny():
    """bench/decode_step.py: the inlined and compiled steps write the very tokens search.greedy does."""
    result = subprocess.run([sys.executable, str(BENCH / "decode_step.py"), "--tiny"], capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out = result.stdout.decode()
    assert "same tokens: inlined True, compiled True" in out and "torch.compile(inlined step)" in out, out


def test_memory_tiny(corpus_path, tmp_path):
    """bench/memory.py in its tiny mode: both training modes and the split run at two corpus sizes."""
    result = subprocess.run([sys.executable, str(BENCH / "memory.py"), "--tiny", "--corpus", str(corpus_path),
                             "--languages", "en,fr,de", "--out", str(tmp_path)], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    out = result.stdout.decode()
    assert "train streamed MB" in out and "peak RSS of split" in out
    assert (tmp_path / "memory.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_ddp_scaling_tiny(corpus_path):
    result = subprocess.run([sys.executable, str(BENCH / "ddp_scaling.py"), "--tiny", "--corpus", str(corpus_path)],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "vs 1 process" in result.stdout.decode()


def test_serve_load_small(tiny_run):
    pytest.importorskip("fastapi")
    result = subprocess.run([sys.executable, str(BENCH / "serve_load.py"), "--model", str(tiny_run), "--requests", "6",
                             "--concurrency", "6", "--to", "fr"], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]


def test_design_choices_tiny(corpus_path, tmp_path):
    result = subprocess.run([sys.executable, str(BENCH / "design_choices.py"), "--tiny", "--corpus", str(corpus_path),
                             "--out", str(tmp_path), "--steps", "10", "--max-sentences", "6", "--jobs", "1",
                             "--variants", "reference,k=1"], capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "| k=1 |" in (tmp_path / "design.md").read_text()
    assert (tmp_path / "design.png").read_bytes().startswith(b"\x89PNG")


def test_mining_quality_runs(tiny_run, corpus_path):
    result = subprocess.run([sys.executable, str(BENCH / "mining_quality.py"), "--model", str(tiny_run), "--data",
                             str(corpus_path), "--lang", "fr", "--pairs", "40"], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "plain cosine at its best threshold" in result.stdout.decode()
