"""Multi-way rows -> translation directions -> token-bucketed batches.

A row is one meaning in several languages. Each allowed direction (src, tgt) with both sides
present in a row is one training example. Every epoch shuffles the examples with a generator
seeded by (seed, epoch), groups examples of similar length into batches of at most
``max_tokens`` padded tokens, and shuffles the batches: so the order is a pure function of
(seed, epoch) and a resumed run can skip straight to the batch where it stopped.
"""
from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .corpus.formats import row_languages
from .errors import InterlinguaError
from .placeholders import mask, target_order, tokens
from .tokenizer import BOS, EOS, PAD, Tokenizer, language_sample, stream_language_sample

if TYPE_CHECKING:
    from .memory import TranslationMemory

log = logging.getLogger("interlingua.data")


def language_counts(rows: Iterable[dict[str, str]]) -> tuple[Counter, int]:
    """(sentences per language, rows), in one pass: works on a stream."""
    counts: Counter = Counter()
    n = 0
    for n, row in enumerate(rows, 1):
        counts.update(row_languages(row))
    return counts, n


def choose_languages(counts: Mapping[str, int], wanted: list[str], max_languages: int) -> list[str]:
    """The languages to train: ``wanted`` if given, else English plus the largest ``max_languages``."""
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
    match: torch.Tensor | None = None  # (B, M) the memory's translation, EOS alone for none (model.memory)

    @property
    def target_tokens(self) -> int:
        return int((self.tgt_out != PAD).sum())

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device, non_blocking=True) if t is not None else None for t in
                       (self.src, self.tgt_in, self.tgt_out, self.lang, self.meaning, self.match)))


def pad(seqs: Sequence[Sequence[int]], prefix: int | None = None, pad_id: int = PAD) -> torch.Tensor:
    """(len(seqs), longest) int64 ids, right-padded with ``pad_id``; ``prefix`` (BOS) first in every row when given.

    The one padder: training batches, the Translator's inputs and the benches' peers all pad here.
    """
    width = max(len(s) for s in seqs) + (prefix is not None)
    out = np.full((len(seqs), width), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        if prefix is None:
            out[i, :len(s)] = s
        else:
            out[i, 0] = prefix
            out[i, 1:len(s) + 1] = s
    return torch.from_numpy(out)


@dataclass
class TokenisedRows:
    """Token ids per (row position, language), each sentence tokenised once for every direction it serves.

    With masking, a sentence that has placeholders is also kept with them masked in its own order
    (``masked``: ids and the placeholders); :meth:`pair` renumbers the target's masks to the source's.
    """
    ids: dict[tuple[int, str], np.ndarray]
    masked: dict[tuple[int, str], tuple[np.ndarray, list[str]]]
    mask_ids: list[int]

    def pair(self, row: int, src: str, tgt: str) -> tuple[np.ndarray, np.ndarray]:
        """Source and target ids of one example: masked when both sides hold the same placeholders."""
        a, b = self.masked.get((row, src)), self.masked.get((row, tgt))
        order = target_order(a[1], b[1]) if a and b else None
        if order is None:
            return self.ids[(row, src)], self.ids[(row, tgt)]
        target = b[0].copy()
        for own, index in enumerate(order):  # the target's j-th mask becomes the source's mask of that placeholder
            target[b[0] == self.mask_ids[own]] = self.mask_ids[index]
        return a[0], target


def tokenise_rows(rows: list[dict[str, str]], tokenizer: Tokenizer, languages: list[str],
                  max_len: int, mask_placeholders: bool = False) -> TokenisedRows:
    """Every sentence of ``rows`` in ``languages`` tokenised (and masked, see :class:`TokenisedRows`)."""
    ids: dict[tuple[int, str], np.ndarray] = {}
    masked: dict[tuple[int, str], tuple[np.ndarray, list[str]]] = {}
    mask_ids = tokenizer.mask_ids if mask_placeholders else []
    for lang in languages:
        present = [i for i, row in enumerate(rows) if lang in row]
        if present:
            for i, seq in zip(present, tokenizer.encode([rows[i][lang] for i in present], max_len=max_len)):
                ids[(i, lang)] = np.asarray(seq, dtype=np.int32)
        if mask_ids:
            found = [(i, *mask(rows[i][lang])) for i in present if tokens(rows[i][lang])]
            encoded = tokenizer.encode([text for _, text, _ in found], max_len=max_len) if found else []
            for (i, _, originals), seq in zip(found, encoded):
                masked[(i, lang)] = (np.asarray(seq, dtype=np.int32), originals)
    return TokenisedRows(ids, masked, mask_ids)


def to_batch(src: list[np.ndarray], tgt: list[np.ndarray], lang: list[int], meaning: list[int],
             match: list[np.ndarray] | None = None) -> Batch:
    """Padded tensors of aligned examples: source ids, target ids (BOS-shifted in, EOS-ended out), memory matches."""
    return Batch(src=pad(src), tgt_in=pad([t[:-1] for t in tgt], prefix=BOS), tgt_out=pad(tgt),
                 lang=torch.tensor(lang), meaning=torch.tensor(meaning),
                 match=pad(match) if match is not None else None)


NO_MATCH = np.array([EOS], dtype=np.int32)  # the empty sentence: what the model reads when the memory has nothing


@dataclass
class MemorySettings:
    """How a dataset's examples get their memory match (model.memory): from ``memory`` (memory.TranslationMemory),
    at least ``min_score``; ``drop`` of the training matches withheld (a pure function of ``seed``)."""
    memory: TranslationMemory
    min_score: float
    drop: float = 0.0
    seed: int = 0


def example_matches(rows: list[dict[str, str]], examples: np.ndarray, languages: list[str],
                    settings: MemorySettings) -> list[str | None]:
    """The memory's translation for each (row, src, tgt) example, or None.

    When the memory holds these very rows (training), a row's match is never itself nor a near-duplicate
    of its meaning (``TranslationMemory.training_match``); other rows (dev) are looked up by their text.
    """
    memory = settings.memory
    found: list[str | None] = [None] * len(examples)
    if memory.rows is rows:
        for n, (row, s, t) in enumerate(examples.tolist()):
            hit = memory.training_match(row, languages[s], languages[t], settings.min_score)
            if hit is not None:
                found[n] = memory.rows[hit[0]][languages[t]]
    else:
        for t, target in enumerate(languages):
            picked = np.nonzero(examples[:, 2] == t)[0]
            queries = [rows[examples[n, 0]][languages[examples[n, 1]]] for n in picked]
            for n, hit in zip(picked, memory.lookup(queries, target, settings.min_score)):
                found[n] = hit.translation if hit is not None else None
    if settings.drop > 0:  # the model must also learn to translate with no match at all
        withheld = np.random.default_rng([settings.seed, 13]).random(len(examples)) < settings.drop
        found = [None if w else text for text, w in zip(found, withheld)]
    return found


class DirectionDataset:
    """Tokenised rows and the (row, src, tgt) examples of the chosen directions (and each one's memory match)."""

    def __init__(self, rows: list[dict[str, str]], tokenizer: Tokenizer, languages: list[str],
                 directions: list[tuple[str, str]], max_len: int, mask_placeholders: bool = False,
                 memory: MemorySettings | None = None):
        self.languages, self.directions = languages, directions
        self.lang_index = {lang: i for i, lang in enumerate(languages)}
        self.tokenised = tokenise_rows(rows, tokenizer, languages, max_len, mask_placeholders)
        self.ids = self.tokenised.ids
        self.examples = np.array([(i, self.lang_index[s], self.lang_index[t])
                                  for i in range(len(rows)) for s, t in directions
                                  if (i, s) in self.ids and (i, t) in self.ids], dtype=np.int64).reshape(-1, 3)
        if len(self.examples) == 0:
            raise InterlinguaError("no training examples: no row has both sides of any direction "
                                   f"({', '.join(f'{s}-{t}' for s, t in directions[:6])}…)")
        self.matches: list[np.ndarray] | None = None
        if memory is not None:
            texts = example_matches(rows, self.examples, languages, memory)
            unique = sorted({text for text in texts if text})
            # a match is read as a source is: placeholders masked in its own order when the run masks them
            encoded = tokenizer.encode([mask(text)[0] for text in unique] if mask_placeholders else unique, max_len)
            ids = {text: np.asarray(seq, dtype=np.int32) for text, seq in zip(unique, encoded)}
            self.matches = [ids[text] if text else NO_MATCH for text in texts]
            log.info("memory matches for %d of %d examples", sum(bool(text) for text in texts), len(texts))

    def __len__(self) -> int:
        return len(self.examples)

    def direction_counts(self) -> dict[str, int]:
        pairs = Counter((int(s), int(t)) for _, s, t in self.examples)
        return {f"{self.languages[s]}-{self.languages[t]}": n for (s, t), n in sorted(pairs.items())}

    def lengths(self, example: np.ndarray) -> tuple[int, int]:
        """Unmasked lengths, for bucketing: a mask is one piece where its placeholder was one or more."""
        row, s, t = example[:3]
        return len(self.ids[(row, self.languages[s])]), len(self.ids[(row, self.languages[t])])

    def make_batch(self, examples: np.ndarray, target_lang_ids: dict[str, int]) -> Batch:
        """``examples``: rows of ``self.examples`` with their index appended (as ``epoch_batches`` gives them)."""
        pairs = [self.tokenised.pair(r, self.languages[s], self.languages[t]) for r, s, t, _ in examples]
        matches = [self.matches[n] for n in examples[:, 3]] if self.matches is not None else None
        return to_batch([src for src, _ in pairs], [tgt for _, tgt in pairs],
                        [target_lang_ids[self.languages[t]] for _, _, t, _ in examples], examples[:, 0].tolist(),
                        matches)

    def epoch_batches(self, epoch: int, seed: int, max_tokens: int, pool_batches: int = 64) -> list[np.ndarray]:
        """This epoch's batches (arrays of examples, each with its index in ``self.examples`` appended),
        a pure function of (seed, epoch)."""
        rng = np.random.default_rng([seed, epoch])
        indexed = np.concatenate([self.examples, np.arange(len(self.examples))[:, None]], axis=1)
        order = indexed[rng.permutation(len(self.examples))]
        lengths = np.array([max(self.lengths(e)) for e in order])
        return [order[batch] for batch in bucket(lengths, max_tokens, rng, pool_batches)]


def fill(order: Iterable[int], lengths: Sequence[int], max_tokens: int) -> list[np.ndarray]:
    """Cut positions, taken in ``order``, into batches of at most ``max_tokens`` padded tokens (rows × the longest).

    A batch always takes its first position, so one sentence longer than ``max_tokens`` is a batch of its own.
    """
    batches: list[np.ndarray] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and longest_if_added * (len(current) + 1) > max_tokens:
            batches.append(np.array(current))
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(np.array(current))
    return batches


def by_length(lengths: Sequence[int]) -> np.ndarray:
    """Positions from shortest to longest, ties in input order: sentences of a length share a batch."""
    return np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")


def bucket(lengths: np.ndarray, max_tokens: int, rng: np.random.Generator, pool_batches: int = 64) -> list[np.ndarray]:
    """Group positions of (already shuffled) examples into batches of at most ``max_tokens`` padded tokens.

    Sorting happens within pools of about ``pool_batches`` batches, not globally: similar lengths
    share a batch (little padding) yet batches stay varied; the batches come back shuffled.
    """
    batches: list[np.ndarray] = []
    pool = max(1, pool_batches * max_tokens // max(1, int(lengths.mean()) if len(lengths) else 1))
    for start in range(0, len(lengths), pool):
        batches += fill(start + by_length(lengths[start:start + pool]), lengths, max_tokens)
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Inference's batches: all positions sorted by length, then cut like training's (no shuffle, one pool)."""
    return [batch.tolist() for batch in fill(by_length(lengths), lengths, max_tokens)]


def _groups(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items, the last maybe shorter (itertools.batched, before Python 3.12)."""
    it = iter(items)
    while group := list(itertools.islice(it, size)):
        yield group


class StreamingDirections:
    """The examples of JSONL shards read as a stream: memory bounded by ``buffer_examples``, not the corpus.

    Each epoch reads the shards in an order drawn from (seed, epoch), tokenises ``chunk_rows`` rows
    at a time, and fills a buffer of ``buffer_examples`` examples; a full buffer is shuffled,
    bucketed into batches like the in-memory dataset, and those batches are handed out before the
    next buffer is read. The batch sequence is thus a pure function of (seed, epoch, files), so a
    resumed run re-reads the stream and skips to the batch where it stopped (the skipped part is
    tokenised again but never turned into tensors). Shuffling is within a buffer: make it large
    enough to span many source files of the corpus, or shuffle the corpus once when writing it.

    Under torchrun (``shard=(rank, world)``) every rank reads the shards in the same order, and
    chunk ``c`` of ``chunk_rows`` lines belongs to rank ``c % world``: a rank counts the other
    ranks' lines but never parses or tokenises them. It buffers, shuffles and buckets its own
    examples with a generator seeded by (seed, epoch, rank) and hands out all its batches, so its
    sequence is a pure function of (seed, epoch, rank, world, files) and resumes exactly on the same
    number of processes. Ranks get about the same number of batches, not exactly the same.
    """

    def __init__(self, shards: list[Path], tokenizer: Tokenizer, languages: list[str],
                 directions: list[tuple[str, str]], max_len: int, buffer_examples: int = 100_000,
                 chunk_rows: int = 2000, mask_placeholders: bool = False):
        if not shards:
            raise InterlinguaError("streaming needs at least one JSONL training file")
        self.shards, self.tokenizer, self.max_len = list(shards), tokenizer, max_len
        self.languages, self.directions = languages, directions
        self.buffer_examples, self.chunk_rows = max(1, buffer_examples), max(1, chunk_rows)
        self.mask_placeholders = mask_placeholders

    def _examples(self, rows: list[dict[str, str]], first_meaning: int) -> list[tuple]:
        """(meaning, src ids, tgt ids, target language) for every direction the rows have both sides of."""
        tokenised = tokenise_rows(rows, self.tokenizer, self.languages, self.max_len, self.mask_placeholders)
        ids = tokenised.ids
        return [(first_meaning + i, *tokenised.pair(i, s, t), t) for i in range(len(rows))
                for s, t in self.directions if (i, s) in ids and (i, t) in ids]

    def _chunks(self, order: np.ndarray, rank: int, world: int) -> Iterator[tuple[int, list[dict[str, str]]]]:
        """(meaning id of its first row, rows) of each chunk of this rank: chunk c when c % world == rank.

        One process chunks the usable rows (two languages or more), as it always has. Several chunk
        the non-blank lines instead: telling a usable row from another line takes the very parse a
        rank skips for the others' chunks. Ids count every row (or line) before, so they stay unique.
        """
        from .corpus.formats import iter_corpus, jsonl_lines, jsonl_row
        if world == 1:
            units: Iterator = (row for shard in order for row in iter_corpus(self.shards[shard]))
        else:
            units = ((self.shards[s], n, line) for s in order for n, line in jsonl_lines(self.shards[s]))
        for c, chunk in enumerate(_groups(units, self.chunk_rows)):
            if c % world == rank:
                # id + two languages, the rows iter_corpus keeps
                rows = chunk if world == 1 else [r for r in itertools.starmap(jsonl_row, chunk) if len(r) >= 3]
                yield c * self.chunk_rows, rows

    def epoch_batches(self, epoch: int, seed: int, max_tokens: int, pool_batches: int = 64,
                      shard: tuple[int, int] = (0, 1)) -> Iterator[list[tuple]]:
        """This rank's batches of the epoch (``shard=(rank, world)``): all of them, in its own order."""
        rank, world = shard
        rng = np.random.default_rng([seed, epoch])
        files = rng.permutation(len(self.shards))  # the same file order on every rank
        if world > 1:  # each rank shuffles its own examples; one process goes on with the (seed, epoch) generator
            rng = np.random.default_rng([seed, epoch, rank])
        buffer: list[tuple] = []

        def flush() -> list[list[tuple]]:
            order = rng.permutation(len(buffer))
            lengths = np.array([max(len(buffer[i][1]), len(buffer[i][2])) for i in order])
            return [[buffer[order[i]] for i in batch] for batch in bucket(lengths, max_tokens, rng, pool_batches)]

        for first_meaning, rows in self._chunks(files, rank, world):
            buffer.extend(self._examples(rows, first_meaning))
            if len(buffer) >= self.buffer_examples:
                yield from flush()
                buffer = []
        if buffer:
            yield from flush()

    def make_batch(self, examples: list[tuple], target_lang_ids: dict[str, int]) -> Batch:
        return to_batch([e[1] for e in examples], [e[2] for e in examples],
                        [target_lang_ids[e[3]] for e in examples], [e[0] for e in examples])


def iterate_batches(dataset: DirectionDataset | StreamingDirections, seed: int, max_tokens: int,
                    target_lang_ids: dict[str, int], start_epoch: int = 0, start_batch: int = 0,
                    shard: tuple[int, int] = (0, 1)) -> Iterator[tuple[int, int, Batch]]:
    """Endless (epoch, index of the next batch, batch); ``shard=(rank, world)`` gives each process its share.

    A stream shards itself (each rank reads its own chunks; the index counts this rank's batches). The
    in-memory dataset is strided: rank r takes every world-th batch of the epoch, and the index is global.
    """
    rank, world = shard
    streamed = isinstance(dataset, StreamingDirections)
    stride, options = (1, {"shard": shard}) if streamed else (world, {})
    for epoch in itertools.count(start_epoch):
        first = start_batch if epoch == start_epoch else 0
        produced = False
        for index, examples in enumerate(dataset.epoch_batches(epoch, seed, max_tokens, **options)):
            if index % stride == rank % stride:
                produced = True
                if index >= first:
                    yield epoch, index + 1, dataset.make_batch(examples, target_lang_ids)
        if not produced:  # else an empty share would loop over epochs for ever
            raise InterlinguaError(_no_batch_message(dataset, epoch, rank, world))


def _no_batch_message(dataset: DirectionDataset | StreamingDirections, epoch: int, rank: int, world: int) -> str:
    if world == 1:
        return "the training data gave no batch"
    share = (f"each reads its own chunks of {dataset.chunk_rows} rows" if isinstance(dataset, StreamingDirections)
             else f"each takes every {world}-th batch")
    return (f"the training data gave process {rank} of {world} no batch in epoch {epoch}: too few rows for "
            f"{world} processes ({share}); use fewer processes")


def stream_resume_position(state: Mapping, rank: int, world: int) -> tuple[int, int]:
    """Where a streamed rank resumes: (epoch, batch index) in its own share, from a checkpoint's state.

    A checkpoint of several processes holds every rank's place (``rank_positions``); one without
    them holds a place in the order of one process (so did every run's before ranks kept their own).
    On the same number of processes each rank goes on exactly where it stopped. On another number
    the shares differ, so every rank starts the smallest saved epoch again from its beginning: some
    batches are trained on twice, none skipped.
    """
    saved = state.get("rank_positions") or [[state["epoch"], state["position"]]]
    if len(saved) == world:
        epoch, position = saved[rank]
        return int(epoch), int(position)
    epoch = min(int(e) for e, _ in saved)
    log.info("the data order restarts epoch %d from its beginning: the number of processes changed (%d -> %d) "
             "and each streamed process reads its own share", epoch, len(saved), world)
    return epoch, 0


# ----------------------------------------------------------------------------- the training split, two ways

class CorpusInMemory:
    """A training split held as a list of rows: the default, fine up to a few million sentences."""

    def __init__(self, rows: list[dict[str, str]]):
        self.rows = rows

    def counts(self) -> tuple[Counter, int]:
        return language_counts(self.rows)

    def tokenizer_sample(self, languages: list[str], size: int, temperature: float, seed: int) -> list[str]:
        return language_sample(self.rows, languages, size, temperature, seed)

    def dataset(self, tokenizer: Tokenizer, languages: list[str], directions: list[tuple[str, str]],
                max_len: int, mask_placeholders: bool = False,
                memory: MemorySettings | None = None) -> DirectionDataset:
        return DirectionDataset(self.rows, tokenizer, languages, directions, max_len, mask_placeholders, memory)


class CorpusStream:
    """A training split read from JSONL files as a stream (``train.stream=true``): memory stays flat."""

    def __init__(self, shards: list[Path], buffer_examples: int):
        self.shards, self.buffer_examples = shards, buffer_examples
        self._counts: tuple[Counter, int] | None = None

    def rows(self) -> Iterator[dict[str, str]]:
        from .corpus.formats import iter_corpus
        for shard in self.shards:
            yield from iter_corpus(shard)

    def counts(self) -> tuple[Counter, int]:
        if self._counts is None:
            self._counts = language_counts(self.rows())
        return self._counts

    def tokenizer_sample(self, languages: list[str], size: int, temperature: float, seed: int) -> list[str]:
        return stream_language_sample(self.rows(), self.counts()[0], languages, size, temperature, seed)

    def dataset(self, tokenizer: Tokenizer, languages: list[str], directions: list[tuple[str, str]],
                max_len: int, mask_placeholders: bool = False, memory: None = None) -> StreamingDirections:
        return StreamingDirections(self.shards, tokenizer, languages, directions, max_len, self.buffer_examples,
                                   mask_placeholders=mask_placeholders)
