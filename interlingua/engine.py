"""The ONNX Runtime engine: a run's exported graphs (``export.py``) behind the same search code as the model.

:class:`OnnxModel` offers what ``api.Translator`` and ``search.py`` call on an ``Interlingua`` for inference
(``encode``, ``pool``, ``language_ids``, ``start_decoding``, ``decode`` with the cache, ``device``), so greedy
and beam search, batching, every target language and the placeholder masks run unchanged on it. Training,
the insight report, ``identify`` and layer probes need the PyTorch model: they say so.

Which engine a command uses (:func:`choose_engine`):
- ``torch``: the PyTorch model, as always.
- ``onnx``: the export, or one clear error if it is missing, stale (another checkpoint than the one asked
  for), corrupt, or ONNX Runtime is not installed.
- ``auto`` (the CLI's default): the export when it is there and made from the checkpoint asked for;
  PyTorch otherwise: silently when there is no export (or no ONNX Runtime, or a GPU, or bf16), with a
  warning when there is one that cannot be used (stale or corrupt), so a user learns to re-export.
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
import torch

from .config import ModelConfig
from .errors import InterlinguaError
from .checkpoint import Checkpoint, checkpoint_label, file_sha256, resolve_checkpoint
from .export import GRAPH_FORMAT, GRAPHS, MANIFEST, export_folder, step_inputs, weights_sha256
from .files import read_json
from .model import Interlingua

log = logging.getLogger(__name__)

ENGINES = ("auto", "torch", "onnx")


class OnnxDecoderState:
    """search.py's view of a DecoderState: the self-attention cache as buffers the step graph reads.

    cache_k (L, rows, h, d/h, capacity) holds the keys transposed, cache_v (L, rows, h, capacity, d/h) the
    values; positions below ``position`` are written. A step writes only its own keys and values, and the
    capacity doubles when full (as model.KVCache), so no step copies the history. The buffers start zeroed:
    the graph gives unwritten positions zero weight, and zero times a zero value stays zero (never NaN).
    The thought's keys and values are one per sentence, shared by its beams.
    """

    def __init__(self, lang: np.ndarray, cross_k: np.ndarray, cross_v: np.ndarray,
                 thought_mask: np.ndarray | None, heads: int, capacity: int = 16):
        layers, _, _, d_head, _ = cross_k.shape
        self.lang, self.cross_k, self.cross_v, self.thought_mask = lang, cross_k, cross_v, thought_mask
        self.cache_k = np.zeros((layers, len(lang), heads, d_head, capacity), dtype=np.float32)
        self.cache_v = np.zeros((layers, len(lang), heads, capacity, d_head), dtype=np.float32)
        self.position = 0

    def append(self, new_k: np.ndarray, new_v: np.ndarray) -> None:
        """Write one step's keys and values (L, rows, h, d/h) at ``position``, growing the buffers when full."""
        if self.position == self.cache_k.shape[-1]:
            capacity = 2 * self.position
            grown_k = np.zeros(self.cache_k.shape[:-1] + (capacity,), dtype=np.float32)
            grown_v = np.zeros(self.cache_v.shape[:3] + (capacity,) + self.cache_v.shape[4:], dtype=np.float32)
            grown_k[..., :self.position] = self.cache_k
            grown_v[..., :self.position, :] = self.cache_v
            self.cache_k, self.cache_v = grown_k, grown_v
        self.cache_k[..., self.position] = new_k
        self.cache_v[..., self.position, :] = new_v
        self.position += 1

    def reorder(self, index: torch.Tensor) -> None:
        """Row i of the cache becomes row ``index[i]`` (beam search re-ranks); only changed rows are copied."""
        index = index.cpu().numpy()
        target = np.nonzero(index != np.arange(len(index)))[0]
        if len(target):
            source, written = index[target], self.position
            self.cache_k[:, target, ..., :written] = self.cache_k[:, source, ..., :written]
            self.cache_v[:, target, :, :written] = self.cache_v[:, source, :, :written]


class OnnxModel:
    """An exported run on ONNX Runtime, CPU, with as many intra-op threads as torch uses."""

    device = torch.device("cpu")

    def __init__(self, folder: Path, config: ModelConfig, precision: str):
        import onnxruntime as ort
        self.wrap = ort.OrtValue.ortvalue_from_numpy  # an OrtValue that shares the numpy array's memory
        self.config, self.folder, self.precision = config, folder, precision
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.sessions = {name: ort.InferenceSession(str(folder / f"{name}.onnx"), options,
                                                        providers=["CPUExecutionProvider"]) for name in GRAPHS}
        except Exception as exc:  # noqa: BLE001  ONNX Runtime's own error types: a graph it cannot run
            raise InterlinguaError(f"{folder}: ONNX Runtime cannot load the export ({str(exc).splitlines()[0]}); "
                                   f"re-run interlingua export") from None
        self.with_mask = "thought_mask" in {i.name for i in self.sessions["decoder_step"].get_inputs()}
        self.step_names = step_inputs(config.decoder_layers, self.with_mask)

    pool = staticmethod(Interlingua.pool)

    def language_ids(self, languages: list[str]) -> torch.Tensor:
        table = {lang: i for i, lang in enumerate(self.config.target_languages)}
        return torch.tensor([table[lang] for lang in languages])

    def encode(self, src: torch.Tensor, *, return_layers: bool = False) -> torch.Tensor:
        if return_layers:
            raise InterlinguaError("layer states need the PyTorch model (--engine torch)")
        (thought,) = self.sessions["encoder"].run(None, {"src": src.cpu().numpy()})
        return torch.from_numpy(thought)

    def start_decoding(self, thought: torch.Tensor, lang: torch.Tensor, beam: int = 1,
                       match: torch.Tensor | None = None) -> OnnxDecoderState:
        """As Interlingua.start_decoding: row b·beam + j is beam j of sentence b. ``match`` is always None here:
        choose_engine never picks this engine for a model with a translation memory."""
        thought = thought.cpu().numpy()
        cross_k, cross_v = self.sessions["memory"].run(None, {"thought": thought})
        mask = (thought != 0).any(-1)[:, None, None, :] if self.with_mask else None  # as Interlingua.thought_mask
        lang = np.repeat(lang.cpu().numpy(), beam)  # the thought's keys and values stay one per sentence
        return OnnxDecoderState(lang, cross_k, cross_v, mask, self.config.n_heads)

    def decode(self, tokens: torch.Tensor, state: OnnxDecoderState, *, use_cache: bool = True,
               logits: bool = True) -> torch.Tensor:
        """Logits (rows, 1, V) for one new token per row, the cache in ``state`` extended by it."""
        if not use_cache or not logits or tokens.shape[1] != 1:
            raise InterlinguaError("the ONNX engine decodes one token at a time with its cache; "
                                   "teacher-forced scoring needs the PyTorch model (--engine torch)")
        arrays = [np.ascontiguousarray(tokens.cpu().numpy()), state.lang, np.array(state.position, dtype=np.int64),
                  *state.cache_k, *state.cache_v, *state.cross_k, *state.cross_v]  # each layer's a view, not a copy
        if state.thought_mask is not None:
            arrays.append(state.thought_mask)
        # I/O binding: ONNX Runtime reads the arrays in place (``arrays`` keeps them alive until it has run) and
        # writes its outputs into arrays of ours; run() allocates its own each step (a few % more CPU, under load)
        session = self.sessions["decoder_step"]
        binding = session.io_binding()
        for name, array in zip(self.step_names, arrays):
            binding.bind_ortvalue_input(name, self.wrap(array))
        rows, (layers, _, heads, d_head, _) = len(state.lang), state.cache_k.shape
        out = np.empty((rows, self.config.vocab_size), dtype=np.float32)
        new_k, new_v = (np.empty((layers, rows, heads, d_head), dtype=np.float32) for _ in range(2))
        for name, array in (("logits", out), ("new_k", new_k), ("new_v", new_v)):
            binding.bind_output(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        session.run_with_iobinding(binding)
        state.append(new_k, new_v)
        return torch.from_numpy(out)[:, None, :]


# ----------------------------------------------------------------------------- which engine

def _export_command(run: Path, step: Checkpoint, precision: str) -> str:
    """The command that exports checkpoint ``step`` (export's default is best: named only when it is another)."""
    return (f"interlingua export --model {run} --format onnx" + (" --int8" if precision == "int8" else "")
            + (f" --checkpoint {step}" if step != resolve_checkpoint(run) else ""))


def _check_export(run: Path, folder: Path, step: Checkpoint, precision: str) -> None:
    """An error naming what is wrong unless ``folder`` holds a whole export of checkpoint ``step``."""
    manifest_path = folder / MANIFEST
    hint = partial(_export_command, run, step, precision)  # reads best.json only when an error needs it
    if not manifest_path.exists():
        raise InterlinguaError(f"{folder}: no ONNX export (make one with: {hint()})")
    manifest = read_json(manifest_path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("graphs"), dict):
        raise InterlinguaError(f"{manifest_path}: corrupt export manifest (re-run: {hint()})")
    if manifest.get("graph_format") != GRAPH_FORMAT:
        raise InterlinguaError(f"{folder}: old export (its graphs are of format {manifest.get('graph_format', 1)}, "
                               f"this interlingua runs format {GRAPH_FORMAT}); re-export: {hint()}")
    if manifest.get("precision") != precision:
        raise InterlinguaError(f"{manifest_path}: an export of precision {manifest.get('precision')!r}, "
                               f"not {precision} (re-run: {hint()})")
    if manifest.get("step") != step or manifest.get("weights_sha256") != weights_sha256(run, step):
        exported = manifest.get("step")  # an averaged export's steps may not be today's averaged.json's
        exported = checkpoint_label(run, exported) if isinstance(exported, int) else exported
        raise InterlinguaError(f"{folder}: stale export (of {exported}, not of the checkpoint asked for, "
                               f"{checkpoint_label(run, step)}, or its weights changed since); re-run: {hint()}")
    for name in GRAPHS:
        path = folder / f"{name}.onnx"
        if not path.is_file() or file_sha256(path) != manifest["graphs"].get(f"{name}.onnx"):
            raise InterlinguaError(f"{path}: missing or corrupt (its checksum is not the one in {MANIFEST}); "
                                   f"re-run: {hint()}")


def choose_engine(run: Path, config: ModelConfig, step: Checkpoint, engine: str, precision: str,
                  device: str | None) -> OnnxModel | None:
    """The ONNX model to translate with, or None for the PyTorch one (see the module docstring)."""
    if engine not in ENGINES:
        raise InterlinguaError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "torch":
        if precision == "int8":
            raise InterlinguaError("precision int8 is the ONNX engine's (--engine onnx or auto, after "
                                   "interlingua export --int8)")
        return None
    asked = engine == "onnx" or precision == "int8"
    if config.memory:  # the export has no place for the memory's cross-attention (export.py refuses such runs)
        if asked:
            raise InterlinguaError("the ONNX engine does not run models trained with a translation memory "
                                   "(model.memory): --engine torch")
        return None
    if not asked and (precision != "fp32" or (device or ("cuda" if torch.cuda.is_available() else "cpu")) != "cpu"):
        return None  # bf16 and GPUs are the PyTorch path's
    if asked and precision == "bf16":
        raise InterlinguaError("the ONNX engine runs fp32 or int8, not bf16")
    if asked and device not in (None, "cpu"):
        raise InterlinguaError(f"the ONNX engine runs on the CPU, not {device} (GPUs: --engine torch)")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if asked:
            raise InterlinguaError("the ONNX engine is not installed: pip install 'interlingua[onnx]'") from None
        return None
    folder = export_folder(run, precision)
    try:
        _check_export(run, folder, step, precision)
        return OnnxModel(folder, config, precision)
    except InterlinguaError as exc:
        if asked:
            raise
        if (folder / MANIFEST).exists():  # never exported: PyTorch, silently, as before there was an engine
            log.warning("warning: %s; translating with PyTorch", exc)
        return None
