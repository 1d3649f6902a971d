"""The training losses: translation (plain, and fused with the tied output layer chunk by chunk), the
alignment of two translations' thoughts, and the language adversary. Library pieces: train.py's
Objective combines them, insight/ and bench/ call them too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import Interlingua
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
