"""Decoding a thought into tokens: greedy and beam search, batched, with a KV cache.

The thought is computed once per source sentence (see api.Translator); each target language
only starts a new decoder state from it. A :class:`MaskConstraint` makes the placeholder masks of
a source (``placeholders.MASKS``) come out exactly once each, by construction.

``with_scores=True`` also returns, per output, the model's mean log-probability per token of what it
wrote (EOS included when it ended), from its own distribution before any constraint: the
length-normalised score a draft's confidence is made of (``api.Translator.drafts``).
"""
from __future__ import annotations

import torch

from .model import Interlingua
from .tokenizer import BOS, EOS, PAD


def _strip(seq: list[int]) -> list[int]:
    return seq[: seq.index(EOS)] if EOS in seq else seq


class MaskConstraint:
    """The placeholder masks each output must hold: every mask of its source once, and no other.

    ``ids`` (M,): the mask token ids; ``required`` (rows, M): which masks each row's source has;
    ``banned``: ids never to write (the raw placeholder pieces, which a masked source does not have);
    ``ordered`` (rows, M): masks to write in index order among themselves (printf's ``%s``, ``%d``).
    Before each step :meth:`apply` sets to -inf the log-probability of a mask the source lacks or
    the row already wrote, of EOS while a mask is missing, and, once only as many steps are left
    as masks are missing, of everything but those masks, so even a hypothesis cut at ``max_len``
    holds them all. Scores are the model's own log-probabilities: search ranks what it may choose
    exactly as it would without the constraint.
    """

    def __init__(self, ids: torch.Tensor, required: torch.Tensor, banned: torch.Tensor | None = None,
                 ordered: torch.Tensor | None = None):
        self.ids, self.required, self.banned = ids, required, banned
        self.ordered = ordered if ordered is not None else torch.zeros_like(required)
        self.emitted = torch.zeros_like(required)

    def expand(self, beam: int) -> "MaskConstraint":
        """The same constraint for ``beam`` hypotheses per sentence (rows b*beam .. b*beam+beam-1)."""
        return MaskConstraint(self.ids, self.required.repeat_interleave(beam, 0), self.banned,
                              self.ordered.repeat_interleave(beam, 0))

    def apply(self, logits: torch.Tensor, steps_left: int) -> None:
        """Forbid, in place, what this step may not choose (logits: (rows, V))."""
        missing = self.required & ~self.emitted                             # (rows, M)
        n_missing = missing.sum(1)
        pending = missing & self.ordered
        later = pending & (pending.long().cumsum(1) > 1)                    # an ordered mask before them is missing
        mask_logits = logits[:, self.ids].masked_fill(~missing | later, float("-inf"))
        if self.banned is not None:
            logits[:, self.banned] = float("-inf")
        logits[:, EOS] = logits[:, EOS].masked_fill(n_missing > 0, float("-inf"))
        logits.masked_fill_((n_missing >= steps_left)[:, None], float("-inf"))
        logits[:, self.ids] = mask_logits

    def update(self, chosen: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        """Record the tokens chosen (rows,), after moving each row's state to its parent ``rows`` (beam)."""
        if rows is not None:
            self.required, self.emitted, self.ordered = self.required[rows], self.emitted[rows], self.ordered[rows]
        self.emitted |= chosen[:, None] == self.ids[None, :]


Decoded = list[list[int]] | tuple[list[list[int]], list[float]]


@torch.inference_mode()
def greedy(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
           use_cache: bool = True, min_len: int = 0, masks: MaskConstraint | None = None,
           with_scores: bool = False, match: torch.Tensor | None = None) -> Decoded:
    """The most probable token at every step. ``use_cache=False`` recomputes the whole prefix (for tests).

    EOS cannot be chosen before ``min_len`` tokens were produced (``min_len == max_len`` forces that
    exact length, as the inference benchmark does). ``masks``: each row's placeholder masks, exactly once.
    ``with_scores``: (outputs, mean log-probability per token of each), see the module docstring.
    ``match``: each row's memory match (model.memory, ``Interlingua.start_decoding``).
    """
    batch = thought.shape[0]
    state = model.start_decoding(thought, lang, match=match)
    tokens = torch.full((batch, 1), BOS, dtype=torch.long, device=thought.device)
    done = torch.zeros(batch, dtype=torch.bool, device=thought.device)
    total = torch.zeros(batch, device=thought.device)   # log-probability of what each row wrote so far
    length = torch.zeros(batch, device=thought.device)
    for step in range(max_len):
        step_input = tokens[:, -1:] if use_cache else tokens
        logits = model.decode(step_input, state, use_cache=use_cache)[:, -1].float()
        log_norm = logits.logsumexp(-1) if with_scores else None  # before any constraint: the model's own
        if step < min_len:
            logits[:, EOS] = float("-inf")
        if masks is not None:
            masks.apply(logits, max_len - step)
        next_token = logits.argmax(-1).masked_fill(done, PAD)
        if with_scores:  # constraints only set -inf, so a chosen token's logit is the model's own
            total += (logits.gather(1, next_token[:, None]).squeeze(1) - log_norm).masked_fill(done, 0.0)
            length += (~done).float()
        if masks is not None:
            masks.update(next_token)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        done |= next_token == EOS
        if done.all():
            break
    outputs = [_strip(row[1:]) for row in tokens.tolist()]
    return (outputs, (total / length.clamp(min=1)).tolist()) if with_scores else outputs


def parents_in_place(origin: torch.Tensor) -> torch.Tensor:
    """Which chosen candidate each beam slot takes, so that most hypotheses stay in their parent's row.

    origin (B, beam): the slot each chosen candidate continues. The first candidate from every parent
    takes that parent's slot; the others fill the slots whose parents have no continuation. Beam
    slots are interchangeable, so the search is unchanged, but the KV cache then copies only the
    rows whose parent changed instead of every row at every step.
    """
    beam = origin.shape[1]
    j = torch.arange(beam, device=origin.device)
    same_parent = origin[:, :, None] == origin[:, None, :]                          # (B, beam, beam)
    first = ~(same_parent & (j[None, :] < j[:, None])).any(-1)                      # no earlier sibling
    claimed = (origin[:, :, None] == j).any(1)                                      # slots a first child takes
    free = (claimed.long() * beam + j).argsort(1)                                   # unclaimed slots first
    rank = ((~first).long().cumsum(1) - 1).clamp(min=0)
    slot = torch.where(first, origin, free.gather(1, rank))
    return torch.empty_like(slot).scatter_(1, slot, j.expand_as(slot).contiguous())


@torch.inference_mode()
def beam_search(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
                beam: int = 4, length_penalty: float = 1.0, min_len: int = 0,
                masks: MaskConstraint | None = None, with_scores: bool = False,
                match: torch.Tensor | None = None) -> Decoded:
    """Standard beam search; hypotheses are ranked by log-probability / length**length_penalty.

    EOS cannot be chosen before ``min_len`` tokens were produced. ``masks``: each sentence's
    placeholder masks, exactly once in every hypothesis. ``beam=1`` runs this same code (and finds
    what greedy finds, which the tests check); ``decode_thought`` sends width 1 to ``greedy``, which is faster.
    ``with_scores``: (outputs, mean log-probability per token of each), see the module docstring.
    """
    masks = masks.expand(beam) if masks is not None else None
    batch, device = thought.shape[0], thought.device
    state = model.start_decoding(thought, lang, beam, match=match)
    tokens = torch.full((batch * beam, 1), BOS, dtype=torch.long, device=device)
    # Only the first beam is live at the start, so the k beams do not all pick the same token.
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished: list[list[tuple[float, list[int], float]]] = [[] for _ in range(batch)]  # (rank, hyp, mean log-prob)
    n_finished = torch.zeros(batch, dtype=torch.long, device=device)
    for step in range(max_len):
        logits = model.decode(tokens[:, -1:], state)[:, -1].float()  # (B*beam, V); fp32 scores for bf16 weights too
        log_norm = logits.logsumexp(-1, keepdim=True)  # before any constraint: the model's own log-probabilities
        if step < min_len:
            logits[:, EOS] = float("-inf")
        if masks is not None:
            masks.apply(logits, max_len - step)
        # The best 2·beam continuations of a sentence (room for those that end) are among the best
        # 2·beam of each of its hypotheses: rank within rows first, then the few survivors together,
        # instead of adding every hypothesis's score to its whole log-softmax over the vocabulary.
        row_top, row_token = logits.topk(2 * beam, dim=-1)                         # (B*beam, 2·beam)
        row_scores = scores.view(-1, 1) + row_top - log_norm
        top_scores, top_index = row_scores.view(batch, 2 * beam * beam).topk(2 * beam, dim=-1)
        origin = top_index // (2 * beam)
        token = row_token.view(batch, -1).gather(1, top_index)
        # Candidates that end (EOS, or the length limit) among the best `beam` leave the beam as finished
        # hypotheses; only those few are handled one by one. One that ends below the best `beam` is
        # dropped, not finished (as fairseq and HF do): it was never in the beam, and finishing it would
        # stop a sentence early on a hypothesis greedy search, at width 1, never considers.
        # The live ones are chosen for the whole batch at once.
        ending = (top_scores > float("-inf")) & ((token == EOS) | (step == max_len - 1))
        ends = ending & (torch.arange(2 * beam, device=device) < beam)
        if ends.any():
            for b, j in ends.nonzero().tolist():
                o, t = int(origin[b, j]), int(token[b, j])
                hyp = tokens[b * beam + o, 1:].tolist() + ([] if t == EOS else [t])
                score = float(top_scores[b, j])
                finished[b].append((score / max(1, len(hyp) + 1) ** length_penalty, hyp,
                                    score / max(1, len(hyp) + (t == EOS))))
            n_finished += ends.sum(1)
        # The best `beam` live candidates, in score order; a sentence with `beam` finished
        # hypotheses stops growing (its best finished one beats every live one it could still reach).
        new_scores, pick = top_scores.masked_fill(ending, float("-inf")).topk(beam, dim=-1)
        new_scores.masked_fill_((n_finished >= beam)[:, None], float("-inf"))
        if torch.isinf(new_scores).all():
            break
        slots = parents_in_place(origin.gather(1, pick))
        new_scores, pick = new_scores.gather(1, slots), pick.gather(1, slots)
        new_origin = origin.gather(1, pick)
        new_token = token.gather(1, pick).masked_fill(torch.isinf(new_scores), PAD)
        rows = (torch.arange(batch, device=device)[:, None] * beam + new_origin).view(-1)
        state.reorder(rows)
        tokens = torch.cat([tokens.index_select(0, rows), new_token.view(-1, 1)], dim=1)
        if masks is not None:
            masks.update(new_token.view(-1), rows)
        scores = new_scores
    best = [max(hyps, key=lambda h: h[0]) if hyps else (0.0, [], float("-inf")) for hyps in finished]
    outputs = [hyp for _, hyp, _ in best]
    return (outputs, [mean for _, _, mean in best]) if with_scores else outputs


def decode_thought(model: Interlingua, thought: torch.Tensor, lang: torch.Tensor, max_len: int,
                   beam: int = 1, min_len: int = 0, masks: MaskConstraint | None = None,
                   with_scores: bool = False, match: torch.Tensor | None = None) -> Decoded:
    if beam <= 1:
        return greedy(model, thought, lang, max_len, min_len=min_len, masks=masks, with_scores=with_scores,
                      match=match)
    return beam_search(model, thought, lang, max_len, beam, min_len=min_len, masks=masks, with_scores=with_scores,
                       match=match)
