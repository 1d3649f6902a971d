"""The training recipe: corpus -> tokenizer -> batches -> model -> checkpoints, in one readable loop.

    interlingua train --data corpus.jsonl --out runs/base --config base [key=value ...]

Objective: label-smoothed cross-entropy of the target given the thought, plus (when
``align_weight > 0``) a contrastive loss that pulls together the thoughts of two translations of
the same meaning. Every ``log_every`` steps: loss, tokens/s, MFU and each layer's gradient norm.
Every ``eval_every`` steps: dev loss and chrF, a checkpoint, and best.json if chrF improved.
"""
from __future__ import annotations

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
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from . import __version__
from .card import write_card
from .checkpoint import (absolute_corpus, clear_run, is_run, load_checkpoint, read_json, restore_optimizer,
                         resolve_checkpoint, save_checkpoint, write_json)
from . import distributed
from .config import ModelConfig, RunConfig, TrainConfig, value_problems
from .corpus.split import load_split, stream_dev_rows, train_shards
from .data import (Batch, CorpusInMemory, CorpusStream, DirectionDataset, choose_languages, iterate_batches,
                   parse_directions, stream_resume_position)
from .errors import InterlinguaError, Interrupted
from .model import Interlingua
from .tokenizer import PAD, Tokenizer, train_tokenizer

log = logging.getLogger("interlingua.train")


# ----------------------------------------------------------------------------- pieces of a step

def translation_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=PAD, label_smoothing=smoothing)


class OutputLayerLoss(torch.autograd.Function):
    """The tied output layer and the label-smoothed cross-entropy in one pass over chunks of tokens.

    Same value and gradients as ``translation_loss(hidden @ weight.T, target, smoothing)``, but the
    (tokens × vocabulary) logits are never held whole: each chunk's logits, softmax and gradient
    live in cache and are gone before the next (a step's fp32 logits are ~130 MB at 4,000 tokens
    and an 8k vocabulary, and writing, re-reading and differentiating them took ~10% of a bf16
    step). The gradients are computed in the forward pass and scaled in the backward one.
    Under autocast the two matmuls run in its dtype; the softmax is always fp32.
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, smoothing: float,
                chunk: int) -> torch.Tensor:
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        with torch.autocast(device, enabled=False):
            vocab, keep = weight.shape[0], target != PAD
            count = keep.sum().clamp(min=1)
            w = weight.to(dtype)
            grad_hidden = torch.empty_like(hidden)
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk):
                h, t = hidden[start:start + chunk].to(dtype), target[start:start + chunk]
                logp = (h @ w.T).float().log_softmax(-1)
                per_token = (1 - smoothing) * -logp.gather(1, t[:, None]).squeeze(1) - smoothing * logp.mean(-1)
                kept = keep[start:start + chunk]
                total += per_token[kept].sum()
                grad = logp.exp_()  # d loss / d logits = softmax - (1 - ε)·one-hot - ε / V, per kept token
                grad.scatter_add_(1, t[:, None], torch.full_like(grad[:, :1], -(1 - smoothing)))
                grad.sub_(smoothing / vocab).mul_((kept / count)[:, None])
                grad = grad.to(dtype)
                grad_hidden[start:start + chunk] = grad @ w
                grad_weight += (grad.T @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return total / count

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss, grad_weight * grad_loss, None, None, None


def output_layer_loss(hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, smoothing: float,
                      chunk: int = 1024) -> torch.Tensor:
    """``translation_loss`` of the logits ``hidden @ weight.T``, chunk by chunk (OutputLayerLoss)."""
    return OutputLayerLoss.apply(hidden.reshape(-1, hidden.shape[-1]), weight, target.reshape(-1), smoothing, chunk)


def alignment_loss(source_thought: torch.Tensor, target_thought: torch.Tensor, meaning: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """InfoNCE between the pooled thought of each source and of its own target sentence.

    The target sentence goes through the same encoder: two languages, one meaning, one thought.
    Other meanings in the batch are the negatives; other directions of the same meaning are not.
    """
    a, b = Interlingua.pool(source_thought), Interlingua.pool(target_thought)
    sim = a @ b.T / temperature                                   # (B, B)
    same_meaning = meaning[:, None] == meaning[None, :]
    sim = sim.masked_fill(same_meaning & ~torch.eye(len(a), dtype=torch.bool, device=a.device), float("-inf"))
    labels = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2


def adversary_loss(model: Interlingua, thought: torch.Tensor, language: torch.Tensor, weight: float) -> torch.Tensor:
    """A language classifier on the whole thought, and the encoder trained to leave it guessing.

    The classifier learns to tell the language of the thought (its loss reaches the classifier
    only); the encoder learns to make the classifier's answer uniform over the languages (that
    loss, scaled by ``weight``, reaches the encoder only). Aiming at the uniform answer, as in
    Tzeng et al. (2015), rather than at the classifier's error through a reversed gradient, keeps
    the encoder's loss bounded: a reversed gradient on this task drove the classifier's loss to
    ~19 nats within 50 steps (a confidently wrong classifier, not a language-free thought).
    """
    flat = thought.flatten(1)
    classifier = model.language_adversary
    learn = F.cross_entropy(classifier(flat.detach()), language)
    logits = F.linear(flat, classifier.weight.detach(), classifier.bias.detach())
    confuse = -F.log_softmax(logits, dim=-1).mean()
    return learn + weight * confuse


class Objective(nn.Module):
    """The training loss as one module, so DDP sees every parameter use inside a single forward."""

    def __init__(self, model: Interlingua, config: TrainConfig):
        super().__init__()
        self.model, self.config = model, config

    def forward(self, batch: Batch) -> torch.Tensor:
        c = self.config
        hidden, thought = self.model(batch.src, batch.tgt_in, batch.lang, logits=False)
        loss = output_layer_loss(hidden, self.model.embed.weight, batch.tgt_out, c.label_smoothing)
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


def learning_rate(step: int, peak: float, warmup: int, schedule: str = "inverse_sqrt", progress: float = 0.0) -> float:
    """Linear warm-up, then inverse square-root decay (Vaswani et al.), or, for a run of known length,
    cosine decay to zero over ``progress`` (the share of the budget done, 0..1), which spends a short
    budget at a high rate and still ends annealed."""
    step = max(step, 1)
    if schedule == "cosine":
        return peak * min(step / max(1, warmup), 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
    return peak * min(step / max(1, warmup), math.sqrt(max(1, warmup) / step))


def budget_done(step: int, elapsed_seconds: float, config: TrainConfig) -> float:
    """The share of the run's budget spent: of its steps or of its minutes, whichever runs out first."""
    shares = ([step / config.max_steps] if config.max_steps else []) + \
             ([elapsed_seconds / (60 * config.max_minutes)] if config.max_minutes else [])
    return max(shares, default=0.0)


def measure_matmul_flops(n: int = 1024, repeats: int = 7, dtype: torch.dtype = torch.float32,
                         shape: tuple[int, int, int] | None = None) -> float:
    """The machine's practical matmul peak (FLOP/s) in ``dtype``, measured now with the same threads.

    The denominator of MFU (an n × n × n product), or, with ``shape=(m, k, n)``, the speed of one
    product of a model's own size. The fastest of several: a busy neighbour slows some, never speeds one up.
    """
    m, k, n = shape or (n, n, n)
    generator = torch.Generator().manual_seed(0)  # its own generator: the training RNG stays untouched
    a, b = torch.randn(m, k, generator=generator).to(dtype), torch.randn(k, n, generator=generator).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best


def choose_precision(requested: str, device: torch.device, model: ModelConfig, max_tokens: int) -> str:
    """'bf16' (autocast: bf16 matmuls, fp32 weights, optimizer and loss) or 'fp32' for this run.

    ``auto`` measures rather than guesses: a CPU with native bf16 (AVX-512 BF16, AMX) multiplies
    the model's matrices 2-3x faster in bf16, one without it ~100x slower, so auto takes bf16 only
    when a product of the model's own size (a batch of tokens × d_model × d_ff) is ≥ 1.3x faster.
    A small model stays in fp32: its steps are per-operator overhead, which the casts only add to.
    """
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    shape = (min(max_tokens, 4096), model.d_model, model.d_ff)
    if math.prod(shape) < 2 ** 26:  # the tiny preset: 600 × 32 × 64; base and small: 2000 × 256 × 1024
        return "fp32"
    bf16 = fp32 = 0.0
    for _ in range(4):  # interleaved, best of each: a busy neighbour process slows both alike, and not always
        bf16 = max(bf16, measure_matmul_flops(shape=shape, dtype=torch.bfloat16, repeats=5))
        fp32 = max(fp32, measure_matmul_flops(shape=shape, repeats=5))
    log.info("precision: bf16 matmuls %.1fx fp32 at %s on this CPU: %s", bf16 / fp32, "x".join(map(str, shape)),
             "bf16 autocast" if bf16 >= 1.3 * fp32 else "fp32")
    return "bf16" if bf16 >= 1.3 * fp32 else "fp32"


def make_optimizer(model: Interlingua, config: RunConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n and "queries" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n and "queries" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.train.weight_decay},
                              {"params": other, "weight_decay": 0.0}],
                             lr=config.train.lr, betas=(0.9, 0.98), eps=1e-9)


# ----------------------------------------------------------------------------- set-up of a run

@dataclass
class Run:
    folder: Path
    config: RunConfig
    tokenizer: Tokenizer
    languages: list[str]
    directions: list[tuple[str, str]]


def prepare_run(data: Path, out: Path, config: RunConfig, resume: bool, overwrite: bool,
                corpus: CorpusInMemory | CorpusStream) -> Run:
    """Create (or reopen, for --resume) the run folder: config, tokenizer, languages, directions."""
    if resume:
        if not (out / "config.json").exists():
            raise InterlinguaError(f"{out}: nothing to resume (no config.json)")
        # The architecture is the run's own; only training settings may change on resume.
        saved_config = RunConfig.from_dict(read_json(out / "config.json"), str(out / "config.json"))
        config.model = saved_config.model
        # the tokenizer was trained with or without the masks: the run keeps what it started with
        config.train.mask_placeholders = saved_config.train.mask_placeholders
        if config.train.precision == "auto":  # the precision the run chose when it started, on every rank
            chosen = saved_config.train.precision  # (runs from before the choice was saved trained in fp32)
            config.train.precision = "fp32" if chosen == "auto" else chosen
        saved = read_json(out / "run.json")
        return Run(out, config, Tokenizer(out / "tokenizer.model"), saved["languages"],
                   [tuple(d.split(">")) for d in saved["trained_directions"]])
    if out.is_dir() and any(out.iterdir()):
        if not is_run(out):  # --resume and --overwrite are for runs: the message must not offer them here
            raise InterlinguaError(f"{out}: not a run folder and not empty; choose a new or empty folder for --out")
        if not overwrite:
            raise InterlinguaError(f"{out}: run folder exists; use --resume to continue it or --overwrite to replace it")
        clear_run(out)  # only the run's own files: anything else beside them is the user's
    elif out.exists() and not out.is_dir():
        raise InterlinguaError(f"{out}: is a file, not a run folder")
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
        logits, _ = model(batch.src, batch.tgt_in, batch.lang)
        n = batch.target_tokens
        total += float(translation_loss(logits, batch.tgt_out, 0.0)) * n
        tokens += n
        seen += len(examples)
    model.train()
    return total / max(1, tokens)


def dev_chrf(model: Interlingua, tokenizer: Tokenizer, run: Run, dev_rows: list[dict[str, str]]) -> dict[str, float]:
    """chrF on a sample of dev rows: mean over trained directions, and over a few zero-shot ones."""
    from .api import Translator
    from .evaluate.metrics import chrf
    translator = Translator(model, tokenizer, run.config)
    n = run.config.train.eval_sentences
    trained = set(run.directions)
    zero_shot = [(s, t) for s in run.languages for t in run.languages if s != t and (s, t) not in trained][:2]
    scores: dict[str, list[float]] = {"chrf": [], "zero_shot_chrf": []}
    for key, directions in (("chrf", run.directions), ("zero_shot_chrf", zero_shot)):
        for src, tgt in directions:
            rows = [r for r in dev_rows if src in r and tgt in r][:n]
            if rows:
                hyps = translator.translate([r[src] for r in rows], to=tgt)
                scores[key].append(chrf(hyps, [r[tgt] for r in rows]))
    model.train()
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
    data, out, t = Path(data), Path(out), config.train
    problems = value_problems(config)  # the Python API's configs too, not only the CLI's
    if problems:
        raise InterlinguaError("; ".join(problems))
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
    dataset = corpus.dataset(run.tokenizer, run.languages, run.directions, t.max_len, t.mask_placeholders)
    dev = (DirectionDataset(dev_rows, run.tokenizer, run.languages, run.directions, t.max_len, t.mask_placeholders)
           if dev_rows else None)
    if isinstance(dataset, DirectionDataset):
        log.info("%d training examples over %d directions", len(dataset), len(run.directions))
    else:
        log.info("streaming %d file(s), %d examples shuffled together, over %d directions",
                 len(corpus.shards), t.stream_buffer, len(run.directions))

    if t.adversary_weight > 0 and not config.model.language_adversary:
        raise InterlinguaError(f"{out}: adversary_weight needs a run started with it (this one has no language "
                               f"adversary)")
    model = Interlingua(config.model).to(ctx.device)
    optimizer = make_optimizer(model, config)
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
                        metrics.update({f"dev_{k}": v for k, v in dev_chrf(model, run.tokenizer, run, dev_rows).items()})
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
                evaluate_and_save(evaluate=False)
                last_saved, last_save_time = step, time.monotonic()
                window_start = time.perf_counter()
            epoch, position, batch = next(batches)
            batch = batch.to(ctx.device)
            step_start = time.perf_counter()
            lr = learning_rate(step + 1, t.lr, t.warmup_steps, t.lr_schedule, budget_done(step, elapsed, t))
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
                mfu = tok_s * model.flops_per_target_token(src_len, tgt_len) / (peak_flops * ctx.world)
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
                evaluate_and_save()
                last_saved, last_save_time = step, time.monotonic()
                window_start = time.perf_counter()  # evaluation time is not training throughput
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
