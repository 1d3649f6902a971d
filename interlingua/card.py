"""A run's card: what the model is, what it learned from, and how it measured.

    interlingua info --model RUN          # the card, as text (or --json)
    RUN/MODEL.md                          # the same, rewritten at every checkpoint and after `evaluate`

Everything comes from the run folder's own files (config.json, run.json, latest.json, the
checkpoint's JSON, eval.json), so the card of a model someone hands you needs no corpus.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .checkpoint import checkpoint_label, checkpoint_stem, is_run
from .files import atomic_write_text, read_json
from .errors import InterlinguaError


def _parameters(config: dict[str, Any]) -> int:
    """The model's parameter count, from its config alone (built on the meta device: no memory, no time)."""
    import torch
    from .config import RunConfig
    from .model import Interlingua
    with torch.device("meta"):
        return Interlingua(RunConfig.from_dict(config).model).num_parameters()


def model_card(run: Path | str) -> dict[str, Any]:
    run = Path(run)
    if not is_run(run):
        raise InterlinguaError(f"{run}: not a run folder (no config.json and run.json)")
    config, info = read_json(run / "config.json"), read_json(run / "run.json")
    model = config["model"]
    card: dict[str, Any] = {
        "run": str(run),
        "languages": info["languages"],
        "trained_directions": info["trained_directions"],
        "architecture": {key: model[key] for key in ("d_model", "n_heads", "d_ff", "encoder_layers",
                                                       "decoder_layers", "bridge_queries", "vocab_size")},
        "parameters": _parameters(config),
        "corpus": info.get("data"),
        "train_meanings": info.get("train_meanings"),
        "interlingua_version": info.get("interlingua_version"),
    }
    if (run / "latest.json").exists():
        latest = read_json(run / "latest.json")
        state_path = checkpoint_stem(run, latest["step"]).with_suffix(".json")
        state = read_json(state_path) if state_path.exists() else {}
        card["steps"] = latest["step"]
        card["training_minutes"] = round(state.get("elapsed_seconds", 0.0) / 60, 1)
        card["dev"] = {k: v for k, v in latest.get("metrics", {}).items() if k != "step"}
    if (run / "eval.json").exists():
        result = read_json(run / "eval.json")
        card["evaluation"] = {"data": result.get("data"), "step": result.get("step"), **result.get("summary", {})}
    return card


def _figure(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def card_text(card: dict[str, Any]) -> str:
    """The card as Markdown (also plain enough for a terminal)."""
    a = card["architecture"]
    bridge = f"a bridge of k = {a['bridge_queries']}" if a["bridge_queries"] else "no bridge"
    lines = [f"# Model card: {card['run']}", "",
             f"- languages: {', '.join(card['languages'])}",
             f"- trained directions: {', '.join(card['trained_directions'])} (every other pair is zero-shot)",
             f"- model: d {a['d_model']}, {a['encoder_layers']}+{a['decoder_layers']} layers, FFN {a['d_ff']}, "
             f"{a['n_heads']} heads, {bridge}, vocabulary {a['vocab_size']}; {card['parameters'] / 1e6:.2f}M parameters",
             f"- corpus: {card['corpus']} ({card['train_meanings']} training meanings)"]
    if "steps" in card:
        lines.append(f"- trained: {card['steps']} steps, {card['training_minutes']} minutes")
    if card.get("dev"):
        lines.append("- dev at the last checkpoint: " + ", ".join(f"{k} {_figure(v)}" for k, v in card["dev"].items()))
    evaluation = card.get("evaluation")
    if evaluation:
        keys = ("supervised_chrf", "zero_shot_chrf", "pivot_chrf", "xsim_error", "placeholder_kept", "tm_chrf")
        figures = ", ".join(f"{k} {_figure(evaluation[k])}" for k in keys if k in evaluation)
        label = checkpoint_label(card["run"], evaluation["step"]) if evaluation.get("step") is not None else "step ?"
        lines.append(f"- evaluated ({label}, {evaluation.get('data')}): {figures}")
    else:
        lines.append(f"- not evaluated yet: interlingua evaluate --model {card['run']}")
    lines.append(f"- interlingua {card['interlingua_version']}")
    return "\n".join(lines) + "\n"


def write_card(run: Path | str) -> Path:
    """(Re)write RUN/MODEL.md from the run's files."""
    path = Path(run) / "MODEL.md"
    atomic_write_text(path, card_text(model_card(run)))
    return path
