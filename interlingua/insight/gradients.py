"""What the gradient says about the weights: importance |gradient × weight|, and an ablation that checks it.

    batches, held_out, note = dev_batches(translator, run)           # two halves of the dev meanings
    importance = parameter_importance(model, batches)                # {parameter name: tensor like it}
    layer_importance(importance)                                     # {"embed": .., "encoder.0": .., ...}
    module_importance(importance)                                    # {"embeddings": .., ..., "output": ..}
    result = ablation_curve(model, importance, held_out)             # top-k% vs random-k% zeroed
    ablation_sentence(result)     # "removing the top 1% of weights costs 23× the damage of removing a random 1%"

Importance of one weight w is the first-order Taylor estimate of how much the loss changes when w
is set to zero: L(w = 0) - L(w) ≈ -g·w, so |g·w| (Molchanov et al. 2017, 2019). It is measured
per batch and the absolute values are averaged over the batches, so a weight that matters to
every batch, but pushes the loss one way on some and the other way on others, still counts.

The output layer of the model is the token-embedding matrix itself (tied weights). Its gradient is
the sum of two parts, one from reading tokens in (the embedding lookups) and one from writing
them out (the output projection); ``parameter_importance`` measures both parts separately, so
``module_importance`` can give the output layer its own bar.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from ..corpus.formats import ROW_ID, only_languages
from ..data import Batch, DirectionDataset, MemorySettings
from ..errors import InterlinguaError
from ..model import Interlingua
from ..losses import translation_loss
from ..tokenizer import EOS

LossFn = Callable[[Interlingua, Batch], torch.Tensor]

MODULES = ("embeddings", "encoder", "bridge", "decoder", "output")


# ----------------------------------------------------------------------------- names

def translation_objective(model: Interlingua, batch: Batch) -> torch.Tensor:
    """The training translation loss without label smoothing: mean cross-entropy per target token (nats).
    A memory model reads each example's match (``batch.match``, from make_batches), as in training."""
    logits, _ = model(batch.src, batch.tgt_in, batch.lang, match=batch.match)
    return translation_loss(logits, batch.tgt_out, 0.0)


def layer_of(name: str) -> str:
    """The layer a parameter belongs to, named as in ``grad_norms.jsonl``: embed, encoder.0, bridge, ..."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in ("encoder", "decoder") and len(parts) > 1 else parts[0]


def module_of(layer: str) -> str:
    """embeddings (token and target-language tables), encoder, bridge, decoder; the output layer is tied to embed."""
    if layer in ("embed", "target_language"):
        return "embeddings"
    for module in ("encoder", "decoder", "bridge"):
        if layer == module or layer.startswith(module + ".") or layer.startswith(module + "_"):
            return module
    return layer


def layer_order(names: Iterable[str]) -> list[str]:
    """The order a sentence meets the layers: embed, encoder.i, encoder_norm, bridge, target_language, decoder.i, ..."""
    def key(name: str):
        rank = {"embed": 0, "encoder": 1, "encoder_norm": 2, "bridge": 3, "target_language": 4, "decoder": 5,
                "decoder_norm": 6}
        head, _, tail = name.partition(".")
        return rank.get(head, 7), int(tail) if tail.isdigit() else 0, name
    return sorted(set(names), key=key)


def ablatable(name: str, param: torch.Tensor) -> bool:
    """Weight matrices only: LayerNorm gains and all biases (1-D) are left out of the ablation."""
    return param.dim() >= 2


# ----------------------------------------------------------------------------- batches

def _half(rows: list[dict[str, str]], which: int) -> list[dict[str, str]]:
    def order(row):
        return (0, int(row[ROW_ID]), "") if str(row[ROW_ID]).isdigit() else (1, 0, str(row[ROW_ID]))
    return [row for n, row in enumerate(sorted(rows, key=order)) if n % 2 == which]


def make_batches(rows: list[dict[str, str]], translator, directions: list[tuple[str, str]], *,
                 max_examples: int = 1000, max_tokens: int | None = None, seed: int = 0) -> list[Batch]:
    """Batches of the (src, tgt) examples of ``rows`` (at most ``max_examples``), as training makes them.

    A memory model's examples carry their match from the memory the translator reads (the run's training
    split, or the one it was given), looked up by text as training's dev examples are; none when it has none.
    """
    config = translator.config
    languages = list(config.model.target_languages)
    memory = translator.memory_to_read()
    settings = MemorySettings(memory, config.train.memory_min_score) if memory is not None else None
    dataset = DirectionDataset(rows, translator.tokenizer, languages, directions, config.train.max_len,
                               config.train.mask_placeholders, settings)
    lang_ids = {lang: i for i, lang in enumerate(languages)}
    out, seen = [], 0
    for examples in dataset.epoch_batches(0, seed, max_tokens or config.train.max_tokens):
        if seen >= max_examples:
            break
        examples = examples[: max_examples - seen]
        out.append(dataset.make_batch(examples, lang_ids).to(translator.device))
        seen += len(examples)
    return out


def _split_rows(translator, run: str | Path, rows: list[dict[str, str]] | None
                ) -> tuple[list[list[dict[str, str]]], list[tuple[str, str]], str]:
    """(the two halves of the dev rows, or of ``rows``; the trained directions the model can do; their source)."""
    from ..files import read_json
    from ..corpus.split import run_split
    record = read_json(Path(run) / "run.json")
    source = "dev split"
    if rows is None:
        found = run_split(Path(run), "dev")
        rows = found[0] if found else []
    else:
        source = "given rows"
    directions = [tuple(d.split(">", 1)) for d in record.get("trained_directions", [])]
    languages = set(translator.config.model.target_languages)
    directions = [d for d in directions if d[0] in languages and d[1] in languages]
    rows = [only_languages(row, languages) for row in rows]
    return [_half(rows, 0), _half(rows, 1)], directions, source


def dev_batches(translator, run: str | Path, *, max_examples: int = 500, rows: list[dict[str, str]] | None = None
                ) -> tuple[list[Batch], list[Batch], str]:
    """(batches to measure importance on, held-out batches to ablate on, a description of both).

    The dev meanings of the run's corpus are split in two (alternate rows in id order): the
    importance is measured on one half and the ablation scored on the other, so the weights
    ranked first were not chosen on the sentences that judge them. ``rows`` replaces the dev rows.
    """
    halves, directions, source = _split_rows(translator, run, rows)
    batches = []
    for half in halves:
        try:
            batches.append(make_batches(half, translator, directions, max_examples=max_examples))
        except InterlinguaError as exc:  # no row of this half has both sides of a trained direction
            raise InterlinguaError(f"{run}: cannot build importance/ablation batches from the {source} "
                                   f"({exc})") from None
    counted = [sum(len(b.src) for b in bs) for bs in batches]
    note = (f"importance measured on {counted[0]:,} translation examples from {len(halves[0]):,} {source} meanings, "
            f"ablation scored on {counted[1]:,} examples from the other {len(halves[1]):,}")
    return batches[0], batches[1], note + _memory_note(translator, batches)


def _memory_note(translator, batches: list[list[Batch]]) -> str:
    """What a memory model read while it was scored: its matches, or, said plainly, none at all."""
    if not translator.reads_memory:
        return ""
    if translator.memory_to_read() is None:
        return ("; the model reads a translation memory, but none was found (its run's training split is not "
                "where it was), so every example was scored as if nothing matched")
    found = sum(int((b.match[:, 0] != EOS).sum()) for half in batches for b in half)  # EOS alone: no match
    total = sum(len(b.src) for half in batches for b in half)
    return f"; each example read its memory match, as in training ({found:,} of {total:,} have one)"


def heldout_chrf(translator, run: str | Path, *, per_direction: int = 16, rows: list[dict[str, str]] | None = None
                 ) -> tuple[Callable[[], float], int]:
    """(a function giving the model's chrF on held-out sentences as the model stands now, how many sentences).

    The sentences are the first ``per_direction`` of each trained direction from the ablation half
    of the rows (the half importance was not measured on), translated greedily; the score is one
    chrF over all of them, so an ablation can be judged by translation quality and not only loss.
    """
    from ..evaluate.metrics import chrf
    halves, directions, _ = _split_rows(translator, run, rows)
    heldout = halves[1]
    examples: dict[str, list[tuple[str, str]]] = {}
    for src, tgt in directions:
        pairs = [(row[src], row[tgt]) for row in heldout if src in row and tgt in row][:per_direction]
        examples.setdefault(tgt, []).extend(pairs)
    total = sum(len(pairs) for pairs in examples.values())
    if not total:
        raise InterlinguaError(f"{run}: no held-out sentence for the chrF of the ablation")

    def score() -> float:
        hypotheses, references = [], []
        for tgt, pairs in examples.items():
            hypotheses += translator.translate([s for s, _ in pairs], to=tgt)
            references += [r for _, r in pairs]
        return chrf(hypotheses, references)
    return score, total


# ----------------------------------------------------------------------------- importance

class Importance(dict):
    """{parameter name: |gradient × weight| averaged over batches}, a tensor shaped like each parameter.

    ``embed_as_input`` and ``embed_as_output`` (tensors like ``embed.weight``, or None when the loss
    function did not go through ``model.forward``) hold the same measure for the two uses of the
    tied embedding matrix taken apart; ``batches`` and ``tokens`` say what it was averaged over.
    """
    embed_as_input: torch.Tensor | None = None
    embed_as_output: torch.Tensor | None = None
    batches: int = 0
    tokens: int = 0


def parameter_importance(model: Interlingua, batches: Iterable[Batch], loss_fn: LossFn | None = None) -> Importance:
    """Mean over ``batches`` of |∂loss/∂w × w| for every parameter element w (zero where w has no effect).

    The model is put in eval mode (no dropout) for the measurement and restored; no ``.grad`` is left
    behind. ``loss_fn(model, batch)`` defaults to the translation loss (``translation_objective``).
    """
    loss_fn = loss_fn or translation_objective
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad])
    totals = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in zip(names, params)}
    split = {"input": torch.zeros_like(model.embed.weight, dtype=torch.float32),
             "output": torch.zeros_like(model.embed.weight, dtype=torch.float32)}
    split_ok = True
    captured: dict[str, list] = {"lookups": [], "logits": [], "hidden": []}

    def on_embed(module, inputs, output):
        captured["lookups"].append((inputs[0], output))

    def on_forward(module, inputs, output):
        captured["logits"].append(output[0] if isinstance(output, tuple) else output)

    def on_decoder_norm(module, inputs, output):
        captured["hidden"].append(output)

    hooks = [model.embed.register_forward_hook(on_embed), model.register_forward_hook(on_forward),
             model.decoder_norm.register_forward_hook(on_decoder_norm)]
    was_training = model.training
    model.eval()
    n_batches = n_tokens = 0
    weight = model.embed.weight
    try:
        for batch in batches:
            for store in captured.values():
                store.clear()
            loss = loss_fn(model, batch)
            lookups, logits, hidden = captured["lookups"], captured["logits"], captured["hidden"]
            can_split = len(logits) == len(hidden) and all(l.requires_grad for l in logits)
            extra = [out for _, out in lookups] + (logits if can_split else [])
            grads = torch.autograd.grad(loss, list(params) + extra, allow_unused=True)
            for name, param, grad in zip(names, params, grads):
                if grad is not None:
                    totals[name] += (grad.detach() * param.detach()).abs().float()
            rest = grads[len(params):]
            if can_split:
                g_in = torch.zeros_like(weight)
                for (tokens, _), g in zip(lookups, rest[:len(lookups)]):
                    if g is not None:
                        g_in.index_add_(0, tokens.reshape(-1), g.reshape(-1, g.shape[-1]))
                g_out = torch.zeros_like(weight)
                for h, g in zip(hidden, rest[len(lookups):]):
                    if g is not None:  # logits = h @ W.T, so dL/dW = dL/dlogits.T @ h
                        g_out += g.reshape(-1, g.shape[-1]).T @ h.detach().reshape(-1, h.shape[-1])
                split["input"] += (g_in * weight.detach()).abs().float()
                split["output"] += (g_out * weight.detach()).abs().float()
            else:
                split_ok = False
            n_batches += 1
            n_tokens += batch.target_tokens
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    result = Importance({n: t / max(1, n_batches) for n, t in totals.items()})
    if split_ok and n_batches:
        result.embed_as_input = split["input"] / n_batches
        result.embed_as_output = split["output"] / n_batches
    result.batches, result.tokens = n_batches, n_tokens
    return result


def layer_importance(importance: dict[str, torch.Tensor]) -> dict[str, float]:
    """Summed importance per layer (``layer_of``), in the order a sentence meets the layers."""
    sums: dict[str, float] = {}
    for name, value in importance.items():
        sums[layer_of(name)] = sums.get(layer_of(name), 0.0) + float(value.sum())
    return {layer: sums[layer] for layer in layer_order(sums)}


def layer_sizes(model: Interlingua) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, param in model.named_parameters():
        sizes[layer_of(name)] = sizes.get(layer_of(name), 0) + param.numel()
    return {layer: sizes[layer] for layer in layer_order(sizes)}


def module_importance(importance: dict[str, torch.Tensor]) -> dict[str, float]:
    """Summed importance per module: embeddings, encoder, bridge, decoder, output.

    The output layer has no weights of its own: it is ``embed.weight`` (tied). When the importance
    was measured by ``parameter_importance`` through ``model.forward``, the token-embedding matrix
    is split by use: its importance as input embeddings goes to ``embeddings``, as the output
    projection to ``output``. Otherwise all of it counts as ``embeddings`` and ``output`` is 0.
    """
    sums = dict.fromkeys(MODULES, 0.0)
    as_input = getattr(importance, "embed_as_input", None)
    as_output = getattr(importance, "embed_as_output", None)
    for name, value in importance.items():
        if name == "embed.weight" and as_input is not None and as_output is not None:
            sums["embeddings"] += float(as_input.sum())
            sums["output"] += float(as_output.sum())
            continue
        module = module_of(layer_of(name))
        sums[module] = sums.get(module, 0.0) + float(value.sum())
    return sums


# ----------------------------------------------------------------------------- ablation

@torch.no_grad()
def heldout_loss(model: Interlingua, batches: list[Batch], loss_fn: LossFn | None = None) -> float:
    """Mean loss per target token over ``batches`` (each batch weighted by its target tokens), in eval mode."""
    loss_fn = loss_fn or translation_objective
    was_training = model.training
    model.eval()
    try:
        total = tokens = 0.0
        for batch in batches:
            n = batch.target_tokens
            total += float(loss_fn(model, batch)) * n
            tokens += n
    finally:
        model.train(was_training)
    return total / max(1.0, tokens)


def _zero(params: list[torch.Tensor], offsets: list[int], flat_index: torch.Tensor) -> None:
    flat_index = flat_index.sort().values
    with torch.no_grad():
        for param, start, end in zip(params, offsets[:-1], offsets[1:]):
            lo, hi = torch.searchsorted(flat_index, start), torch.searchsorted(flat_index, end)
            if hi > lo:
                param.view(-1)[(flat_index[lo:hi] - start).to(param.device)] = 0


def ablation_curve(model: Interlingua, importance: dict[str, torch.Tensor], eval_batches: list[Batch],
                   fractions=(0.001, 0.01, 0.05), seeds=(0, 1, 2), loss_fn: LossFn | None = None,
                   quality_fn: Callable[[], float] | None = None) -> dict:
    """Zero the top ``fraction`` of weights by importance, then a random ``fraction`` (one trial per seed).

    The ranking is global over every weight matrix of the model (embeddings, attention and
    feed-forward matrices, the bridge queries); LayerNorm gains and biases are never zeroed.
    Each trial starts from the model's own weights (a copy of its state_dict is loaded back after
    every trial, and at the end). Returns a dict of plain numbers:

    ``base_loss``; per fraction (same order as ``fractions``): ``counts`` (weights zeroed),
    ``top`` (loss increase when the top ones are zeroed), ``random`` (one increase per seed),
    ``random_mean``, ``random_min``, ``random_max``, ``ratio`` (top / random mean, None when the
    random damage is not positive); ``top_layers`` (per fraction: the share of the zeroed top
    weights in each layer); ``weights`` (how many weights could be zeroed); ``seeds``.

    ``quality_fn`` (optional) scores the model as it stands, e.g. held-out chrF by greedy
    translation; it is then called after every trial too, adding ``base_quality``,
    ``top_quality`` and ``random_quality`` (per fraction: one score per seed).
    """
    names = [n for n, p in model.named_parameters() if ablatable(n, p) and n in importance]
    params = dict(model.named_parameters())
    tensors = [params[n] for n in names]
    offsets = [0]
    for t in tensors:
        offsets.append(offsets[-1] + t.numel())
    total = offsets[-1]
    scores = torch.cat([importance[n].detach().reshape(-1).float().cpu() for n in names])
    owner = np.repeat(np.arange(len(names)), [t.numel() for t in tensors])
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    base = heldout_loss(model, eval_batches, loss_fn)
    result = {"base_loss": base, "fractions": list(fractions), "seeds": list(seeds), "weights": total,
              "counts": [], "top": [], "random": [], "random_mean": [], "random_min": [], "random_max": [],
              "ratio": [], "top_layers": []}
    if quality_fn is not None:
        result.update(base_quality=quality_fn(), top_quality=[], random_quality=[])

    def trial_quality() -> float | None:
        return quality_fn() if quality_fn is not None else None
    try:
        for fraction in fractions:
            k = max(1, min(total, int(round(fraction * total))))
            top = torch.topk(scores, k).indices
            _zero(tensors, offsets, top)
            damage_top = heldout_loss(model, eval_batches, loss_fn) - base
            quality_top = trial_quality()
            model.load_state_dict(saved)
            layers: dict[str, int] = {}
            for i, count in zip(*np.unique(owner[top.numpy()], return_counts=True)):
                layers[layer_of(names[i])] = layers.get(layer_of(names[i]), 0) + int(count)
            random_damage, random_quality = [], []
            for seed in seeds:
                picked = torch.randperm(total, generator=torch.Generator().manual_seed(int(seed)))[:k]
                _zero(tensors, offsets, picked)
                random_damage.append(heldout_loss(model, eval_batches, loss_fn) - base)
                random_quality.append(trial_quality())
                model.load_state_dict(saved)
            mean = float(np.mean(random_damage))
            result["counts"].append(k)
            result["top"].append(damage_top)
            result["random"].append(random_damage)
            result["random_mean"].append(mean)
            result["random_min"].append(min(random_damage))
            result["random_max"].append(max(random_damage))
            result["ratio"].append(damage_top / mean if mean > 0 and math.isfinite(damage_top) else None)
            result["top_layers"].append({layer: n / k for layer, n in
                                         sorted(layers.items(), key=lambda kv: -kv[1])})
            if quality_fn is not None:
                result["top_quality"].append(quality_top)
                result["random_quality"].append(random_quality)
    finally:
        model.load_state_dict(saved)
    return result


def percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def ablation_sentence(result: dict, fraction: float | None = None) -> str:
    """The result in words at one fraction (1% when it was measured, else the middle one)."""
    fractions = result["fractions"]
    if not fractions:
        return "No ablation was run."
    i = fractions.index(fraction) if fraction in fractions else (
        fractions.index(0.01) if 0.01 in fractions else len(fractions) // 2)
    p, top, mean, ratio = percent(fractions[i]), result["top"][i], result["random_mean"][i], result["ratio"][i]
    if ratio is not None and top > 0:
        return (f"Removing the top {p} of weights costs {_times(ratio)} the damage of removing a random {p} "
                f"(held-out loss +{top:.3f} vs +{mean:.4f} nats per token, mean of {len(result['seeds'])} "
                f"random draws).")
    if top > 0:
        return (f"Removing the top {p} of weights raises the held-out loss by {top:.3f} nats per token; removing a "
                f"random {p} does no measurable damage ({mean:+.4f}, mean of {len(result['seeds'])} draws).")
    return (f"Removing the top {p} of weights changes the held-out loss by {top:+.4f} nats per token and a random "
            f"{p} by {mean:+.4f}: at this size neither removal hurts, so the ranking cannot be checked here.")


def ablation_quality_sentence(result: dict, fraction: float | None = None) -> str:
    """The chrF side of the ablation in words, at the same fraction as ``ablation_sentence``."""
    fractions = result["fractions"]
    i = fractions.index(fraction) if fraction in fractions else (
        fractions.index(0.01) if 0.01 in fractions else len(fractions) // 2)
    p, base = percent(fractions[i]), result["base_quality"]
    top, random = result["top_quality"][i], float(np.mean(result["random_quality"][i]))
    return (f"In translation quality: held-out chrF {base:.1f} falls to {top:.1f} without the top {p} and to "
            f"{random:.1f} without a random {p} (mean of {len(result['seeds'])} draws).")
