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
    assert "interlingua onnx int8" in out or "ONNX Runtime is not installed" in out, out[-2000:]


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


@pytest.mark.slow
def test_peer_curve_tiny(corpus_path, tmp_path):
    """bench/peer_curve.py: HF Marian on our batches, dev chrF at each mark, then plot_curves draws it."""
    pytest.importorskip("transformers")
    import json
    out = tmp_path / "peer"
    result = subprocess.run([sys.executable, str(BENCH / "peer_curve.py"), "--data", str(corpus_path), "--config",
                             "tiny", "eval_sentences=4", "--minutes", "0.1", "--eval-at", "0.05",
                             "--language-token", "decoder", "--out", str(out), "lr_cooldown=0.5"],
                            capture_output=True, timeout=600)  # a setting after the last option, needing the budget
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    curve = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert len(curve) == 2, curve
    assert curve[0]["minutes"] >= 0.05 and curve[1]["minutes"] >= 0.1 and curve[1]["step"] > curve[0]["step"] > 0
    assert all(0 <= p["dev_chrf"] <= 100 and 0 <= p["dev_zero_shot_chrf"] <= 100 for p in curve), curve
    summary = json.loads((out / "summary.json").read_text())
    assert summary["language_token"] == "decoder" and summary["steps"] == curve[1]["step"]
    assert summary["config"]["train"]["lr_cooldown"] == 0.5 and summary["config"]["train"]["max_minutes"] == 0.1
    assert "en>fr" in summary["directions"] and "fr>de" not in summary["directions"]
    again = subprocess.run([sys.executable, str(BENCH / "peer_curve.py"), "--data", str(corpus_path), "--config",
                            "tiny", "--minutes", "0.1", "--out", str(out)], capture_output=True, timeout=300)
    assert again.returncode != 0 and "--overwrite" in again.stderr.decode()
    plotted = subprocess.run([sys.executable, str(BENCH / "plot_curves.py"), f"peer={out}", "--out",
                              str(tmp_path / "curves.png")], capture_output=True, timeout=120)
    assert plotted.returncode == 0, plotted.stderr.decode()[-2000:]
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def load_plot_curves():
    """bench/plot_curves.py as a module (bench/ is scripts, not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("plot_curves", BENCH / "plot_curves.py")
    plot_curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot_curves)
    return plot_curves


def test_plot_curves_times_a_runs_evals_by_its_train_entries(tmp_path, capsys):
    """An eval step takes the elapsed time of the nearest train entry; a paused window counts the median on request."""
    import json
    plot_curves = load_plot_curves()
    # 1 s per step, but steps 100-150 took 600 s (the process was stopped); evals at steps 100 and 200
    clock = {50: 50, 100: 100, 150: 700, 200: 750}
    log = [{"kind": "train", "step": s, "elapsed_s": e} for s, e in clock.items()]
    log.insert(2, {"kind": "eval", "step": 100, "dev_chrf": 10.0, "dev_zero_shot_chrf": 5.0})
    log.append({"kind": "eval", "step": 200, "dev_chrf": 20.0})
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    kept = plot_curves.curve_points(tmp_path)
    assert [(p["step"], p["minutes"] * 60, p["dev_chrf"]) for p in kept] == [(100, 100, 10.0), (200, 750, 20.0)]
    assert kept[1]["dev_zero_shot_chrf"] is None
    assert "steps 100-150: 12.0 s/step" in capsys.readouterr().out
    repaired = plot_curves.curve_points(tmp_path / "log.jsonl", pauses="median")
    assert [p["minutes"] * 60 for p in repaired] == [100, 200]


def test_plot_curves_default_title_names_its_x_axis():
    """--x steps used to keep the title 'against training time'; a title given is kept as given."""
    plot_curves = load_plot_curves()
    assert plot_curves.title_for("minutes") == "dev chrF against training time"
    assert plot_curves.title_for("step") == "dev chrF against training steps"
    assert plot_curves.title_for("step", "mine") == "mine"


def test_pot_drafts_runs(tiny_run, corpus_path, tmp_path):
    """bench/pot_drafts.py: the tiny model breaks placeholders often; none may reach a written draft."""
    from interlingua.corpus.split import split_path
    result = subprocess.run([sys.executable, str(BENCH / "pot_drafts.py"), "--model", str(tiny_run), "--data",
                             str(split_path(corpus_path, "test")), "--to", "fr", "--n", "30", "--out",
                             str(tmp_path / "drafts")], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "0 broken placeholders, 0 broken terms" in result.stdout.decode(), result.stdout.decode()
    assert (tmp_path / "drafts" / "fr" / "LC_MESSAGES" / "heldout.po").exists()


def test_tm_retrieval_runs_on_a_small_split(corpus_path):
    """bench/tm_retrieval.py on the test corpus: both searches run and nothing is cached beside the memory."""
    memory = corpus_path.with_name("corpus.train.jsonl")
    result = subprocess.run([sys.executable, str(BENCH / "tm_retrieval.py"), "--memory", str(memory),
                             "--languages", "en,fr", "--queries", str(corpus_path.with_name("corpus.test.jsonl"))],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    out = result.stdout.decode()
    assert "training search en:" in out and "training search fr:" in out and "look-up of 1 queries into fr" in out
    assert not list(memory.parent.glob("*.memory-*.npz"))
