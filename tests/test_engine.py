"""The ONNX Runtime engine against the PyTorch model it was exported from: same outputs, clear errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import LANGS, assert_clean_error, one_thread, run_cli, tiny_model

pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

from interlingua.api import Translator  # noqa: E402
from interlingua.corpus.formats import iter_corpus  # noqa: E402
from interlingua.engine import OnnxModel  # noqa: E402
from interlingua.errors import InterlinguaError  # noqa: E402
from interlingua.export import write_graphs, export  # noqa: E402
from interlingua.search import MaskConstraint, beam_search, greedy  # noqa: E402
from interlingua.tokenizer import PAD  # noqa: E402


@pytest.fixture(scope="module")
def exported_run(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny trained run with its fp32 export beside the weights."""
    run = tmp_path_factory.mktemp("onnx") / "tiny"
    shutil.copytree(tiny_run, run)
    with one_thread():
        export(run, "fp32")
    return run


@pytest.fixture(scope="module")
def held_out(corpus_path) -> list[str]:
    rows = list(iter_corpus(corpus_path.with_name("corpus.test.jsonl")))
    return [row[lang] for row in rows for lang in ["en", *LANGS] if lang in row][:60]


def _pair(run: Path, precision: str = "fp32") -> tuple[Translator, Translator]:
    return Translator.load(run, engine="torch"), Translator.load(run, engine="onnx", precision=precision)


@pytest.mark.parametrize("settings", [dict(bridge_queries=4), dict(bridge_queries=0),
                                      dict(bridge_queries=0, encoder_no_residual=1),
                                      dict(bridge_queries=0, norm="post", init_std=0.02)])
def test_exported_step_gives_the_models_logits_and_search_its_outputs(tmp_path, settings):
    """Untrained models, with a bridge and without (the decoder then masks the thought's padding rows), one
    whose second encoder layer drops its attention's residual (model.encoder_no_residual), and post-norm
    layers with Marian's initialisation (what `base` trains)."""
    model = tiny_model(**settings)
    with one_thread():
        write_graphs(model, tmp_path, "fp32")
        engine = OnnxModel(tmp_path, model.config, "fp32")
        src = torch.tensor([[5, 6, 7, 8, 9, 10, 3], [11, 12, 3, PAD, PAD, PAD, PAD], [13, 3, PAD, PAD, PAD, PAD, PAD]])
        thought = model.encode(src)
        assert torch.allclose(engine.encode(src), thought, atol=1e-5)
        lang = torch.tensor([0, 1, 2])
        ours, theirs = model.start_decoding(thought, lang), engine.start_decoding(engine.encode(src), lang)
        tokens = torch.full((3, 1), 2)
        for _ in range(5):  # the cache grows: every step's position and history must match
            expected = model.decode(tokens, ours)
            assert torch.allclose(engine.decode(tokens, theirs), expected, atol=1e-4)
            tokens = expected[:, -1].argmax(-1, keepdim=True)
        assert greedy(engine, thought, lang, 12) == greedy(model, thought, lang, 12)
        assert beam_search(engine, thought, lang, 12, beam=3) == beam_search(model, thought, lang, 12, beam=3)


@pytest.mark.slow  # the export of a trained run: ~15 s of setup, shared by the slow half
def test_greedy_and_beam_translations_equal_pytorchs_in_every_language(exported_run, held_out):
    torch_side, onnx_side = _pair(exported_run)
    assert isinstance(onnx_side.model, OnnxModel)
    targets = torch_side.languages
    with one_thread():
        for beam in (1, 4):
            assert onnx_side.translate(held_out, to=targets, beam=beam) == \
                torch_side.translate(held_out, to=targets, beam=beam)
        for lang in targets:
            assert onnx_side.confidence[lang] == pytest.approx(torch_side.confidence[lang], abs=1e-4)


def test_the_cache_buffer_grows_and_beams_reorder_it_without_changing_outputs(tmp_path):
    """40 tokens: the step's cache buffer doubles twice (16 -> 32 -> 64 positions), keeping what it held,
    while beam search moves rows of it and the beams share their sentence's thought."""
    model = tiny_model(bridge_queries=0)
    with one_thread(), torch.no_grad():
        write_graphs(model, tmp_path, "fp32")
        engine = OnnxModel(tmp_path, model.config, "fp32")
        src = torch.tensor([[5, 6, 7, 8, 3], [9, 3, PAD, PAD, PAD]])
        thought, lang = model.encode(src), torch.tensor([1, 2])
        # 2 beams a sentence on other tokens, so moving a row moves a history unlike the one it replaces
        ours, theirs = model.start_decoding(thought, lang, beam=2), engine.start_decoding(thought, lang, beam=2)
        draw = torch.Generator().manual_seed(0)
        for step in range(40):
            step_tokens = torch.randint(4, 50, (4, 1), generator=draw)
            assert torch.allclose(engine.decode(step_tokens, theirs), model.decode(step_tokens, ours), atol=1e-4)
            if step % 3 == 1:  # beam search re-ranks: a row takes its sibling's history
                index = torch.tensor([1, 1, 2, 2] if step % 2 else [0, 0, 3, 2])
                ours.reorder(index)
                theirs.reorder(index)
        assert theirs.cache_k.shape[-1] == theirs.cache_v.shape[-2] == 64
        for search in (lambda m: greedy(m, thought, lang, 40, min_len=40),
                       lambda m: beam_search(m, thought, lang, 40, beam=3, min_len=39)):
            outputs = search(engine)
            assert outputs == search(model) and [len(seq) for seq in outputs] == [40, 40]


def test_placeholder_masks_are_written_once_each_as_in_pytorch(tmp_path):
    """search.MaskConstraint runs on the engine's logits as on the model's."""
    model = tiny_model(bridge_queries=0)
    with one_thread():
        write_graphs(model, tmp_path, "fp32")
        engine = OnnxModel(tmp_path, model.config, "fp32")
        src = torch.tensor([[5, 6, 7, 3], [8, 9, 3, PAD]])
        thought, lang = model.encode(src), torch.tensor([1, 2])

        def constraint() -> MaskConstraint:
            return MaskConstraint(torch.tensor([40, 41]), torch.tensor([[True, True], [True, False]]))
        for search in (lambda m, c: greedy(m, thought, lang, 8, masks=c),
                       lambda m, c: beam_search(m, thought, lang, 8, beam=3, masks=c)):
            ours = search(engine, constraint())
            assert ours == search(model, constraint())
            assert [seq.count(40) for seq in ours] == [1, 1] and [seq.count(41) for seq in ours] == [1, 0]


@pytest.mark.slow  # the export of a trained run: ~15 s of setup, shared by the slow half
def test_embed_vectors_equal_pytorchs(exported_run, held_out):
    torch_side, onnx_side = _pair(exported_run)
    with one_thread():
        np.testing.assert_allclose(onnx_side.embed(held_out), torch_side.embed(held_out), atol=1e-5)


@pytest.mark.slow  # the export of a trained run: ~15 s of setup, shared by the slow half
def test_export_describes_itself(exported_run):
    from interlingua.files import read_json
    manifest = read_json(exported_run / "onnx" / "fp32" / "export.json")
    assert manifest["precision"] == "fp32" and manifest["opset"] >= 14
    assert manifest["step"] == read_json(exported_run / "best.json")["step"]
    assert set(manifest["graphs"]) == {"encoder.onnx", "memory.onnx", "decoder_step.onnx"}


@pytest.mark.slow  # the export of a trained run: ~15 s of setup, shared by the slow half
def test_int8_export_translates_close_to_fp32(exported_run, held_out):
    """Quantised weights change some outputs; on a trained model most stay the same."""
    with one_thread():
        export(exported_run, "int8")
        torch_side, int8 = _pair(exported_run, "int8")
        assert int8.model.precision == "int8"
        ours, theirs = int8.translate(held_out, to="fr"), torch_side.translate(held_out, to="fr")
    assert sum(a == b for a, b in zip(ours, theirs)) >= 0.5 * len(ours)


@pytest.mark.slow  # the export of a trained run: ~15 s of setup, shared by the slow half
def test_missing_stale_and_corrupt_exports(exported_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(exported_run, run)
    shutil.rmtree(run / "onnx" / "int8", ignore_errors=True)
    with pytest.raises(InterlinguaError, match="no ONNX export"):
        Translator.load(run, engine="onnx", precision="int8")
    from interlingua.files import read_json, write_json
    manifest_path = run / "onnx" / "fp32" / "export.json"
    manifest = read_json(manifest_path)  # an export made before graph formats were named: format 1
    write_json(manifest_path, {k: v for k, v in manifest.items() if k != "graph_format"})
    with pytest.raises(InterlinguaError, match="old export .*format 1.*re-export: interlingua export"):
        Translator.load(run, engine="onnx")
    write_json(manifest_path, manifest)
    graph = run / "onnx" / "fp32" / "decoder_step.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    with pytest.raises(InterlinguaError, match="decoder_step.onnx: missing or corrupt"):
        Translator.load(run, engine="onnx")
    assert isinstance(Translator.load(run, engine="auto").model, torch.nn.Module)  # falls back, with a warning
    shutil.rmtree(run / "onnx")
    assert isinstance(Translator.load(run, engine="auto").model, torch.nn.Module)  # never exported: PyTorch
    with pytest.raises(InterlinguaError, match="no ONNX export"):
        Translator.load(run, engine="onnx")


@pytest.mark.slow
def test_cli_export_then_translate_and_embed_with_the_engine(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    result = run_cli("translate", "--model", str(run), "--to", "fr", "--engine", "onnx", "Open the file")
    assert_clean_error(result, "no ONNX export", "interlingua export")
    assert run_cli("export", "--model", str(run), "--format", "onnx").returncode == 0
    expected = run_cli("translate", "--model", str(run), "--to", "fr,de", "--engine", "torch", "Open the file")
    result = run_cli("translate", "--model", str(run), "--to", "fr,de", "--engine", "onnx", "Open the file")
    assert result.returncode == 0 and result.stdout == expected.stdout
    (tmp_path / "in.txt").write_text("Open the file\nOuvrir le fichier\n")
    for engine in ("torch", "onnx"):
        assert run_cli("embed", "--model", str(run), "--in", str(tmp_path / "in.txt"), "--out",
                       str(tmp_path / f"{engine}.npy"), "--engine", engine).returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "onnx.npy"), np.load(tmp_path / "torch.npy"), atol=1e-5)
    # a newer checkpoint than the export: stale, named as such (auto would warn and use PyTorch)
    from interlingua.files import read_json, write_json
    manifest = read_json(run / "onnx" / "fp32" / "export.json")
    write_json(run / "onnx" / "fp32" / "export.json", {**manifest, "step": manifest["step"] - 1})
    assert_clean_error(run_cli("translate", "--model", str(run), "--to", "fr", "--engine", "onnx", "Open"),
                       "stale export")
    result = run_cli("translate", "--model", str(run), "--to", "fr", "Open the file")
    assert result.returncode == 0 and "stale export" in result.stderr.decode()
