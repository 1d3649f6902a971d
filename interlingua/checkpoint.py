"""A run folder that describes itself, written so that a crash never leaves half a file.

    RUN/config.json             resolved configuration (model + train)
    RUN/run.json                data, languages, trained directions, package version
    RUN/tokenizer.model         the SentencePiece model
    RUN/checkpoints/step_N.safetensors        model weights
    RUN/checkpoints/step_N.optim.safetensors  optimizer tensors and RNG state
    RUN/checkpoints/step_N.json               step, data position, optimizer scalars, metrics
    RUN/latest.json, RUN/best.json            pointers: {"step": N, ...}
    RUN/log.jsonl, RUN/grad_norms.jsonl       training and gradient-flow logs

Weights and optimizer state are safetensors, everything else JSON: nothing is pickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import InterlinguaError


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write to ``path.tmp``, fsync, rename: readers see the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InterlinguaError(f"{path}: cannot write ({exc.strerror or exc})") from None


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InterlinguaError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InterlinguaError(f"{path}: corrupt JSON ({exc})") from None


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InterlinguaError(f"{path}: cannot write ({exc.strerror or exc})") from None


def load_tensors(path: Path | str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise InterlinguaError(f"{path}: missing weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InterlinguaError(f"{path}: corrupt or truncated safetensors file ({exc})") from None


# ----------------------------------------------------------------------------- optimizer state

def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state_dict into safetensors-friendly tensors and JSON scalars."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{name}"] = value
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(run: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    state: dict[str, Any], keep: int = 2, best: bool = False) -> None:
    """Write weights, optimizer and state for ``step``, then move latest.json (and best.json) to it."""
    folder = run / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"step_{step:07d}"
    _save_tensors(folder / f"{stem}.safetensors", model.state_dict(), {"step": str(step)})
    if optimizer is not None:
        tensors, meta = optimizer_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        _save_tensors(folder / f"{stem}.optim.safetensors", tensors)
        state = {**state, "optimizer": meta}
    write_json(folder / f"{stem}.json", {**state, "step": step})
    pointer = {"step": step, "weights": f"checkpoints/{stem}.safetensors", "metrics": state.get("metrics", {})}
    write_json(run / "latest.json", pointer)  # only after every file it points to is whole
    if best:
        write_json(run / "best.json", pointer)
    _prune(run, keep)


def _prune(run: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints plus whatever a pointer names."""
    pinned = {read_json(p)["step"] for p in (run / "latest.json", run / "best.json") if p.exists()}
    steps = sorted(int(p.stem[5:]) for p in (run / "checkpoints").glob("step_*.json"))
    for step in steps[:-keep] if keep > 0 else []:
        if step not in pinned:
            for f in (run / "checkpoints").glob(f"step_{step:07d}.*"):
                f.unlink(missing_ok=True)


def resolve_checkpoint(run: Path, which: str = "best") -> int:
    """The step named by best.json or latest.json (or a step number)."""
    if not run.is_dir():
        raise InterlinguaError(f"{run}: no such run folder")
    if which.isdigit():
        return int(which)
    pointer = run / f"{which}.json"
    if not pointer.exists() and which == "best":
        pointer = run / "latest.json"
    if not pointer.exists():
        raise InterlinguaError(f"{run}: not a trained run (no {which}.json; was training started with --out {run}?)")
    step = read_json(pointer).get("step")
    if not isinstance(step, int):
        raise InterlinguaError(f"{pointer}: corrupt pointer (no step)")
    return step


def load_checkpoint(run: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, dict]:
    """(weights, optimizer tensors or None, state) of one checkpoint."""
    stem = run / "checkpoints" / f"step_{step:07d}"
    weights = load_tensors(stem.with_suffix(".safetensors"))
    optim_path = Path(f"{stem}.optim.safetensors")
    optim = load_tensors(optim_path) if optim_path.exists() else None
    return weights, optim, read_json(stem.with_suffix(".json"))
