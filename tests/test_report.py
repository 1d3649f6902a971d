"""The insight report: the whole page on the tiny run, and the gradient's numbers checked against known answers."""
import base64
import io
import logging
import re
import shutil

import pytest
import torch

from conftest import one_thread
from interlingua.errors import InterlinguaError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    with one_thread():
        yield


def _test_file(corpus_path):
    return corpus_path.with_name("corpus.test.jsonl")


@pytest.fixture(scope="module")
def report(tiny_run, corpus_path, tmp_path_factory):
    from interlingua.insight.report import write_report
    out = tmp_path_factory.mktemp("report") / "report.html"
    # About 8 s on an idle core (the issue asks for under a minute); not asserted: shared CI machines vary 20x.
    return write_report(tiny_run, out, data=_test_file(corpus_path), max_sentences=30, progress=False)


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(data, validate=True)
            for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


# ----------------------------------------------------------------------------- the page

@pytest.mark.slow
def test_report_on_the_tiny_run_has_every_section_and_valid_pngs(report):
    import matplotlib.image
    from interlingua.insight.report import SECTION_TITLES
    path = report
    assert path.is_file()
    html = path.read_text(encoding="utf-8")
    for title in SECTION_TITLES.values():
        assert f"<h2>{title}</h2>" in html
    assert "Skipped" not in html  # the tiny run has both logs: every section is drawn
    images = _images(html)
    assert len(images) >= 8
    for png in images:
        assert png.startswith(PNG)
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")  # decodes whole, not just a header
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
    assert re.search(r"Removing the top 1% of weights (costs [\d,.]+× the damage of removing a random 1%|raises)", html)
    assert re.search(r"In translation quality: held-out chrF [\d.]+ falls to [\d.]+ without the top 1%", html)
    assert "sacrebleu signatures" in html and "nrefs:1" in html
    # section 6 draws the thought after language removal too, fitted on the tiny run's training split
    assert "With the language directions projected out (3 of them" in html
    assert not list(path.parent.glob("*.tmp"))
    assert "http://" not in html and "https://" not in html  # nothing to fetch: opens offline


@pytest.mark.slow
def test_a_report_on_the_averaged_checkpoint_names_its_steps(tiny_run, corpus_path, tmp_path):
    """Its step is "averaged", not a number: the page names the steps averaged (it used to crash on {:,})."""
    from interlingua.checkpoint import average_checkpoints
    from interlingua.insight.report import write_report
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    average_checkpoints(run, last=2)
    html = write_report(run, tmp_path / "r.html", data=_test_file(corpus_path), max_sentences=5,
                        checkpoint="averaged", progress=False).read_text(encoding="utf-8")
    assert "averaged (steps 30, 60)" in html and "--checkpoint averaged" in html


@pytest.mark.slow
def test_a_run_without_gradient_log_still_gets_a_report_and_a_warning(tiny_run, corpus_path, tmp_path, caplog):
    from interlingua.insight.report import write_report
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "grad_norms.jsonl").unlink()
    with caplog.at_level(logging.WARNING, logger="interlingua.insight"):
        out = write_report(run, tmp_path / "r.html", data=_test_file(corpus_path), max_sentences=10, progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Gradient flow" in w and "grad_norms.jsonl" in w for w in warnings), warnings
    html = out.read_text(encoding="utf-8")
    assert "2. Gradient flow" in html and "Skipped" in html
    assert "3. Weight importance from the gradient" in html and len(_images(html)) >= 7  # the rest is drawn
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_input_fails_in_one_line_before_any_work(tiny_run, tmp_path):
    from interlingua.insight.report import write_report
    with pytest.raises(InterlinguaError, match="no such run folder"):
        write_report(tmp_path / "nowhere", tmp_path / "r.html", progress=False)
    with pytest.raises(InterlinguaError, match="cannot write"):
        write_report(tiny_run, tmp_path / "no" / "such" / "folder" / "r.html", progress=False)
    with pytest.raises(InterlinguaError, match="is a folder"):
        write_report(tiny_run, tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- the gradient's numbers

def test_importance_is_zero_where_a_weight_does_not_affect_the_loss(tiny_run, corpus_path):
    from interlingua.api import Translator
    from interlingua.corpus.split import load_split
    from interlingua.insight.gradients import make_batches, module_importance, parameter_importance
    translator = Translator.load(tiny_run)
    model = translator.model
    model.register_parameter("unused", torch.nn.Parameter(torch.ones(5)))  # in no computation at all
    languages = translator.languages
    assert languages[0] == "en"
    # Only X -> en: the decoder is never told another target language.
    into_english = [(lang, "en") for lang in languages if lang != "en"]
    batches = make_batches(load_split(corpus_path, "dev"), translator, into_english, max_examples=60)
    importance = parameter_importance(model, batches)

    assert set(importance) == {name for name, _ in model.named_parameters()}
    assert torch.count_nonzero(importance["unused"]) == 0
    rows = importance["target_language.weight"].sum(dim=1)
    assert rows[0] > 0 and torch.count_nonzero(rows[1:]) == 0   # en told; de, es, fr never told
    assert all(p.grad is None for p in model.parameters()) and not model.training

    # The tied embedding matrix: a token never read as input still matters as an output (softmax).
    read = torch.zeros(model.config.vocab_size, dtype=torch.bool)
    for batch in batches:
        read[batch.src.reshape(-1)] = True
        read[batch.tgt_in.reshape(-1)] = True
    never_read = ~read
    assert never_read.any()
    as_input, as_output = importance.embed_as_input, importance.embed_as_output
    assert torch.count_nonzero(as_input[never_read]) == 0
    assert as_output[never_read].sum() > 0
    # ... and for those rows the output use is all of the matrix's gradient.
    torch.testing.assert_close(importance["embed.weight"][never_read], as_output[never_read], rtol=1e-4, atol=1e-10)
    modules = module_importance(importance)
    assert {"embeddings", "encoder", "bridge", "decoder", "output"} <= set(modules)
    assert modules["output"] > 0 and modules["encoder"] > 0


def test_ablation_of_the_most_important_weights_hurts_more_than_random_ones(tiny_run):
    from interlingua.api import Translator
    from interlingua.insight.gradients import (ablation_curve, ablation_sentence, dev_batches, heldout_loss,
                                               parameter_importance)
    translator = Translator.load(tiny_run)
    model = translator.model
    batches, held_out, note = dev_batches(translator, tiny_run)
    assert batches and held_out and "other" in note
    before = {k: v.clone() for k, v in model.state_dict().items()}
    importance = parameter_importance(model, batches)
    result = ablation_curve(model, importance, held_out, fractions=(0.001, 0.01, 0.05), seeds=(0, 1, 2))

    for k, v in model.state_dict().items():  # every trial was undone
        assert torch.equal(v, before[k]), k
    assert heldout_loss(model, held_out) == pytest.approx(result["base_loss"])
    assert result["counts"] == [round(f * result["weights"]) or 1 for f in (0.001, 0.01, 0.05)]
    assert all(len(draws) == 3 for draws in result["random"])
    tolerance = 0.01  # nats per token
    for top, random_mean in zip(result["top"], result["random_mean"]):
        assert top >= random_mean - tolerance
    assert result["top"][-1] > 0.05  # zeroing the top 5% really hurts the trained model
    sentence = ablation_sentence(result)
    assert "the damage of removing a random 1%" in sentence or "no measurable damage" in sentence


def test_ablation_also_scores_translation_quality_and_undoes_every_trial(tiny_run):
    from interlingua.api import Translator
    from interlingua.insight.gradients import ablation_curve, dev_batches, heldout_chrf, parameter_importance
    translator = Translator.load(tiny_run)
    batches, held_out, _ = dev_batches(translator, tiny_run)
    quality, sentences = heldout_chrf(translator, tiny_run, per_direction=4)
    assert sentences > 0
    before = quality()
    assert quality() == before  # greedy decoding: the same model scores the same
    importance = parameter_importance(translator.model, batches)
    result = ablation_curve(translator.model, importance, held_out, fractions=(0.01, 0.2), seeds=(0, 1),
                            quality_fn=quality)
    assert result["base_quality"] == pytest.approx(before)
    assert len(result["top_quality"]) == 2 and all(len(q) == 2 for q in result["random_quality"])
    assert all(0 <= q <= 100 for q in result["top_quality"])
    # No claim on the direction of chrF: after 60 steps the tiny model's held-out chrF can be 0.0, and a
    # loaded machine once saw ablation "raise" it to 0.3. The damage is asserted on the loss, which any
    # model this far along has: here, and against random weights in the test above.
    assert result["top"][-1] > 0.05
    assert quality() == pytest.approx(before)  # and the model is back as it was


def test_the_command_line_fails_in_one_line_on_a_missing_run(tmp_path, capsys):
    import argparse
    from interlingua.cli import build_parser, main
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "report" in commands.choices
    assert main(["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"interlingua: error: {tmp_path / 'nowhere'}: no such run folder"]


@pytest.mark.slow
def test_a_model_without_a_bridge_gets_the_whole_report(corpus_path, tmp_path):
    """bridge_queries=0 (the thought is every source token's state): evaluation's probes and every section
    of the report run on it, with the pooled thought standing in for the fixed-size one."""
    from interlingua.config import load_config
    from interlingua.insight.report import write_report
    from interlingua.train import train
    run = train(corpus_path, tmp_path / "nobridge", load_config("tiny", ["max_steps=30", "eval_every=30",
                                                                           "model.bridge_queries=0",
                                                                           "align_weight=0.3"]))
    html = write_report(run, tmp_path / "r.html", data=_test_file(corpus_path), max_sentences=20,
                        progress=False).read_text()
    assert html.count("<h2") >= 8 and len(_images(html)) >= 6


def test_a_section_whose_log_the_run_did_not_write_is_skipped_and_says_why(tmp_path):
    from interlingua.insight.report import section_curves, section_gradients
    assert section_curves(tmp_path, None).skipped == \
        f"{tmp_path / 'log.jsonl'} not found (the run wrote no training log)"
    assert section_gradients(tmp_path, None).skipped == \
        f"{tmp_path / 'grad_norms.jsonl'} not found (the run logged no gradient norms)"
    (tmp_path / "log.jsonl").write_text('{"step": 1, "kind": "other"}\n{"step": 2, "kind": "tr', encoding="utf-8")
    (tmp_path / "grad_norms.jsonl").write_text('{"step": 1, "norms": 3}\n', encoding="utf-8")
    assert section_curves(tmp_path, None).skipped == f"{tmp_path / 'log.jsonl'} has no training or evaluation records"
    assert section_gradients(tmp_path, None).skipped == f"{tmp_path / 'grad_norms.jsonl'} has no gradient-norm records"
