"""Multi-way rows -> translation directions -> token-bucketed batches.

A row is one meaning in several languages. Each allowed direction (src, tgt) with both sides
present in a row is one training example. Every epoch shuffles the examples with a generator
seeded by (seed, epoch), groups examples of similar length into batches of at most
``max_tokens`` padded tokens, and shuffles the batches: so the order is a pure function of
(seed, epoch) and a resumed run can skip straight to the batch where it stopped.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .errors import InterlinguaError
from .tokenizer import BOS, PAD, Tokenizer


def choose_languages(rows: list[dict[str, str]], wanted: list[str], max_languages: int) -> list[str]:
    """The languages to train: ``wanted`` if given, else English plus the largest ``max_languages``."""
    counts = Counter(k for row in rows for k in row if k != "id")
    if wanted:
        missing = [lang for lang in wanted if lang not in counts]
        if missing:
            known = ", ".join(sorted(counts))
            raise InterlinguaError(f"languages not in the corpus: {', '.join(missing)} (it has: {known})")
        return list(dict.fromkeys(wanted))
    others = [lang for lang, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if lang != "en"]
    return (["en"] if "en" in counts else []) + others[:max_languages]


def parse_directions(spec: str, languages: list[str]) -> list[tuple[str, str]]:
    """``en-centric`` (en↔X only, so X→Y is zero-shot), ``all``, or ``en-fr,fr-de,...``."""
    if spec == "en-centric":
        if "en" not in languages:
            raise InterlinguaError("directions=en-centric needs English in the corpus; use directions=all")
        return [(a, b) for x in languages if x != "en" for a, b in (("en", x), (x, "en"))]
    if spec == "all":
        return [(a, b) for a in languages for b in languages if a != b]
    pairs = []
    for item in spec.split(","):
        src, sep, tgt = item.strip().partition(">") if ">" in item else item.strip().partition("-")
        # BCP-47 tags contain '-', so accept "pt-BR>fr" too; a plain "en-fr" splits on the first '-'.
        if not sep or src not in languages or tgt not in languages or src == tgt:
            raise InterlinguaError(f"directions: cannot read '{item}' (use en-centric, all, or src-tgt pairs "
                                   f"of the languages {', '.join(languages)}; write pt-BR>fr for tags with '-')")
        pairs.append((src, tgt))
    return pairs


@dataclass
class Batch:
    src: torch.Tensor       # (B, S) source ids, PAD-padded
    tgt_in: torch.Tensor    # (B, T) BOS + target ids
    tgt_out: torch.Tensor   # (B, T) target ids + EOS, PAD-padded (PAD is ignored by the loss)
    lang: torch.Tensor      # (B,) target-language ids
    meaning: torch.Tensor   # (B,) row index: two examples of one meaning are not negatives

    @property
    def target_tokens(self) -> int:
        return int((self.tgt_out != PAD).sum())

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) for t in
                       (self.src, self.tgt_in, self.tgt_out, self.lang, self.meaning)))


def _pad(seqs: list[np.ndarray], prefix: int | None = None) -> torch.Tensor:
    width = max(len(s) for s in seqs) + (prefix is not None)
    out = np.full((len(seqs), width), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        if prefix is None:
            out[i, :len(s)] = s
        else:
            out[i, 0] = prefix
            out[i, 1:len(s) + 1] = s
    return torch.from_numpy(out)


class DirectionDataset:
    """Tokenised rows and the (row, src, tgt) examples of the chosen directions."""

    def __init__(self, rows: list[dict[str, str]], tokenizer: Tokenizer, languages: list[str],
                 directions: list[tuple[str, str]], max_len: int):
        self.languages, self.directions = languages, directions
        self.lang_index = {lang: i for i, lang in enumerate(languages)}
        # Token ids per (row, language); each sentence tokenised once for every direction it serves.
        self.ids: dict[tuple[int, str], np.ndarray] = {}
        for lang in languages:
            present = [i for i, row in enumerate(rows) if lang in row]
            encoded = tokenizer.encode([rows[i][lang] for i in present], max_len=max_len)
            for i, seq in zip(present, encoded):
                self.ids[(i, lang)] = np.asarray(seq, dtype=np.int32)
        self.examples = np.array([(i, self.lang_index[s], self.lang_index[t])
                                  for i in range(len(rows)) for s, t in directions
                                  if (i, s) in self.ids and (i, t) in self.ids], dtype=np.int64).reshape(-1, 3)
        if len(self.examples) == 0:
            raise InterlinguaError("no training examples: no row has both sides of any direction "
                                   f"({', '.join(f'{s}-{t}' for s, t in directions[:6])}…)")

    def __len__(self) -> int:
        return len(self.examples)

    def direction_counts(self) -> dict[str, int]:
        pairs = Counter((int(s), int(t)) for _, s, t in self.examples)
        return {f"{self.languages[s]}-{self.languages[t]}": n for (s, t), n in sorted(pairs.items())}

    def lengths(self, example: np.ndarray) -> tuple[int, int]:
        row, s, t = example
        return len(self.ids[(row, self.languages[s])]), len(self.ids[(row, self.languages[t])])

    def make_batch(self, examples: np.ndarray, target_lang_ids: dict[str, int]) -> Batch:
        src = [self.ids[(r, self.languages[s])] for r, s, _ in examples]
        tgt = [self.ids[(r, self.languages[t])] for r, _, t in examples]
        return Batch(src=_pad(src), tgt_in=_pad([t[:-1] for t in tgt], prefix=BOS), tgt_out=_pad(tgt),
                     lang=torch.tensor([target_lang_ids[self.languages[t]] for _, _, t in examples]),
                     meaning=torch.from_numpy(examples[:, 0].copy()))

    def epoch_batches(self, epoch: int, seed: int, max_tokens: int, pool_batches: int = 64) -> list[np.ndarray]:
        """This epoch's batches (arrays of examples), a pure function of (seed, epoch)."""
        rng = np.random.default_rng([seed, epoch])
        order = self.examples[rng.permutation(len(self.examples))]
        lengths = np.array([max(self.lengths(e)) for e in order])
        batches: list[np.ndarray] = []
        # Sort within pools, not globally: similar lengths share a batch yet batches stay varied.
        pool = max(1, pool_batches * max_tokens // max(1, int(lengths.mean())))
        for start in range(0, len(order), pool):
            idx = start + np.argsort(lengths[start:start + pool], kind="stable")
            current: list[int] = []
            longest = 0
            for i in idx:
                longest_if_added = max(longest, lengths[i])
                if current and longest_if_added * (len(current) + 1) > max_tokens:
                    batches.append(order[current])
                    current, longest_if_added = [], lengths[i]
                current.append(i)
                longest = longest_if_added
            if current:
                batches.append(order[current])
        return [batches[i] for i in rng.permutation(len(batches))]


def iterate_batches(dataset: DirectionDataset, seed: int, max_tokens: int, target_lang_ids: dict[str, int],
                    start_epoch: int = 0, start_batch: int = 0, shard: tuple[int, int] = (0, 1)
                    ) -> Iterator[tuple[int, int, Batch]]:
    """Endless (epoch, index of the next batch, batch); ``shard=(rank, world)`` gives each process its share."""
    rank, world = shard
    for epoch in itertools.count(start_epoch):
        batches = dataset.epoch_batches(epoch, seed, max_tokens)
        first = start_batch if epoch == start_epoch else 0
        for index in range(first, len(batches)):
            if index % world == rank:
                yield epoch, index + 1, dataset.make_batch(batches[index], target_lang_ids)
