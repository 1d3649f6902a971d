"""The training losses: translation (plain, and fused with the tied output layer chunk by chunk), the
alignment of two translations' thoughts, and the language adversary. Library pieces: train.py's
Objective combines them, insight/ and bench/ call them too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import CopyHead, Interlingua
from .tokenizer import PAD


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

    With the copy gate's pointer (``gate`` (N, 1), ``weights`` (N, M), ``ids`` (N, M): CopyHead.pointer) the
    loss is that of the copy mixture's log-probabilities, CopyHead.mixture, chunk by chunk: the same value
    and gradients as ``translation_loss`` of the whole mixture, whose (tokens × vocabulary) fp32 tensors
    (the copy distribution, the two log terms, their sum) made a step 1.26x a plain memory step. The mixture's
    gradient comes from autograd over one chunk at a time; the gate's and pointer's gradients go back to
    CopyHead.pointer's small (tokens × match) graph through the backward pass.
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, smoothing: float,
                chunk: int, gate: torch.Tensor | None = None, weights: torch.Tensor | None = None,
                ids: torch.Tensor | None = None) -> torch.Tensor:
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        copy = gate is not None
        with torch.autocast(device, enabled=False):
            keep = target != PAD
            count = keep.sum().clamp(min=1)
            w = weight.to(dtype)
            grad_hidden = torch.empty_like(hidden)
            grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            grad_gate = torch.empty_like(gate) if copy else None
            grad_weights = torch.empty_like(weights) if copy else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk):
                part = slice(start, start + chunk)
                h, t, kept = hidden[part].to(dtype), target[part], keep[part]
                scale = (kept / count)[:, None]  # the mean over kept tokens, padding left out
                logits = (h @ w.T).float()
                if copy:
                    loss, grad, d_gate, d_weights = _mixture_chunk(logits, gate[part], weights[part], ids[part], t,
                                                                   smoothing)
                    grad_gate[part], grad_weights[part] = d_gate * scale, d_weights * scale
                else:
                    loss, grad = _softmax_chunk(logits, t, kept, smoothing)
                total += loss
                grad = grad.mul_(scale).to(dtype)
                grad_hidden[part] = grad @ w
                grad_weight += (grad.T @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype), *((grad_gate, grad_weights) if copy else ()))
        return total / count

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grads = [g * grad_loss for g in ctx.saved_tensors]
        grad_gate, grad_weights = grads[2:] if len(grads) == 4 else (None, None)
        return grads[0], grads[1], None, None, None, grad_gate, grad_weights, None


def _softmax_chunk(logits: torch.Tensor, target: torch.Tensor, kept: torch.Tensor,
                   smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk of the plain output layer: the summed loss of its kept tokens, and d loss / d logits
    of each token's own loss, by hand: softmax - (1 - ε)·one-hot - ε / V."""
    logp = logits.log_softmax(-1)
    per_token = (1 - smoothing) * -logp.gather(1, target[:, None]).squeeze(1) - smoothing * logp.mean(-1)
    grad = logp.exp_()
    grad.scatter_add_(1, target[:, None], torch.full_like(grad[:, :1], -(1 - smoothing)))
    grad.sub_(smoothing / logits.shape[1])
    return per_token[kept].sum(), grad


def _mixture_chunk(logits: torch.Tensor, gate: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor,
                   target: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, ...]:
    """One chunk of the copy mixture: its summed loss, as ``translation_loss`` sums it (padding left out), and
    the gradients of each token's own loss with respect to the logits, the gate's logit and the pointer's weights."""
    with torch.enable_grad():
        inputs = [x.detach().requires_grad_() for x in (logits, gate, weights)]
        log_probs = CopyHead.mixture(*inputs, ids)
        loss = F.cross_entropy(log_probs, target, ignore_index=PAD, label_smoothing=smoothing, reduction="sum")
        return (loss.detach(), *torch.autograd.grad(loss, inputs))


# Tokens per chunk. The mixture holds ~10 (chunk × vocabulary) fp32 tensors at once (the plain loss ~2), so its
# chunks are smaller: at 2,000 tokens and an 8k vocabulary, 256 took the step's memory from 1,090 to 540 MB
# (1,024: 960 MB, two chunks), and 128 saved 100 MB more for no time measurably gained.
PLAIN_CHUNK, MIXTURE_CHUNK = 1024, 256


def output_layer_loss(hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, smoothing: float,
                      chunk: int | None = None,
                      pointer: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """``translation_loss`` of the logits ``hidden @ weight.T``, chunk by chunk (OutputLayerLoss). With the
    copy gate, ``pointer`` is its (gate (B, T, 1), weights (B, T, M), match ids (B, M)) from CopyHead.pointer
    and the loss is that of the copy mixture's log-probabilities (CopyHead.mixture)."""
    if pointer is None:
        return OutputLayerLoss.apply(hidden.reshape(-1, hidden.shape[-1]), weight, target.reshape(-1), smoothing,
                                     chunk or PLAIN_CHUNK)
    gate, weights, ids = pointer
    ids = ids[:, None, :].expand(-1, hidden.shape[1], -1).reshape(-1, ids.shape[-1])  # one row per target token
    return OutputLayerLoss.apply(hidden.reshape(-1, hidden.shape[-1]), weight, target.reshape(-1), smoothing,
                                 chunk or MIXTURE_CHUNK, gate.reshape(-1, 1), weights.reshape(-1, weights.shape[-1]), ids)


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
    loss, scaled by ``weight``, reaches the encoder only). It is not a gradient-reversal layer: aiming at the uniform answer, as in
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
