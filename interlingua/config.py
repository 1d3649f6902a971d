"""Configuration: two dataclasses, YAML presets, and `key=value` overrides from the command line.

One place defines every option. Presets in ``interlingua/configs/*.yaml`` are data that fill these
dataclasses; unknown keys are reported all at once with the valid choices.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InterlinguaError

PRESET_DIR = Path(__file__).parent / "configs"


@dataclass
class ModelConfig:
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    encoder_layers: int = 4
    decoder_layers: int = 4
    bridge_queries: int = 16   # k: the thought is a (k, d_model) matrix; 0: no bridge, the decoder reads every state
    bridge_layers: int = 1
    dropout: float = 0.1
    max_positions: int = 256
    norm: str = "pre"          # pre: x + f(norm(x)) (stable at any depth) | post: norm(x + f(x)) (Vaswani, Marian)
    encoder_no_residual: int = -1  # this encoder layer's (0-based) self-attention has no residual (Liu et al. 2021); -1: none
    init_std: float = 0.0      # 0: Xavier-uniform matrices, embeddings N(0, 1/d) | > 0: N(0, init_std) for both (Marian, BART: 0.02)
    target_languages: list[str] = field(default_factory=list)  # filled from the data: the decoder's language table
    language_adversary: bool = False  # set when train.adversary_weight > 0: a training-only language classifier
    memory: bool = False       # the decoder also reads a translation memory's match (memory.py), by its own path
    memory_copy: bool = False  # with memory: a learned gate may copy the match's tokens outright (pointer-generator)


@dataclass
class TrainConfig:
    seed: int = 1234
    languages: list[str] = field(default_factory=list)  # empty: the `max_languages` largest of the corpus
    max_languages: int = 8
    directions: str = "en-centric"  # "en-centric" | "all" | "en-fr,fr-en,..."
    max_tokens: int = 4000          # padded tokens per batch (the longer side)
    max_len: int = 64               # subword tokens per sentence; longer ones are truncated
    lr: float = 7e-4
    warmup_steps: int = 800
    lr_schedule: str = "inverse_sqrt"  # inverse_sqrt | cosine (to zero over max_steps / max_minutes)
    lr_cooldown: float = 0.0        # last share of the budget over which the rate falls linearly to zero (0 = none)
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    align_weight: float = 0.0       # weight of the contrastive thought-alignment loss (0 = off)
    align_temperature: float = 0.05
    adversary_weight: float = 0.0   # a language classifier on the thought the encoder learns to confuse (0 = off)
    max_steps: int = 0              # 0: no step limit
    max_minutes: float = 0.0        # 0: no time limit
    log_every: int = 50
    eval_every: int = 500
    eval_sentences: int = 100       # per direction sample for dev chrF
    keep_checkpoints: int = 2
    save_every_minutes: float = 10.0  # also save (without evaluating) this often, whatever eval_every is; 0: off
    tokenizer_sample: int = 300_000  # sentences the tokenizer is trained on
    tokenizer_temperature: float = 5.0  # language sampling p ~ n^(1/T): small languages not drowned
    threads: int = 0                # 0: torch's default
    stream: bool = False            # read the training split as a stream of JSONL shards (corpora > memory)
    stream_buffer: int = 100_000    # with stream: examples shuffled and bucketed together (the memory bound)
    precision: str = "auto"         # auto | fp32 | bf16 (autocast); auto: bf16 where it is measured faster
    mask_placeholders: bool = True  # placeholders become indexed mask pieces in training and translation
    memory_min_score: float = 50.0  # with model.memory: a match below this fuzzy ratio (0-100) is no match
    memory_drop: float = 0.2        # with model.memory: the share of training matches withheld, so that the
                                    # model learns to translate with none too


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "RunConfig":
        """A saved config (a run's config.json): a setting it lacks takes the value its run was trained with."""
        config = cls()
        given = set(_flatten(data))
        for dotted, value in SAVED_BEFORE.items():
            if dotted not in given and dotted.partition(".")[2] not in given:
                section, _, name = dotted.partition(".")
                setattr(_sections(config)[section], name, value)
        errors = apply_settings(config, data, source)
        errors += [] if errors else value_problems(config, source)
        if errors:
            raise InterlinguaError("; ".join(errors))
        return config


# Settings added after runs were saved without them, and the value that reproduces those runs: a
# config.json with no train.mask_placeholders was trained (and must translate) without masks.
SAVED_BEFORE = {"train.mask_placeholders": False}


def _sections(config: RunConfig) -> dict[str, Any]:
    return {"model": config.model, "train": config.train}


def _flatten(data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"model": {"d_model": 8}}`` and ``{"model.d_model": 8}`` alike as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in ("model", "train") and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Convert a YAML or command-line value to the type of the field's default."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
            return value.lower() in {"true", "1", "yes"}
        if isinstance(value, bool):
            return value
    elif isinstance(default, int) and not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()):
            return int(value)
    elif isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    elif isinstance(default, list):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return [str(v) for v in value]
    elif isinstance(default, str):
        return str(value)
    raise ValueError(f"{key}: expected {type(default).__name__}, got {value!r}")


# Settings that take one of a few words: a typo is an error, not a silent default.
CHOICES = {"train.precision": ("auto", "fp32", "bf16"), "train.lr_schedule": ("inverse_sqrt", "cosine")}


def apply_settings(config: RunConfig, data: dict[str, Any], source: str) -> list[str]:
    """Set ``{"model": {...}, "train": {...}}`` (or flat dotted keys) on config; return every problem found."""
    errors: list[str] = []
    sections = _sections(config)
    for dotted, value in _flatten(data).items():
        section_name, _, name = dotted.partition(".")
        if not name:  # a bare key: find the one section that has it
            owners = [s for s, obj in sections.items() if hasattr(obj, dotted)]
            section_name, name = (owners[0], dotted) if len(owners) == 1 else ("", dotted)
        section = sections.get(section_name)
        if section is None or not hasattr(section, name):
            valid = ", ".join(f"{s}.{f.name}" for s, obj in sections.items() for f in dataclasses.fields(obj))
            errors.append(f"{source}: unknown key '{dotted}' (valid keys: {valid})")
            continue
        try:
            value = _coerce(value, getattr(section, name), dotted)
        except ValueError as exc:
            errors.append(f"{source}: {exc}")
            continue
        choices = CHOICES.get(f"{section_name}.{name}")
        if choices and value not in choices:
            errors.append(f"{source}: {section_name}.{name} must be one of {', '.join(choices)}, got {value!r}")
            continue
        setattr(section, name, value)
    return errors


# The range of every numeric setting, checked in one pass with the rest of the config's problems:
# a value out of range is named with its rule, not found later as a tensor error deep in training.
AT_LEAST_1 = ("model.vocab_size", "model.d_model", "model.n_heads", "model.d_ff", "model.encoder_layers",
              "model.decoder_layers", "model.bridge_layers", "model.max_positions", "train.max_languages",
              "train.max_tokens", "train.max_len", "train.log_every", "train.eval_every", "train.eval_sentences",
              "train.keep_checkpoints", "train.tokenizer_sample", "train.stream_buffer")
AT_LEAST_0 = ("model.bridge_queries", "model.init_std", "train.warmup_steps", "train.weight_decay", "train.align_weight",
              "train.adversary_weight", "train.max_steps", "train.max_minutes", "train.save_every_minutes",
              "train.threads")
ABOVE_0 = ("train.lr", "train.clip_norm", "train.align_temperature", "train.tokenizer_temperature")
FRACTION = ("model.dropout", "train.label_smoothing", "train.memory_drop", "train.lr_cooldown")  # 0 <= x < 1


def value_problems(config: RunConfig, source: str = "config") -> list[str]:
    """Every setting whose value is out of its range, or that contradicts another."""
    values = {f"{name}.{key}": value for name, section in _sections(config).items()
              for key, value in dataclasses.asdict(section).items()}
    rules = ([(k, values[k] >= 1, "at least 1") for k in AT_LEAST_1]
             + [(k, values[k] >= 0, "at least 0") for k in AT_LEAST_0]
             + [(k, values[k] > 0, "above 0") for k in ABOVE_0]
             + [(k, 0 <= values[k] < 1, "at least 0 and below 1") for k in FRACTION])
    problems = [f"{source}: {key} must be {rule}, got {values[key]!r}" for key, ok, rule in rules if not ok]
    m, t = config.model, config.train
    if m.d_model >= 1 and m.n_heads >= 1 and m.d_model % m.n_heads:
        problems.append(f"{source}: model.n_heads ({m.n_heads}) must divide model.d_model ({m.d_model})")
    if t.adversary_weight > 0 and m.bridge_queries == 0:
        problems.append(f"{source}: train.adversary_weight needs a bridge (model.bridge_queries > 0): its "
                        f"classifier reads the fixed-size thought")
    if not 0 < t.memory_min_score <= 100:
        problems.append(f"{source}: train.memory_min_score must be above 0 and at most 100, got {t.memory_min_score!r}")
    if m.memory and t.stream:
        problems.append(f"{source}: model.memory needs the training split in memory (train.stream=false): a match "
                        f"is searched among all training rows")
    if m.memory_copy and not m.memory:
        problems.append(f"{source}: model.memory_copy copies from the memory's match: it needs model.memory=true")
    if not -1 <= m.encoder_no_residual < m.encoder_layers:
        problems.append(f"{source}: model.encoder_no_residual must be -1 (none) or an encoder layer's index, 0 to "
                        f"{m.encoder_layers - 1} (model.encoder_layers={m.encoder_layers}), got {m.encoder_no_residual}")
    if m.norm not in ("pre", "post"):
        problems.append(f"{source}: model.norm must be 'pre' or 'post', not '{m.norm}'")
    if t.lr_schedule == "cosine" and not (t.max_steps or t.max_minutes):
        problems.append(f"{source}: train.lr_schedule=cosine decays over the run's budget: set train.max_steps "
                        f"or train.max_minutes")
    if t.lr_cooldown and not (t.max_steps or t.max_minutes):
        problems.append(f"{source}: train.lr_cooldown ends the rate with the run's budget: set train.max_steps "
                        f"or train.max_minutes")
    return problems


def apply_overrides(config: RunConfig, overrides: list[str]) -> list[str]:
    """Set the command line's ``key=value`` items on config; return every problem found."""
    errors: list[str] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            errors.append(f"override '{item}': expected key=value")
            continue
        errors += apply_settings(config, {key.strip(): value.strip()}, "command line")
    return errors


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_config(preset_or_path: str | None = None, overrides: list[str] | None = None) -> RunConfig:
    """A preset name (``tiny``) or a YAML file, then ``key=value`` overrides; all problems reported at once."""
    config = RunConfig()
    errors: list[str] = []
    if preset_or_path:
        path = Path(preset_or_path)
        if not path.suffix and (PRESET_DIR / f"{preset_or_path}.yaml").exists():
            path = PRESET_DIR / f"{preset_or_path}.yaml"
        if not path.exists():
            raise InterlinguaError(f"{preset_or_path}: no such config file or preset (presets: {', '.join(presets())})")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InterlinguaError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
        except OSError as exc:  # a folder, no permission
            raise InterlinguaError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
        if not isinstance(data, dict):
            raise InterlinguaError(f"{path}: expected a mapping of keys to values")
        errors += apply_settings(config, data, str(path))
    errors += apply_overrides(config, overrides or [])
    if not errors:
        errors += value_problems(config, str(preset_or_path or "config") + (" with the command line" * bool(overrides)))
    if errors:
        raise InterlinguaError("; ".join(errors))
    return config


def save_json(config: RunConfig) -> str:
    return json.dumps(config.to_dict(), indent=2)
