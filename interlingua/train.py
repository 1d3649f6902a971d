"""The training recipe: corpus -> tokenizer -> batches -> model -> checkpoints, in one readable loop.

    interlingua train --data corpus.jsonl --out runs/base --config base [key=value ...]

Objective: label-smoothed cross-entropy of the target given the thought, plus (when
``align_weight > 0``) a contrastive loss that pulls together the thoughts of two translations of
the same meaning, and (``adversary_weight > 0``) a language adversary; the losses themselves are the
library's (losses.py), as are the hardware probes (hardware.py) and the optimizer's groups (model.py). Every ``log_every`` steps: loss, tokens/s, MFU and each layer's gradient norm.
Every ``eval_every`` steps: dev loss and chrF, a checkpoint, and best.json if chrF improved.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import shlex
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from . import __version__
from .card import write_card
from .checkpoint import (absolute_corpus, clear_run, is_run, load_checkpoint, resolve_checkpoint, restore_optimizer,
                         save_checkpoint)
from . import distributed
from .config import RunConfig, TrainConfig, apply_overrides, value_problems
from .corpus.split import load_split, stream_dev_rows, train_shards
from .data import (Batch, CorpusInMemory, CorpusStream, DirectionDataset, MemorySettings, choose_languages,
                   iterate_batches, parse_directions, stream_resume_position)
from .errors import InterlinguaError, Interrupted
from .files import read_json, write_json
from .hardware import choose_precision, measure_matmul_flops
from .losses import adversary_loss, alignment_loss, output_layer_loss, translation_loss
from .model import Interlingua
from .tokenizer import PAD, Tokenizer, train_tokenizer

log = logging.getLogger("interlingua.train")


# ----------------------------------------------------------------------------- pieces of a step

class Objective(nn.Module):
    """The training loss as one module, so DDP sees every parameter use inside a single forward."""

    def __init__(self, model: Interlingua, config: TrainConfig):
        super().__init__()
        self.model, self.config = model, config

    def forward(self, batch: Batch) -> torch.Tensor:
        c = self.config
        model = self.model
        thought = model.encode(batch.src)
        state = model.start_decoding(thought, batch.lang, match=batch.match)
        hidden = model.decode(batch.tgt_in, state, use_cache=False, logits=False)
        # the output layer (and the copy gate's mixture, when there is one) and the loss, chunk by chunk
        loss = output_layer_loss(hidden, model.embed.weight, batch.tgt_out, c.label_smoothing,
                                 pointer=model.copy_pointer(hidden, state))
        if c.align_weight > 0 or c.adversary_weight > 0:
            # tgt_out (target + EOS) is exactly how a sentence is fed to the encoder as a source,
            # and its language is known: batch.lang.
            target_thought = self.model.encode(batch.tgt_out)
        if c.align_weight > 0:
            loss = loss + c.align_weight * alignment_loss(thought, target_thought, batch.meaning, c.align_temperature)
        if c.adversary_weight > 0:
            loss = loss + adversary_loss(self.model, target_thought, batch.lang, c.adversary_weight)
        return loss


def layer_gradient_norms(model: Interlingua) -> dict[str, float]:
    """L2 norm of the gradient of each layer (embeddings, encoder.i, bridge, decoder.i, ...)."""
    squares: dict[str, float] = {}
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] in ("encoder", "decoder") else parts[0]
        squares[group] = squares.get(group, 0.0) + float(param.grad.detach().pow(2).sum())
    return {k: math.sqrt(v) for k, v in squares.items()}


def learning_rate(step: int, peak: float, warmup: int, schedule: str = "inverse_sqrt", progress: float = 0.0,
                  cooldown: float = 0.0) -> float:
    """Linear warm-up, then inverse square-root decay (Vaswani et al.), or, for a run of known length,
    cosine decay to zero over ``progress`` (the share of the budget done, 0..1), which spends a short
    budget at a high rate and still ends annealed. ``cooldown`` > 0 takes the rate linearly to zero
    over that last share of the budget (warmup-stable-decay; Hägele et al. 2024): the run keeps its
    schedule's rate until then and still ends annealed."""
    step = max(step, 1)
    if schedule == "cosine":
        rate = peak * min(step / max(1, warmup), 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
    else:
        rate = peak * min(step / max(1, warmup), math.sqrt(max(1, warmup) / step))
    return rate * min(1.0, max(0.0, 1.0 - progress) / cooldown) if cooldown else rate


def budget_done(step: int, elapsed_seconds: float, config: TrainConfig) -> float:
    """The share of the run's budget spent: of its steps or of its minutes, whichever runs out first."""
    shares = ([step / config.max_steps] if config.max_steps else []) + \
             ([elapsed_seconds / (60 * config.max_minutes)] if config.max_minutes else [])
    return max(shares, default=0.0)


def warn_if_cooldown_undone(saved: TrainConfig, t: TrainConfig, step: int, elapsed_seconds: float) -> None:
    """A warning when a run resumed inside its cool-down gets a larger budget: its rate jumps back up."""
    done = budget_done(step, elapsed_seconds, saved)
    if not saved.lr_cooldown or done <= 1 - saved.lr_cooldown:
        return
    was = learning_rate(step + 1, saved.lr, saved.warmup_steps, saved.lr_schedule, done, saved.lr_cooldown)
    now = learning_rate(step + 1, t.lr, t.warmup_steps, t.lr_schedule, budget_done(step, elapsed_seconds, t),
                        t.lr_cooldown)
    if now > was * 1.01:
        log.warning("warning: step %d was %.0f%% through its budget, inside lr_cooldown=%g: with these settings "
                    "the learning rate jumps from %.2e back up to %.2e (to train longer, resume a copy of the run "
                    "whose latest.json names a checkpoint from before the cool-down: docs/training.md)",
                    step, 100 * done, saved.lr_cooldown, was, now)


# ----------------------------------------------------------------------------- set-up of a run

@dataclass
class Run:
    folder: Path
    config: RunConfig
    tokenizer: Tokenizer
    languages: list[str]
    directions: list[tuple[str, str]]


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse an --out this run must not write into, before any work (reading the corpus, splitting it) is done."""
    if resume:
        if not (out / "config.json").exists():
            raise InterlinguaError(f"{out}: nothing to resume (no config.json)")
    elif out.is_dir() and any(out.iterdir()):
        if not is_run(out):  # --resume and --overwrite are for runs: the message must not offer them here
            raise InterlinguaError(f"{out}: not a run folder and not empty; choose a new or empty folder for --out")
        if not overwrite:
            raise InterlinguaError(f"{out}: run folder exists; use --resume to continue it or --overwrite to replace it")
    elif out.exists() and not out.is_dir():
        raise InterlinguaError(f"{out}: is a file, not a run folder")


def resume_config(out: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """The config a stopped run goes on with: its own config.json, with the command line's ``key=value`` items
    (e.g. a longer max_minutes) on top; a malformed item is an error here too, never dropped."""
    path = Path(out) / "config.json"
    if not path.exists():
        raise InterlinguaError(f"{out}: nothing to resume (no config.json)")
    config = RunConfig.from_dict(read_json(path), str(path))
    errors = apply_overrides(config, list(overrides))
    if errors:
        raise InterlinguaError("; ".join(errors))
    return config


def was_stopped(out: Path | str) -> bool:
    """A run that began and did not end (Ctrl-C, a kill): its config is written, but it has no checkpoint yet or
    its latest is a safety copy (``partial``: saved on time or on a signal, not evaluated). Such a run goes on
    with ``train(..., resume_config(out), resume=True)``."""
    out = Path(out)
    latest = out / "latest.json"
    if not (out / "config.json").exists():
        return False
    return not latest.exists() or bool(read_json(latest)["metrics"].get("partial"))


def prepare_run(data: Path, out: Path, config: RunConfig, resume: bool, overwrite: bool,
                corpus: CorpusInMemory | CorpusStream) -> Run:
    """Create (or reopen, for --resume) the run folder: config, tokenizer, languages, directions."""
    check_run_folder(out, resume, overwrite)
    if resume:
        # The architecture is the run's own; only training settings may change on resume.
        saved_config = resume_config(out)
        config.model = saved_config.model
        # the tokenizer was trained with or without the masks: the run keeps what it started with
        config.train.mask_placeholders = saved_config.train.mask_placeholders
        if config.train.precision == "auto":  # the precision the run chose when it started, on every rank
            chosen = saved_config.train.precision  # (runs from before the choice was saved trained in fp32)
            config.train.precision = "fp32" if chosen == "auto" else chosen
        saved = read_json(out / "run.json")
        return Run(out, config, Tokenizer(out / "tokenizer.model"), saved["languages"],
                   [tuple(d.split(">")) for d in saved["trained_directions"]])
    if out.is_dir() and any(out.iterdir()):  # a run, and --overwrite (check_run_folder refused the rest)
        clear_run(out)  # only the run's own files: anything else beside them is the user's
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterlinguaError(f"{out}: cannot create the run folder ({exc.strerror})") from None
    t = config.train
    counts, meanings = corpus.counts()
    languages = choose_languages(counts, t.languages, t.max_languages)
    directions = parse_directions(t.directions, languages)
    log.info("languages: %s; %d directions (%s)", ", ".join(languages), len(directions), t.directions)
    sample = corpus.tokenizer_sample(languages, t.tokenizer_sample, t.tokenizer_temperature, t.seed)
    tokenizer = train_tokenizer(sample, out / "tokenizer.model", config.model.vocab_size, seed=t.seed,
                                masks=t.mask_placeholders)
    config.model.vocab_size = tokenizer.vocab_size  # a tiny corpus may support fewer pieces than asked
    config.model.target_languages = languages
    config.model.language_adversary = t.adversary_weight > 0
    write_json(out / "config.json", config.to_dict())
    write_json(out / "run.json", {
        "interlingua_version": __version__, "data": absolute_corpus(data), "languages": languages,
        "trained_directions": [f"{s}>{t_}" for s, t_ in directions],
        "train_meanings": meanings, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return Run(out, config, tokenizer, languages, directions)


# ----------------------------------------------------------------------------- evaluation on dev

@torch.no_grad()
def dev_loss(model: Interlingua, dev: DirectionDataset, config: RunConfig, lang_ids: dict[str, int],
             max_examples: int = 2000) -> float:
    model.eval()
    total, tokens = 0.0, 0
    batches = dev.epoch_batches(0, config.train.seed, config.train.max_tokens)
    seen = 0
    for examples in batches:
        if seen >= max_examples:
            break
        batch = dev.make_batch(examples, lang_ids)
        logits, _ = model(batch.src, batch.tgt_in, batch.lang, match=batch.match)
        n = batch.target_tokens
        total += float(translation_loss(logits, batch.tgt_out, 0.0)) * n
        tokens += n
        seen += len(examples)
    model.train()
    return total / max(1, tokens)


def dev_chrf(model: Interlingua, tokenizer: Tokenizer, run: Run, dev_rows: list[dict[str, str]],
             memory: MemorySettings | None = None) -> dict[str, float]:
    """chrF on a sample of dev rows: mean over trained directions, and over a few zero-shot ones."""
    from .api import Translator
    translator = Translator(model, tokenizer, run.config)
    translator.memory = memory.memory if memory is not None else None
    scores = dev_chrf_of(translator.translate, run.languages, run.directions, dev_rows, run.config.train.eval_sentences)
    model.train()
    return scores


def dev_chrf_of(translate, languages: list[str], directions: list[tuple[str, str]], dev_rows: list[dict[str, str]],
                sentences: int) -> dict[str, float]:
    """The dev chrF of any system: ``translate(texts, to=lang) -> list[str]``, on the first ``sentences`` dev
    rows of each trained direction and of the first two zero-shot ones (bench/peer_curve.py scores HF Marian
    on exactly the rows and directions a run is scored on)."""
    from .evaluate.metrics import chrf
    trained = set(directions)
    zero_shot = [(s, t) for s in languages for t in languages if s != t and (s, t) not in trained][:2]
    scores: dict[str, list[float]] = {"chrf": [], "zero_shot_chrf": []}
    for key, pairs in (("chrf", directions), ("zero_shot_chrf", zero_shot)):
        for src, tgt in pairs:
            rows = [r for r in dev_rows if src in r and tgt in r][:sentences]
            if rows:
                hyps = translate([r[src] for r in rows], to=tgt)
                scores[key].append(chrf(hyps, [r[tgt] for r in rows]))
    return {k: sum(v) / len(v) for k, v in scores.items() if v}


# ----------------------------------------------------------------------------- the loop

class StopOnSignal:
    """While training: SIGINT (Ctrl-C) or SIGTERM asks the loop to finish its step, save and stop.

    A second signal of the same kind acts as it would without this (Ctrl-C: abort at once, unsaved).
    Handlers can only be set from the main thread; elsewhere (a notebook's worker thread) this is a no-op.
    """

    class StopNow(Exception):
        """Raised out of a ``promptly`` block by the first signal."""

    def __init__(self):
        self.signal: int | None = None
        self._previous: dict[int, object] = {}
        self._promptly = False

    @contextmanager
    def promptly(self) -> Iterator[None]:
        """Within this block the first signal stops the work at once (StopNow): for work that can be done
        again later, such as an evaluation, never for a checkpoint being written."""
        if self.signal is not None:  # it came during the step before: nothing to start
            raise self.StopNow
        self._promptly = True
        try:
            yield
        finally:
            self._promptly = False

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, frame) -> None:
        self.signal = number
        signal.signal(number, self._previous[number])
        log.warning("%s: finishing this step, then saving a checkpoint (send it again to stop without saving)",
                    signal.Signals(number).name)
        if self._promptly:
            self._promptly = False
            raise self.StopNow

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def train(data: Path | str, out: Path | str, config: RunConfig, *, resume: bool = False,
          overwrite: bool = False) -> Path:
    # The run settles some settings (vocabulary size, languages, precision, a resumed run's architecture)
    # in its own copy: the caller's config stays as it was given, ready for another run.
    config = copy.deepcopy(config)
    data, out, t = Path(data), Path(out), config.train
    problems = value_problems(config)  # the Python API's configs too, not only the CLI's
    if problems:
        raise InterlinguaError("; ".join(problems))
    check_run_folder(out, resume, overwrite)
    ctx = distributed.setup()  # one process, or one rank of a torchrun job
    if not ctx.is_main:
        logging.getLogger("interlingua").setLevel(logging.WARNING)  # one log, from rank 0
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed + ctx.rank)
    if t.stream:
        corpus: CorpusInMemory | CorpusStream = CorpusStream(train_shards(data), t.stream_buffer)
        dev_rows = stream_dev_rows(data)
    else:
        train_rows = load_split(data, "train")
        if not train_rows:
            raise InterlinguaError(f"{data}: the training split is empty")
        corpus, dev_rows = CorpusInMemory(train_rows), load_split(data, "dev")
    if ctx.is_main and not resume:  # decided once, saved in config.json: a resumed run keeps it
        t.precision = choose_precision(t.precision, ctx.device, config.model, t.max_tokens)
    # Rank 0 makes the run folder and tokenizer; the other ranks then read them back.
    run = prepare_run(data, out, config, resume, overwrite, corpus) if ctx.is_main else None
    distributed.barrier(ctx)
    run = run or prepare_run(data, out, config, True, False, corpus)
    memory = None
    if config.model.memory:  # the training split is the memory: found once, cached beside its file
        from .corpus.split import split_path
        from .memory import TranslationMemory
        sibling = split_path(data, "train")
        memory = MemorySettings(TranslationMemory(corpus.rows, sibling if sibling.is_file() else data),
                                t.memory_min_score, t.memory_drop, t.seed)
    dataset = corpus.dataset(run.tokenizer, run.languages, run.directions, t.max_len, t.mask_placeholders, memory)
    dev_memory = MemorySettings(memory.memory, t.memory_min_score) if memory is not None else None  # nothing withheld
    dev = (DirectionDataset(dev_rows, run.tokenizer, run.languages, run.directions, t.max_len, t.mask_placeholders,
                            dev_memory) if dev_rows else None)
    if isinstance(dataset, DirectionDataset):
        log.info("%d training examples over %d directions", len(dataset), len(run.directions))
    else:
        log.info("streaming %d file(s), %d examples shuffled together, over %d directions",
                 len(corpus.shards), t.stream_buffer, len(run.directions))

    if t.adversary_weight > 0 and not config.model.language_adversary:
        raise InterlinguaError(f"{out}: adversary_weight needs a run started with it (this one has no language "
                               f"adversary)")
    model = Interlingua(config.model).to(ctx.device)
    optimizer = model.configure_optimizer(t.lr, t.weight_decay)
    lang_ids = {lang: i for i, lang in enumerate(config.model.target_languages)}
    step, epoch, position, elapsed, best_chrf, evaluated = 0, 0, 0, 0.0, -1.0, True
    if resume and not (out / "latest.json").exists():  # stopped before its first checkpoint: same on every rank
        log.info("%s has no checkpoint yet: starting from step 0 with its tokenizer and config", out)
    elif resume:
        step = resolve_checkpoint(out, "latest")
        weights, optim, state = load_checkpoint(out, step)
        model.load_state_dict(weights)
        restore_optimizer(optimizer, optim, state["optimizer"])
        torch.set_rng_state(optim["rng.torch"])
        epoch, position, elapsed = state["epoch"], state["position"], state["elapsed_seconds"]
        if t.stream:  # a streamed rank's place is in its own share of the data
            epoch, position = stream_resume_position(state, ctx.rank, ctx.world)
        best_chrf = state.get("best_chrf", -1.0)
        evaluated = not state.get("metrics", {}).get("partial")  # a saved-on-signal step is evaluated when training ends
        log.info("resuming %s at step %d (epoch %d, batch %d)", out, step, epoch, position)
        if ctx.is_main:
            warn_if_cooldown_undone(resume_config(out).train, t, step, elapsed)
    log.info("model: %.2fM parameters (%.2fM without embeddings) on %s, %s%s", model.num_parameters() / 1e6,
             model.num_parameters(True) / 1e6, ctx.device, t.precision,
             f", {ctx.world} processes" if ctx.world > 1 else "")
    objective: nn.Module = Objective(model, t)
    if ctx.world > 1:
        objective = DistributedDataParallel(objective)
    bf16 = t.precision == "bf16"
    autocast = torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=bf16)
    # MFU against the peak of the arithmetic the run really uses.
    peak_flops = (measure_matmul_flops(dtype=torch.bfloat16 if bf16 else torch.float32)
                  if ctx.device.type == "cpu" else float("nan"))
    model.train()

    def checkpoint(metrics: dict, positions: dict) -> None:
        nonlocal best_chrf
        is_best = metrics.get("dev_chrf", -1.0) > best_chrf
        best_chrf = max(best_chrf, metrics.get("dev_chrf", -1.0))
        save_checkpoint(out, step, model, optimizer, {
            "epoch": epoch, "position": position, **positions, "elapsed_seconds": elapsed, "best_chrf": best_chrf,
            "metrics": metrics, "interlingua_version": __version__}, keep=t.keep_checkpoints,
            best=is_best or not (out / "best.json").exists())
        write_card(out)  # MODEL.md: what this run is and how it measured, kept current

    def evaluate_and_save(evaluate: bool = True) -> None:
        """Rank 0 evaluates and writes; the others wait, so no rank runs ahead.

        ``evaluate=False``: a safety copy (on time, or on a signal), marked ``partial`` in its metrics.
        """
        # Streamed ranks each read their own share: save every rank's place (a collective: all ranks call it).
        positions = {"rank_positions": distributed.gather(ctx, [epoch, position])} if t.stream and ctx.world > 1 else {}
        if ctx.is_main and not evaluate:
            log.info("saving a checkpoint at step %d", step)
            checkpoint({"step": step, "partial": True}, positions)
        elif ctx.is_main:
            metrics = {"step": step}
            try:  # a signal stops the evaluation at once (minutes, on a big dev set) and keeps the step unevaluated
                with signalled.promptly():
                    if dev is not None:
                        metrics["dev_loss"] = dev_loss(model, dev, config, lang_ids)
                        metrics.update({f"dev_{k}": v for k, v in
                                        dev_chrf(model, run.tokenizer, run, dev_rows, dev_memory).items()})
            except StopOnSignal.StopNow:
                model.train()
                log.info("evaluation stopped; saving a checkpoint at step %d (resume evaluates it)", step)
                checkpoint({"step": step, "partial": True}, positions)
            else:
                log.info("eval step %d: %s", step, " | ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "step"))
                append_jsonl(out / "log.jsonl", {"kind": "eval", **metrics})
                checkpoint(metrics, positions)
        distributed.barrier(ctx)

    window_start, window_tokens, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
    last_saved, last_save_time, interrupted = step if evaluated else -1, time.monotonic(), False
    batches = iterate_batches(dataset, t.seed, t.max_tokens, lang_ids, epoch, position, shard=(ctx.rank, ctx.world))
    with StopOnSignal() as signalled:
        while True:
            budget_spent = bool((t.max_steps and step >= t.max_steps)
                                or (t.max_minutes and elapsed >= t.max_minutes * 60))
            save_due = bool(t.save_every_minutes and time.monotonic() - last_save_time >= t.save_every_minutes * 60)
            budget_spent, save_due, interrupted = distributed.agree(ctx, [budget_spent, save_due],
                                                                    [signalled.signal is not None])
            if budget_spent or interrupted:
                break
            if save_due and step != last_saved:  # whatever eval_every is, a long run never risks more than this
                paused = time.perf_counter()
                evaluate_and_save(evaluate=False)
                last_saved, last_save_time = step, time.monotonic()
                # saving is not training time; the window keeps its steps, so it keeps the time they took too
                # (restarting the clock here divided their tokens by a fraction of their time: "3,351 tok/s")
                window_start += time.perf_counter() - paused
            epoch, position, batch = next(batches)
            batch = batch.to(ctx.device)
            step_start = time.perf_counter()
            lr = learning_rate(step + 1, t.lr, t.warmup_steps, t.lr_schedule, budget_done(step, elapsed, t), t.lr_cooldown)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast:
                loss = objective(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step += 1
            if step % t.log_every == 0 and ctx.is_main:
                append_jsonl(out / "grad_norms.jsonl", {"step": step, "norms": layer_gradient_norms(model)})
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_norm)
            optimizer.step()
            elapsed += time.perf_counter() - step_start
            window_tokens += batch.target_tokens
            window_loss += float(loss.detach())
            window_steps += 1
            if step % t.log_every == 0:
                seconds = time.perf_counter() - window_start
                tok_s = distributed.total(ctx, window_tokens) / seconds
                src_len = float((batch.src != PAD).sum(1).float().mean())
                tgt_len = float((batch.tgt_out != PAD).sum(1).float().mean())
                match_len = float((batch.match != PAD).sum(1).float().mean()) if batch.match is not None else None
                mfu = tok_s * model.flops_per_target_token(src_len, tgt_len, match_len) / (peak_flops * ctx.world)
                record = {"kind": "train", "step": step, "loss": window_loss / window_steps, "lr": lr,
                          "target_tokens_per_s": tok_s, "mfu": mfu, "elapsed_s": elapsed, "epoch": epoch}
                minutes_left = [t.max_minutes - elapsed / 60] if t.max_minutes else []
                if t.max_steps:
                    minutes_left.append((t.max_steps - step) * seconds / window_steps / 60)
                left = f" | {max(0.0, min(minutes_left)):.1f} min left" if minutes_left else ""
                if ctx.is_main:
                    append_jsonl(out / "log.jsonl", record)
                    log.info("step %d | loss %.3f | lr %.2e | %.0f tok/s | MFU %.2f%s", step, record["loss"], lr,
                             tok_s, mfu, left)
                window_start, window_tokens, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
            if step % t.eval_every == 0:
                paused = time.perf_counter()
                evaluate_and_save()
                last_saved, last_save_time = step, time.monotonic()
                window_start += time.perf_counter() - paused  # evaluation time is not training throughput
        if step != last_saved:  # the same decision on every rank: no file-system check
            evaluate_and_save(evaluate=not interrupted)  # interrupted: save now, evaluate later
            interrupted = distributed.agree(ctx, [], [interrupted or signalled.signal is not None])[0]  # or during it
    del objective, batches  # the DDP wrapper holds the process group: release it before the group goes
    distributed.teardown(ctx)
    if interrupted:
        launcher = f"torchrun --nproc_per_node {ctx.world} -m interlingua" if ctx.world > 1 else "interlingua"
        number = signalled.signal or signal.SIGTERM  # another rank's signal: stopped as by SIGTERM
        raise Interrupted(f"interrupted ({signal.Signals(number).name}) at step {step}, checkpoint saved; resume "
                          f"with: {launcher} train --data {shlex.quote(str(data))} --out {shlex.quote(str(out))} "
                          f"--resume", 128 + number)
    log.info("done: %d steps in %.1f min; run folder %s", step, elapsed / 60, out)
    return out


def append_jsonl(path: Path, record: dict) -> None:
    """Logs are appended line by line: a crash loses at most the line being written."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
