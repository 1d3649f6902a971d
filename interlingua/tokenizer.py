"""One SentencePiece subword vocabulary shared by every language.

Trained on the training split with languages sampled by temperature (p ∝ n^(1/T)), so a language
with 10k sentences is not drowned by one with 60k. Placeholders such as ``%s`` and ``{0}`` are
single pieces, so the model can copy them whole.
"""
from __future__ import annotations

import io
import logging
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import sentencepiece as spm

from .errors import InterlinguaError
from .placeholders import MASKS

log = logging.getLogger(__name__)

PAD, UNK, BOS, EOS = 0, 1, 2, 3
COVERAGE = 0.9995  # rarer characters are spelled in bytes (byte_fallback), never unknown
# The most common software-message placeholders become atomic pieces. The list is baked into every trained
# tokenizer (user-defined symbols), and api.py bans these pieces by id: left as it is, so that old runs load
# and translate as before. What counts as a placeholder (%m, %lx, %lld, ...) is placeholders.PLACEHOLDER's to
# say; a run trained with masking sees each as a mask, never as these pieces.
PLACEHOLDER_PIECES = ["%s", "%d", "%u", "%i", "%ld", "%lu", "%zu", "%c", "%f", "%x", "%%", "%1$s", "%2$s",
                      "%3$s", "%1$d", "%2$d", "%1", "%2", "%3", "{0}", "{1}", "{2}", "<b>", "</b>", "&amp;"]


def _quotas(counts: Mapping[str, int], languages: list[str], size: int, temperature: float) -> dict[str, int]:
    """Sentences to draw per language: ``size`` split in proportion to count^(1/temperature)."""
    present = [lang for lang in languages if counts.get(lang, 0) > 0]
    weights = np.array([counts[lang] for lang in present], dtype=np.float64) ** (1.0 / temperature)
    return dict(zip(present, np.floor(size * weights / weights.sum()).astype(int).tolist())) if present else {}


def language_sample(rows: list[dict[str, str]], languages: list[str], size: int, temperature: float,
                    seed: int) -> list[str]:
    """``size`` sentences, languages drawn with probability ∝ count^(1/temperature)."""
    by_lang = {lang: [row[lang] for row in rows if lang in row] for lang in languages}
    quotas = _quotas({lang: len(texts) for lang, texts in by_lang.items()}, languages, size, temperature)
    rng = np.random.default_rng(seed)
    sample: list[str] = []
    for lang, n in quotas.items():
        texts = by_lang[lang]
        picks = rng.choice(len(texts), size=int(n), replace=n > len(texts))
        sample.extend(texts[i] for i in picks)
    return sample


def stream_language_sample(rows: Iterable[dict[str, str]], counts: Mapping[str, int], languages: list[str],
                           size: int, temperature: float, seed: int) -> list[str]:
    """``language_sample`` in one pass over a stream, given the counts: memory ~ ``size``, not the corpus.

    Each sentence of a language is kept with probability quota / count (repeated when the quota
    is larger than the count), so the sample has about the same size and mix.
    """
    rates = {lang: n / counts[lang] for lang, n in _quotas(counts, languages, size, temperature).items()}
    rng = np.random.default_rng(seed)
    sample: list[str] = []
    for row in rows:
        for lang, rate in rates.items():
            if lang in row:
                copies = int(rate) + (rng.random() < rate - int(rate))
                sample.extend([row[lang]] * copies)
    return sample


def train_tokenizer(sentences: Iterable[str], model_path: Path, vocab_size: int, seed: int = 0,
                    masks: bool = True) -> "Tokenizer":
    """Train a unigram SentencePiece model and write it to ``model_path`` (atomically).

    ``masks``: the placeholder masks (``placeholders.MASKS``) are pieces too, for a run that masks.
    """
    from .files import atomic_write_bytes
    spm.set_random_generator_seed(seed)  # the same sample gives the same vocabulary
    sentences = [s for s in sentences if s]
    if not sentences:
        raise InterlinguaError("no sentences to train the tokenizer on")
    # One piece per common character (many for Japanese or Chinese), 256 byte pieces, specials and placeholders.
    symbols = PLACEHOLDER_PIECES + list(MASKS) * masks
    needed = characters_to_cover(sentences, COVERAGE) + 256 + len(symbols) + 4 + 8
    if vocab_size < needed:
        log.warning("vocab_size %d is below the %d characters this corpus needs; using %d", vocab_size, needed, needed)
        vocab_size = needed
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
            model_type="unigram", character_coverage=COVERAGE, byte_fallback=True,
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, user_defined_symbols=symbols,
            hard_vocab_limit=False, input_sentence_size=len(sentences), shuffle_input_sentence=True,
            num_threads=2, minloglevel=2)
    except RuntimeError as exc:
        raise InterlinguaError(f"SentencePiece could not train a {vocab_size}-piece vocabulary: "
                               f"{str(exc).splitlines()[0]}") from None
    atomic_write_bytes(model_path, model.getvalue())
    return Tokenizer(model_path)


def characters_to_cover(sentences: list[str], coverage: float) -> int:
    """How many distinct characters SentencePiece keeps as pieces at this coverage (NFKC-normalised, as it does)."""
    counts = sorted(Counter(ch for s in sentences for ch in unicodedata.normalize("NFKC", s)).values(), reverse=True)
    total, running = sum(counts), 0
    for i, n in enumerate(counts, start=1):
        running += n
        if running >= coverage * total:
            return i
    return len(counts)


class Tokenizer:
    def __init__(self, model_path: Path | str):
        path = Path(model_path)
        if not path.is_file():
            raise InterlinguaError(f"{path}: no tokenizer model")
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.Load(str(path))
        except (OSError, RuntimeError) as exc:
            raise InterlinguaError(f"{path}: not a SentencePiece model ({exc})") from None
        self.path = path

    @property
    def vocab_size(self) -> int:
        return self.sp.GetPieceSize()

    @property
    def mask_ids(self) -> list[int]:
        """The ids of the placeholder masks, in index order; empty for a vocabulary trained without them."""
        ids = [self.sp.PieceToId(piece) for piece in MASKS]
        return [] if UNK in ids else ids

    def encode(self, texts: list[str], max_len: int | None = None) -> list[list[int]]:
        """Token ids with EOS appended; at most ``max_len`` ids (EOS kept) when given."""
        ids = self.sp.EncodeAsIds(texts)
        if max_len is not None:
            ids = [seq[: max_len - 1] for seq in ids]
        return [seq + [EOS] for seq in ids]

    def decode(self, ids: list[list[int]]) -> list[str]:
        clean = [[i for i in seq if i not in (PAD, BOS, EOS)] for seq in ids]
        return self.sp.DecodeIds(clean)
