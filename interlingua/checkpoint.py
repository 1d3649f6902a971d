"""A run folder that describes itself, written so that a crash never leaves half a file.

    RUN/config.json             resolved configuration (model + train)
    RUN/run.json                data, languages, trained directions, package version
    RUN/tokenizer.model         the SentencePiece model
    RUN/checkpoints/step_N.safetensors        model weights
    RUN/checkpoints/step_N.optim.safetensors  optimizer tensors and RNG state
    RUN/checkpoints/step_N.json               step, data position, optimizer scalars, metrics
    RUN/checkpoints/averaged.safetensors      `interlingua average`'s mean of some steps' weights (+ .json)
    RUN/latest.json, RUN/best.json            pointers: {"step": N, ...}
    RUN/log.jsonl, RUN/grad_norms.jsonl       training and gradient-flow logs

Weights and optimizer state are safetensors, everything else JSON: nothing is pickled.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import RunConfig
from .errors import InterlinguaError
from .files import output_path, read_json, write_json


AVERAGED = "averaged"  # --checkpoint averaged: the weights `interlingua average` wrote
Checkpoint = int | str  # a checkpoint as resolve_checkpoint names it: a training step, or AVERAGED


def checkpoint_stem(run: Path, checkpoint: Checkpoint) -> Path:
    """RUN/checkpoints/step_0001000 (a step) or RUN/checkpoints/averaged: its files are STEM.safetensors, STEM.json
    (with the weights' checksum) and, for a training step, STEM.optim.safetensors."""
    if checkpoint == AVERAGED:
        return Path(run) / "checkpoints" / AVERAGED
    if not isinstance(checkpoint, int) or isinstance(checkpoint, bool):
        raise TypeError(f"a checkpoint is a step number or {AVERAGED!r}, not {checkpoint!r}")
    return Path(run) / "checkpoints" / f"step_{checkpoint:07d}"


def checkpoint_label(run: Path | str, checkpoint: Checkpoint) -> str:
    """How every output names a checkpoint: "step 6,000", or "averaged (steps 4000, 6000)" from the steps that
    averaged.json records now (plain "averaged" once it is gone). The list has no thousands commas: they would
    read as separators."""
    if checkpoint != AVERAGED:
        return f"step {checkpoint:,}"
    path = checkpoint_stem(Path(run), AVERAGED).with_suffix(".json")
    steps = read_json(path).get("averaged_steps", []) if path.exists() else []
    return f"{AVERAGED} (steps {', '.join(map(str, steps))})" if steps else AVERAGED


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> str:
    """Write the tensors; their file's sha256 (the step's JSON keeps it, so corrupt bytes are caught on load)."""
    with output_path(path) as name:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, name, metadata=metadata)
        return file_sha256(name)


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_tensors(path: Path | str, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; with ``sha256``, an error unless the file's bytes are the ones saved."""
    path = Path(path)
    if not path.is_file():
        raise InterlinguaError(f"{path}: missing weights file")
    averaged = path.name == f"{AVERAGED}.safetensors"  # made, not trained: it can be made again
    remedy = (f"re-run: interlingua average --model {path.parent.parent}" if averaged else
              "load another checkpoint (--checkpoint latest or a step number) or resume from one")
    if sha256 is not None and file_sha256(path) != sha256:
        raise InterlinguaError(f"{path}: corrupt (its checksum is not the one saved with it); {remedy}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InterlinguaError(f"{path}: corrupt or truncated safetensors file ({exc})"
                               + (f"; {remedy}" if averaged else "")) from None


# ----------------------------------------------------------------------------- the run folder as a whole

# What training writes into a run folder (see the module docstring), and evaluate's default eval.json:
# all that --overwrite may remove. Anything else in the folder is the user's and stays.
RUN_FILES = ("config.json", "run.json", "tokenizer.model", "latest.json", "best.json", "log.jsonl",
             "grad_norms.jsonl", "eval.json", "MODEL.md")


def is_run(folder: Path) -> bool:
    """A run folder has its own markers: config.json and run.json."""
    return (folder / "config.json").is_file() and (folder / "run.json").is_file()


def clear_run(folder: Path) -> None:
    """Remove a run's own files (for --overwrite), and nothing else; refuse a folder that is not a run."""
    if not is_run(folder):
        raise InterlinguaError(f"{folder}: not a run folder (no config.json and run.json), so --overwrite will "
                               f"not empty it; choose a new or empty folder for --out")
    ours = [folder / name for name in RUN_FILES]
    ours += [p for name in RUN_FILES for p in folder.glob(f".{name}.*.tmp")]  # a write cut short
    ours += [folder / f"{name}.tmp" for name in RUN_FILES]  # the same, from before temporary names were unique
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir() and not checkpoints.is_symlink():
        for stem in ("step_*", f"{AVERAGED}.*"):
            ours += list(checkpoints.glob(stem)) + list(checkpoints.glob(f".{stem}.tmp"))
    try:
        for path in ours:
            if path.is_file() or path.is_symlink():
                path.unlink()
        if checkpoints.is_dir() and not checkpoints.is_symlink() and not any(checkpoints.iterdir()):
            checkpoints.rmdir()
    except OSError as exc:
        raise InterlinguaError(f"{folder}: cannot remove the old run ({exc.strerror or exc})") from None


def absolute_corpus(data: Path | str) -> str:
    """The corpus path as run.json records it: absolute, so any working directory finds it
    (a Moses pair 'a.en,a.fr' part by part)."""
    data = str(data)
    parts = data.split(",") if "," in data and not Path(data).exists() else [data]
    return ",".join(str(Path(part).resolve()) for part in parts)


def run_corpus(run: Path) -> Path | None:
    """The corpus ``run`` was trained on (from run.json), or None if none is recorded.

    Runs from before paths were recorded absolute hold one relative to the directory training was
    started in: it is looked for from the working directory, then from the run folder and each folder
    above it; if found nowhere, the path from the working directory is returned (its error names it).
    """
    data = read_json(run / "run.json").get("data")
    if not data:
        return None
    first = data.split(",")[0]
    if Path(first).is_absolute():
        return Path(data)
    for base in [Path.cwd(), *Path(run).resolve().parents, Path(run).resolve()]:
        if (base / first).exists():
            return Path(",".join(str(base / part) for part in data.split(",")))
    return Path(data)


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
    stem = checkpoint_stem(run, step)
    stem.parent.mkdir(parents=True, exist_ok=True)
    sha256 = {"weights": _save_tensors(stem.with_suffix(".safetensors"), model.state_dict(), {"step": str(step)})}
    if optimizer is not None:
        tensors, meta = optimizer_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        sha256["optimizer"] = _save_tensors(Path(f"{stem}.optim.safetensors"), tensors)
        state = {**state, "optimizer": meta}
    write_json(stem.with_suffix(".json"), {**state, "step": step, "sha256": sha256})
    pointer = {"step": step, "weights": f"checkpoints/{stem.name}.safetensors", "metrics": state.get("metrics", {})}
    write_json(run / "latest.json", pointer)  # only after every file it points to is whole
    if best:
        write_json(run / "best.json", pointer)
    _prune(run, keep)


def saved_steps(run: Path) -> list[int]:
    """The steps whose checkpoint is kept in RUN/checkpoints, oldest first."""
    return sorted(int(p.stem[5:]) for p in (Path(run) / "checkpoints").glob("step_*.json"))


def _prune(run: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints plus whatever a pointer names (never the averaged one: not a step)."""
    pinned = {read_json(p)["step"] for p in (run / "latest.json", run / "best.json") if p.exists()}
    for step in saved_steps(run)[:-keep] if keep > 0 else []:
        if step not in pinned:
            stem = checkpoint_stem(run, step)
            for f in stem.parent.glob(f"{stem.name}.*"):
                f.unlink(missing_ok=True)


def resolve_checkpoint(run: Path, which: str = "best") -> Checkpoint:
    """The step named by best.json or latest.json (or a step number), or AVERAGED once `interlingua average`
    has written it."""
    if not run.is_dir():
        raise InterlinguaError(f"{run}: no such run folder")
    if which.isdigit():
        return int(which)
    if which == AVERAGED:
        if not checkpoint_stem(run, AVERAGED).with_suffix(".json").exists():  # written last: the weights are whole
            raise InterlinguaError(f"{run}: no averaged checkpoint (make one: interlingua average --model {run} "
                                   f"--last N)")
        return AVERAGED
    pointer = run / f"{which}.json"
    if not pointer.exists() and which == "best":
        pointer = run / "latest.json"
    if not pointer.exists():
        raise InterlinguaError(f"{run}: not a trained run (no {which}.json; was training started with --out {run}?)")
    step = read_json(pointer).get("step")
    if not isinstance(step, int):
        raise InterlinguaError(f"{pointer}: corrupt pointer (no step)")
    return step


def load_weights(run: Path, step: Checkpoint) -> dict[str, torch.Tensor]:
    """The model weights of one checkpoint, checked against their checksum; not the optimizer (twice their size)."""
    stem = checkpoint_stem(run, step)
    state = read_json(stem.with_suffix(".json")) if stem.with_suffix(".json").exists() else {}
    return load_tensors(stem.with_suffix(".safetensors"), state.get("sha256", {}).get("weights"))


def load_checkpoint(run: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, dict]:
    """(weights, optimizer tensors or None, state) of one checkpoint, each file checked against its checksum
    (checkpoints from before checksums were saved are loaded unchecked)."""
    stem = checkpoint_stem(run, step)
    state = read_json(stem.with_suffix(".json"))
    sha256 = state.get("sha256", {})
    weights = load_tensors(stem.with_suffix(".safetensors"), sha256.get("weights"))
    optim_path = Path(f"{stem}.optim.safetensors")
    optim = load_tensors(optim_path, sha256.get("optimizer")) if optim_path.exists() else None
    return weights, optim, state


# ----------------------------------------------------------------------------- averaging

def average_checkpoints(run: Path, last: int | None = None, steps: Sequence[int] = ()) -> list[int]:
    """Write RUN/checkpoints/averaged.safetensors, the element-wise mean in fp32 of the model weights of the
    ``last`` kept checkpoints or of the given ``steps``, and return the steps averaged (which its .json records).

    Every command loads it with --checkpoint averaged. latest.json and best.json stay where they are: resume goes
    on from the last real step with its optimizer, and best names a checkpoint that dev measured. Pruning never
    removes it; a later `average` replaces it.
    """
    run = Path(run)
    if not run.is_dir():
        raise InterlinguaError(f"{run}: no such run folder")
    if not is_run(run):
        raise InterlinguaError(f"{run}: not a run folder (no config.json and run.json)")
    kept = saved_steps(run)
    listed = ", ".join(map(str, kept)) or "none"
    if last is not None:
        newest, pinned = _newest_saves(run, kept)
        if last > len(newest):
            older = (f"; step {pinned} is older, kept only because best.json names it (name it with --steps "
                     f"to average it too)") if pinned is not None else ""
            raise InterlinguaError(f"{run}: cannot average the last {last} checkpoints, only {len(newest)} are "
                                   f"kept (steps {', '.join(map(str, newest)) or 'none'}){older}; train with "
                                   f"keep_checkpoints={last} or more")
        steps = newest[-last:] if last > 0 else []
    steps = sorted(set(steps))
    if missing := [step for step in steps if step not in kept]:
        raise InterlinguaError(f"{run}: no checkpoint of step {', '.join(map(str, missing))} (kept: {listed})")
    if len(steps) < 2:
        raise InterlinguaError(f"{run}: averaging needs at least two checkpoints, got {len(steps)}")
    total: dict[str, torch.Tensor] = {}
    for step in steps:
        weights = load_weights(run, step)
        if step != steps[0]:
            _check_same_tensors(checkpoint_stem(run, step), weights, total, steps[0])
        for name, tensor in weights.items():
            total[name] = total[name] + tensor.float() if name in total else tensor.float()
    stem = checkpoint_stem(run, AVERAGED)
    stem.with_suffix(".json").unlink(missing_ok=True)  # until the new one is whole, there is no averaged checkpoint
    sha256 = _save_tensors(stem.with_suffix(".safetensors"), {name: t / len(steps) for name, t in total.items()},
                           {"averaged_steps": ",".join(map(str, steps))})
    write_json(stem.with_suffix(".json"), {"averaged_steps": steps, "sha256": {"weights": sha256}})
    return steps


def _newest_saves(run: Path, kept: list[int]) -> tuple[list[int], int | None]:
    """(the kept steps that are the newest saves, a step kept only because best.json pins it or None).

    Pruning keeps the newest keep_checkpoints saves plus the pinned steps, so an old best is the oldest kept
    step with a gap (pruned saves) after it: averaging it with the last saves is not "the last N". A resumed
    run may keep more than config.json says; then the oldest is left out too, and --steps names it."""
    keep = read_run_config(run).train.keep_checkpoints
    best = read_json(run / "best.json").get("step") if (run / "best.json").exists() else None
    if keep > 0 and len(kept) > keep and kept[0] == best:
        return kept[1:], best
    return kept, None


def _check_same_tensors(stem: Path, weights: dict[str, torch.Tensor], first: dict[str, torch.Tensor],
                        first_step: int) -> None:
    """An error naming the first difference unless ``weights`` has the names and shapes of step ``first_step``'s."""
    path = f"{stem}.safetensors"
    if weights.keys() != first.keys():
        odd = sorted(weights.keys() ^ first.keys())
        raise InterlinguaError(f"{path}: not the same tensors as step {first_step} ({', '.join(odd[:3])}"
                               f"{', ...' if len(odd) > 3 else ''} in one only): checkpoints of different models "
                               f"cannot be averaged")
    for name, tensor in weights.items():
        if tensor.shape != first[name].shape:
            raise InterlinguaError(f"{path}: {name} is {tuple(tensor.shape)}, {tuple(first[name].shape)} at step "
                                   f"{first_step}: checkpoints of different models cannot be averaged")


def read_run_config(run: Path) -> RunConfig:
    """A run folder's resolved config, or one line saying why the folder is not a run."""
    if not run.exists():
        raise InterlinguaError(f"{run}: no such run folder")
    if not (run / "config.json").exists():
        raise InterlinguaError(f"{run}: not a run folder (no config.json)")
    return RunConfig.from_dict(read_json(run / "config.json"), str(run / "config.json"))


def load_model(run: Path, config: RunConfig, step: Checkpoint):
    """The run's model with the weights of checkpoint ``step``, in eval mode, on the CPU."""
    from .model import Interlingua
    model = Interlingua(config.model)
    try:
        model.load_state_dict(load_weights(run, step))
    except RuntimeError as exc:
        raise InterlinguaError(f"{run}: weights do not match the config ({str(exc).splitlines()[0]})") from None
    return model.eval()
