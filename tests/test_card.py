"""A run's card (`interlingua info`, RUN/MODEL.md): written by training, completed by evaluation."""
import json
import shutil

from conftest import assert_clean_error, run_cli


def test_training_writes_the_card_and_info_reads_it(tiny_run):
    card = (tiny_run / "MODEL.md").read_text()
    assert "fr" in card and "trained: 60 steps" in card and "not evaluated yet" in card
    result = run_cli("info", "--model", str(tiny_run), "--json")
    assert result.returncode == 0, result.stderr.decode()
    info = json.loads(result.stdout)
    config = json.loads((tiny_run / "config.json").read_text())
    assert info["languages"] == config["model"]["target_languages"] and info["steps"] == 60
    assert info["architecture"]["bridge_queries"] == config["model"]["bridge_queries"]
    assert info["parameters"] > 0 and "dev_chrf" in info["dev"]


def test_evaluate_adds_its_figures_to_the_card(tiny_run, corpus_path, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    result = run_cli("evaluate", "--model", str(run), "--data", str(corpus_path.with_name("corpus.test.jsonl")),
                     "--max-sentences", "5", "--quiet")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    card = (run / "MODEL.md").read_text()
    assert "evaluated (step " in card and "supervised_chrf" in card and "not evaluated yet" not in card
    assert "supervised_chrf" in run_cli("info", "--model", str(run)).stdout.decode()


def test_info_on_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    assert_clean_error(run_cli("info", "--model", str(tmp_path)), "not a run folder")
