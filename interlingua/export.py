"""Export a run to ONNX Runtime graphs: the inference engine behind ``--engine onnx`` (``engine.py``).

    RUN/onnx/fp32/  (or int8/)
        encoder.onnx       src (B, S) int64                 -> thought (B, T, d)
        memory.onnx        thought (B, T, d)                -> cross_k, cross_v (L, B, h, T, d/h)
        decoder_step.onnx  token (B, 1), lang (B,), past_k, past_v (L, B, h, P, d/h), cross_k, cross_v
                           [, thought_mask (B, 1, 1, T) bool: only without a bridge]
                                                            -> logits (B, V), present_k, present_v (P + 1)
        export.json        what the graphs are: opset, precision, source step and weights sha256,
                           each graph's sha256, interlingua/torch/onnxruntime versions

The three graphs are the model's own modules, traced: ``memory`` is ``start_decoding``'s projection of the
thought's keys and values, done once per sentence; ``decoder_step`` is ``decode`` for one new token with
the self-attention cache passed in and out (concatenated: an ONNX graph has no buffer to write into). The
position of the new token is the cache's length, so the graphs carry no Python state.

Written atomically as a set: the old export.json goes first, each graph is replaced whole, and the new
export.json, which names every graph's checksum, comes last, so a reader never takes a half-written
export for a whole one. ``--int8`` quantises the exported graphs' matmul weights to int8 with
ONNX Runtime's dynamic quantisation (activations quantised per batch at run time; VNNI where the CPU has it).
"""
from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from . import __version__
from .checkpoint import file_sha256, load_model, read_run_config, resolve_checkpoint
from .errors import InterlinguaError
from .files import check_output, output_path, read_json, write_json
from .model import Interlingua


OPSET = 17
MANIFEST = "export.json"
GRAPHS = ("encoder", "memory", "decoder_step")
PRECISIONS = ("fp32", "int8")


def export_folder(run: Path, precision: str) -> Path:
    """Where ``export`` writes, and the engine looks, by default: RUN/onnx/<precision>."""
    return Path(run) / "onnx" / precision


def weights_sha256(run: Path, step: int) -> str:
    """The checkpoint's weights checksum: the one training saved with it, else computed from the file."""
    stem = Path(run) / "checkpoints" / f"step_{step:07d}"
    state = read_json(stem.with_suffix(".json")) if stem.with_suffix(".json").exists() else {}
    return state.get("sha256", {}).get("weights") or file_sha256(stem.with_suffix(".safetensors"))


# ----------------------------------------------------------------------------- the traced modules

class _Encoder(nn.Module):
    def __init__(self, model: Interlingua):
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        return self.model.encode(src)


class _Memory(nn.Module):
    """start_decoding's part that reads the thought: every decoder layer's cross-attention keys and values."""

    def __init__(self, model: Interlingua):
        super().__init__()
        self.model = model

    def forward(self, thought: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kv = [layer.cross_attn.project_memory(thought) for layer in self.model.decoder]
        return torch.stack([k for k, _ in kv]), torch.stack([v for _, v in kv])


class _ConcatCache:
    """model.KVCache's interface for a traced step: the past comes in as a tensor, the present goes out as one."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor):
        self.k, self.v = k, v

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k, self.v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        return self.k, self.v


class _DecoderStep(nn.Module):
    """Interlingua.decode for one new token per row, as the search calls it (use_cache=True, logits)."""

    def __init__(self, model: Interlingua):
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, lang: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor,
                cross_k: torch.Tensor, cross_v: torch.Tensor, thought_mask: torch.Tensor | None = None):
        m = self.model
        # the new token's position is the number of tokens cached before it
        x = m._embed(token, past_k.shape[3]) + m.target_language(lang)[:, None, :]
        caches = [_ConcatCache(past_k[i], past_v[i]) for i in range(len(m.decoder))]
        for i, layer in enumerate(m.decoder):
            x = layer(x, (cross_k[i], cross_v[i]), caches[i], thought_mask)  # type: ignore[arg-type]
        x = m.decoder_norm(x)
        logits = x[:, -1] @ m.embed.weight.t()  # the tied output layer, as decode's output_weight
        return logits, torch.stack([c.k for c in caches]), torch.stack([c.v for c in caches])


# ----------------------------------------------------------------------------- export

def _trace(module: nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str],
           dynamic: dict[str, dict[int, str]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape comparisons it records as constants
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)


def _example(model: Interlingua) -> dict[str, tuple]:
    """Inputs to trace with: 2 sentences of 5 tokens, 3 tokens already decoded."""
    c = model.config
    src = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0]])
    with torch.no_grad():
        thought = model.encode(src)
        cross_k, cross_v = _Memory(model)(thought)
    heads, d_head = c.n_heads, c.d_model // c.n_heads
    past = torch.zeros(c.decoder_layers, 2, heads, 3, d_head)
    step = (torch.tensor([[11], [12]]), torch.tensor([0, 1 % max(1, len(c.target_languages))]), past, past.clone(),
            cross_k, cross_v)
    if model.bridge is None:
        step = step + (model.thought_mask(thought),)
    return {"encoder": (src,), "memory": (thought,), "decoder_step": step}


def _quantise(source: str, target: str) -> None:
    """int8 weights for every MatMul with a constant operand; the attention products stay fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.disable(logging.WARNING)  # its notes on every tensor it leaves alone, on the root logger
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


def write_graphs(model: Interlingua, folder: Path, precision: str) -> dict[str, str]:
    """Trace the three graphs into ``folder`` (each replaced whole); their sha256 by name."""
    example = _example(model)
    rows, memory = {0: "batch"}, {0: "batch", 1: "memory"}
    cache = {1: "rows", 3: "past"}
    step_inputs = ["token", "lang", "past_k", "past_v", "cross_k", "cross_v"]
    step_dynamic = {"token": rows, "lang": rows, "past_k": cache, "past_v": cache,
                    "cross_k": {1: "rows", 3: "memory"}, "cross_v": {1: "rows", 3: "memory"},
                    "logits": rows, "present_k": {1: "rows", 3: "present"}, "present_v": {1: "rows", 3: "present"}}
    if model.bridge is None:
        step_inputs.append("thought_mask")
        step_dynamic["thought_mask"] = {0: "rows", 3: "memory"}
    specs = {
        "encoder": (_Encoder(model), ["src"], ["thought"], {"src": {0: "batch", 1: "source"}, "thought": memory}),
        "memory": (_Memory(model), ["thought"], ["cross_k", "cross_v"],
                   {"thought": memory, "cross_k": {1: "batch", 3: "memory"}, "cross_v": {1: "batch", 3: "memory"}}),
        "decoder_step": (_DecoderStep(model), step_inputs, ["logits", "present_k", "present_v"], step_dynamic),
    }
    checksums = {}
    with tempfile.TemporaryDirectory(prefix="interlingua-onnx-") as scratch, torch.no_grad():
        for name, (module, inputs, outputs, dynamic) in specs.items():
            traced = str(Path(scratch) / f"{name}.onnx")
            _trace(module, example[name], traced, inputs, outputs, dynamic)
            with output_path(folder / f"{name}.onnx", parents=True) as target:
                if precision == "int8":
                    _quantise(traced, target)
                else:
                    Path(traced).replace(target)
            checksums[f"{name}.onnx"] = file_sha256(folder / f"{name}.onnx")
    return checksums


def export(run: Path | str, precision: str = "fp32", checkpoint: str = "best", out: Path | str | None = None) -> Path:
    """Export a run's checkpoint as ONNX graphs; the folder written (default RUN/onnx/<precision>)."""
    try:
        import onnxruntime  # noqa: F401  (int8 and every later load need it; fail before tracing)
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
    except ImportError:
        raise InterlinguaError("the ONNX engine is not installed: pip install 'interlingua[onnx]'") from None
    if precision not in PRECISIONS:
        raise InterlinguaError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    run = Path(run)
    config = read_run_config(run)
    if config.model.memory:
        raise InterlinguaError(f"{run}: a model trained with a translation memory (model.memory) cannot be exported "
                               "yet: its decoder's second cross-attention is not in the ONNX graphs")
    folder = Path(out) if out is not None else export_folder(run, precision)
    check_output(folder / MANIFEST, parents=True)  # before minutes of tracing
    step = resolve_checkpoint(run, checkpoint)
    model = load_model(run, config, step)
    (folder / MANIFEST).unlink(missing_ok=True)  # from here until the new one is written, no export is there
    checksums = write_graphs(model, folder, precision)
    import onnxruntime
    write_json(folder / MANIFEST, {
        "format": "onnx", "opset": OPSET, "precision": precision, "step": step,
        "weights_sha256": weights_sha256(run, step), "graphs": checksums,
        "thought_mask": model.bridge is None, "decoder_layers": config.model.decoder_layers,
        "interlingua": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
    })
    return folder
