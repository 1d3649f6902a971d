"""Decoding a thought into tokens: greedy and beam search, batched, with a KV cache.

The thought is computed once per source sentence (see api.Translator); each target language
only starts a new decoder state from it.
"""
from __future__ import annotations

import torch

from .model import Interlingua
from .tokenizer import BOS, EOS, PAD


def _strip(seq: list[int]) -> list[int]:
    return seq[: seq.index(EOS)] if EOS in seq else seq


@torch.inference_mode()
def greedy(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
           use_cache: bool = True, min_len: int = 0) -> list[list[int]]:
    """The most probable token at every step. ``use_cache=False`` recomputes the whole prefix (for tests).

    EOS cannot be chosen before ``min_len`` tokens were produced (``min_len == max_len`` forces that
    exact length, as the inference benchmark does).
    """
    batch = thought.shape[0]
    state = model.start_decoding(thought, lang)
    tokens = torch.full((batch, 1), BOS, dtype=torch.long, device=thought.device)
    done = torch.zeros(batch, dtype=torch.bool, device=thought.device)
    for step in range(max_len):
        step_input = tokens[:, -1:] if use_cache else tokens
        logits = model.decode(step_input, state, use_cache=use_cache)[:, -1]
        if step < min_len:
            logits[:, EOS] = float("-inf")
        next_token = logits.argmax(-1).masked_fill(done, PAD)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        done |= next_token == EOS
        if done.all():
            break
    return [_strip(row[1:]) for row in tokens.tolist()]


@torch.inference_mode()
def beam_search(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
                beam: int = 4, length_penalty: float = 1.0, min_len: int = 0) -> list[list[int]]:
    """Standard beam search; hypotheses are ranked by log-probability / length**length_penalty.

    EOS cannot be chosen before ``min_len`` tokens were produced.
    """
    if beam == 1:
        return greedy(model, thought, lang, max_len, min_len=min_len)
    batch, device = thought.shape[0], thought.device
    expand = torch.arange(batch, device=device).repeat_interleave(beam)
    state = model.start_decoding(thought.index_select(0, expand), lang.index_select(0, expand))
    tokens = torch.full((batch * beam, 1), BOS, dtype=torch.long, device=device)
    # Only the first beam is live at the start, so the k beams do not all pick the same token.
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    for step in range(max_len):
        logits = model.decode(tokens[:, -1:], state)[:, -1]  # (B*beam, V)
        if step < min_len:
            logits[:, EOS] = float("-inf")
        logprobs = logits.log_softmax(-1)
        vocab = logprobs.shape[-1]
        candidates = (scores.view(-1, 1) + logprobs).view(batch, beam * vocab)
        top_scores, top_index = candidates.topk(2 * beam, dim=-1)  # 2·beam: room for those that end
        origin, token = top_index // vocab, top_index % vocab
        new_scores = torch.full((batch, beam), float("-inf"), device=device)
        new_origin = torch.zeros((batch, beam), dtype=torch.long, device=device)
        new_token = torch.full((batch, beam), PAD, dtype=torch.long, device=device)
        for b in range(batch):
            kept = 0
            for score, o, t in zip(top_scores[b].tolist(), origin[b].tolist(), token[b].tolist()):
                if score == float("-inf"):
                    break
                if t == EOS or step == max_len - 1:
                    hyp = tokens[b * beam + o, 1:].tolist() + ([] if t == EOS else [t])
                    finished[b].append((score / max(1, len(hyp) + 1) ** length_penalty, hyp))
                    continue
                if kept < beam:
                    new_scores[b, kept], new_origin[b, kept], new_token[b, kept] = score, o, t
                    kept += 1
            # Stop growing a sentence once its best finished hypothesis beats every live one can reach.
            if len(finished[b]) >= beam:
                new_scores[b] = float("-inf")
        if torch.isinf(new_scores).all():
            break
        rows = (torch.arange(batch, device=device)[:, None] * beam + new_origin).view(-1)
        state.reorder(rows)
        tokens = torch.cat([tokens.index_select(0, rows), new_token.view(-1, 1)], dim=1)
        scores = new_scores
    return [max(hyps, key=lambda h: h[0])[1] if hyps else [] for hyps in finished]


def decode_thought(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
                   beam: int = 1, min_len: int = 0) -> list[list[int]]:
    if beam <= 1:
        return greedy(model, thought, lang, max_len, min_len=min_len)
    return beam_search(model, thought, lang, max_len, beam, min_len=min_len)
