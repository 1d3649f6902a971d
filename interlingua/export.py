"""Export a run to ONNX Runtime graphs: the inference engine behind ``--engine onnx`` (``engine.py``).

    RUN/onnx/fp32/  (or int8/)
        encoder.onnx       src (B, S) int64                 -> thought (B, T, d)
        memory.onnx        thought (B, T, d)                -> cross_k (L, B, h, d/h, T), cross_v (L, B, h, T, d/h)
        decoder_step.onnx  token (R, 1), lang (R,), position (), and per layer i:
                           cache_k_i (R, h, d/h, C), cache_v_i (R, h, C, d/h), cross_k_i, cross_v_i (B, ...)
                           [, thought_mask (B, 1, 1, T) bool: only without a bridge]
                                                            -> logits (R, V), new_k, new_v (L, R, h, d/h)
        export.json        what the graphs are: their format, opset, precision, source step and weights sha256,
                           each graph's sha256, interlingua/torch/onnxruntime versions

R = B·beam rows (row b·beam + j is beam j of sentence b). The encoder and memory graphs are the model's own
modules, traced: ``memory`` is ``start_decoding``'s projection of the thought's keys and values, done once
per sentence, keys stored transposed so that no step transposes them. ``decoder_step`` is ``decode`` for one
new token: it reads the self-attention cache, a buffer of capacity C >= position that the engine owns, and
returns only the new token's keys and values, which the engine writes into the buffer at ``position``
(an ONNX graph cannot write into its input, and passing the cache through would copy all of it at every
step). Each layer's cache and thought are separate inputs, so no step slices or copies them; a sentence's
beams share its thought's keys and values (as ``Interlingua.start_decoding``'s).

Written atomically as a set: the old export.json goes first, each graph is replaced whole, and the new
export.json, which names every graph's checksum, comes last, so a reader never takes a half-written
export for a whole one. ``--int8`` quantises the exported graphs' matmul weights to int8 with
ONNX Runtime's dynamic quantisation (activations quantised per batch at run time; VNNI where the CPU has it).
"""
from __future__ import annotations

import logging
import math
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from . import __version__
from .checkpoint import Checkpoint, checkpoint_stem, file_sha256, load_model, read_run_config, resolve_checkpoint
from .errors import InterlinguaError
from .files import check_output, output_path, read_json, write_json
from .model import Interlingua


OPSET = 17
# The graphs' signature: 2 = the step reads a cache buffer and returns only the new keys and values
# (1, unnamed in export.json, passed the whole cache in and out). engine.py refuses any other.
GRAPH_FORMAT = 2
MANIFEST = "export.json"
GRAPHS = ("encoder", "memory", "decoder_step")
PRECISIONS = ("fp32", "int8")


def export_folder(run: Path, precision: str) -> Path:
    """Where ``export`` writes, and the engine looks, by default: RUN/onnx/<precision>."""
    return Path(run) / "onnx" / precision


def weights_sha256(run: Path, step: Checkpoint) -> str:
    """The checkpoint's weights checksum: the one saved with it, else computed from the file."""
    stem = checkpoint_stem(run, step)
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
    """start_decoding's part that reads the thought: every decoder layer's cross-attention keys (transposed)
    and values."""

    def __init__(self, model: Interlingua):
        super().__init__()
        self.model = model

    def forward(self, thought: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kv = [layer.cross_attn.project_memory(thought) for layer in self.model.decoder]
        return torch.stack([k.transpose(2, 3) for k, _ in kv]), torch.stack([v for _, v in kv])


def _self_attention(attn: nn.Module, h: torch.Tensor, cache_k: torch.Tensor, cache_v: torch.Tensor,
                    valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention.forward with a cache for one new token, without concatenating it to the cache: the scores
    of the cached positions (the ``valid`` ones of the buffer) and the token's own are joined instead,
    which is a few numbers per row. -> (output (R, 1, d), the token's k and v (R, h, d/h))."""
    q, k, v = (attn._heads(t) for t in attn.qkv(h).chunk(3, dim=-1))  # (R, h, 1, d/h)
    q = q * (1.0 / math.sqrt(q.shape[-1]))
    cached = (q @ cache_k).masked_fill(~valid, float("-inf"))          # (R, h, 1, C)
    own = (q * k).sum(-1, keepdim=True)                                # (R, h, 1, 1)
    p = torch.cat([cached, own], dim=-1).softmax(-1)
    y = p[..., :-1] @ cache_v + p[..., -1:] * v                        # (R, h, 1, d/h)
    rows, heads, _, d_head = y.shape
    return attn.out(y.transpose(1, 2).reshape(rows, 1, heads * d_head)), k[:, :, 0], v[:, :, 0]


def _cross_attention(attn: nn.Module, h: torch.Tensor, cross_k: torch.Tensor, cross_v: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
    """Attention._attend_shared_memory for one token: the R = B·beam rows' queries read their sentence's
    thought (cross_k (B, h, d/h, T) transposed, cross_v (B, h, T, d/h)) once for all its beams."""
    q = attn._heads(attn.q(h))                                         # (R, h, 1, d/h)
    rows, heads, _, d_head = q.shape
    q = q.reshape(cross_k.shape[0], -1, heads, d_head).transpose(1, 2) * (1.0 / math.sqrt(d_head))  # (B, h, beam, d/h)
    scores = q @ cross_k                                               # (B, h, beam, T)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    y = scores.softmax(-1) @ cross_v                                   # (B, h, beam, d/h)
    return attn.out(y.transpose(1, 2).reshape(rows, 1, heads * d_head))


class _DecoderStep(nn.Module):
    """Interlingua.decode for one new token per row, as the search calls it (use_cache=True, logits), with
    DecoderLayer.forward's three residual blocks (a model with a translation memory is never exported)."""

    def __init__(self, model: Interlingua):
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, lang: torch.Tensor, position: torch.Tensor, *layers: torch.Tensor):
        m = self.model
        n = len(m.decoder)
        cache_k, cache_v, cross_k, cross_v = (layers[j * n:(j + 1) * n] for j in range(4))
        mask = layers[4 * n] if len(layers) > 4 * n else None
        # Interlingua._embed at offset ``position``, which is an input here, not a Python int
        x = m.embed(token) * math.sqrt(m.config.d_model) + m.positions.index_select(0, position.reshape(1))
        x = x + m.target_language(lang)[:, None, :]
        valid = torch.arange(cache_k[0].shape[-1]) < position            # (C,) the buffer's written positions
        new_k, new_v = [], []
        for i, layer in enumerate(m.decoder):
            def self_attend(h: torch.Tensor, i: int = i) -> torch.Tensor:
                out, k, v = _self_attention(layer.self_attn, h, cache_k[i], cache_v[i], valid)
                new_k.append(k)
                new_v.append(v)
                return out
            x = layer.residual(x, layer.norm1, self_attend)
            x = layer.residual(x, layer.norm2, lambda h: _cross_attention(layer.cross_attn, h, cross_k[i],
                                                                          cross_v[i], mask))
            x = layer.residual(x, layer.norm3, layer.ff)
        x = m.decoder_norm(x)
        logits = x[:, -1] @ m.embed.weight.t()  # the tied output layer, as decode's output_weight
        return logits, torch.stack(new_k), torch.stack(new_v)


def step_inputs(layers: int, with_mask: bool) -> list[str]:
    """decoder_step.onnx's input names, in order (engine.py feeds them by name)."""
    per_layer = [f"{name}_{i}" for name in ("cache_k", "cache_v", "cross_k", "cross_v") for i in range(layers)]
    return ["token", "lang", "position", *per_layer] + (["thought_mask"] if with_mask else [])


# ----------------------------------------------------------------------------- export

def _trace(module: nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str],
           dynamic: dict[str, dict[int, str]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape comparisons it records as constants
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)


def _example(model: Interlingua) -> dict[str, tuple]:
    """Inputs to trace with: 2 sentences of 5 tokens, 2 beams each, 3 tokens decoded into a buffer of 5."""
    c = model.config
    src = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0]])
    with torch.no_grad():
        thought = model.encode(src)
        cross_k, cross_v = _Memory(model)(thought)
    heads, d_head, layers = c.n_heads, c.d_model // c.n_heads, c.decoder_layers
    cache_k = [torch.randn(4, heads, d_head, 5) for _ in range(layers)]
    cache_v = [torch.randn(4, heads, 5, d_head) for _ in range(layers)]
    step = (torch.tensor([[11], [12], [13], [14]]), torch.tensor([0, 0, 1, 1]) % max(1, len(c.target_languages)),
            torch.tensor(3), *cache_k, *cache_v, *cross_k, *cross_v)
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
    layers, with_mask = model.config.decoder_layers, model.bridge is None
    rows, memory = {0: "batch"}, {0: "batch", 1: "memory"}
    step_names = step_inputs(layers, with_mask)
    step_dynamic = {"token": rows, "lang": rows, "logits": rows, "new_k": {1: "rows"}, "new_v": {1: "rows"}}
    for i in range(layers):
        step_dynamic |= {f"cache_k_{i}": {0: "rows", 3: "capacity"}, f"cache_v_{i}": {0: "rows", 2: "capacity"},
                         f"cross_k_{i}": {0: "sentences", 3: "memory"}, f"cross_v_{i}": {0: "sentences", 2: "memory"}}
    if with_mask:
        step_dynamic["thought_mask"] = {0: "sentences", 3: "memory"}
    specs = {
        "encoder": (_Encoder(model), ["src"], ["thought"], {"src": {0: "batch", 1: "source"}, "thought": memory}),
        "memory": (_Memory(model), ["thought"], ["cross_k", "cross_v"],
                   {"thought": memory, "cross_k": {1: "batch", 4: "memory"}, "cross_v": {1: "batch", 3: "memory"}}),
        "decoder_step": (_DecoderStep(model), step_names, ["logits", "new_k", "new_v"], step_dynamic),
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
        "format": "onnx", "graph_format": GRAPH_FORMAT, "opset": OPSET, "precision": precision, "step": step,
        "weights_sha256": weights_sha256(run, step), "graphs": checksums,
        "thought_mask": model.bridge is None, "decoder_layers": config.model.decoder_layers,
        "interlingua": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
    })
    return folder
