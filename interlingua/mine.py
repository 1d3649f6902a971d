"""Bitext mining: find the sentences of two unaligned lists that translate each other (LASER's use case).

    translator = Translator.load("runs/base")
    pairs = mine_sentences(translator, french_lines, english_lines)   # [(score, fr, en), ...] best first

Both lists are embedded as thought vectors (``Translator.embed``). Every candidate pair is
scored by the *ratio margin* (Artetxe & Schwenk 2019), the same score ``evaluate`` reports as
``xsim_error_margin``:

    margin(x, y) = cos(x, y) / (mean cos of x to its k nearest y's / 2 + mean cos of y to its k nearest x's / 2)

A pair that is merely close (two sentences near everything) scores about 1; a real translation
stands out from its neighbourhood and scores above it. Candidates are each sentence's nearest
neighbour in both directions; they are taken best first, each sentence at most once, and kept
when their margin reaches the threshold.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InterlinguaError
from .evaluate.retrieval import margin

if TYPE_CHECKING:
    import torch
# torch is imported where it is used: the CLI reads DEFAULT_THRESHOLD for --help without loading it.

DEFAULT_THRESHOLD = 1.05  # chosen on held-out data: docs/evaluation.md, "Mining"
EMBED_CHUNK = 2000


def nearest(queries: torch.Tensor, keys: torch.Tensor, k: int, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(cosines, indices) of the k nearest keys of every query; unit vectors in, memory O(chunk × keys)."""
    import torch
    k = min(k, keys.shape[0])
    values, indices = [], []
    for start in range(0, queries.shape[0], chunk):
        top = torch.topk(queries[start:start + chunk] @ keys.T, k, dim=1)
        values.append(top.values)
        indices.append(top.indices)
    return torch.cat(values), torch.cat(indices)


def mine_vectors(src: np.ndarray, tgt: np.ndarray, *, k: int = 4, threshold: float = DEFAULT_THRESHOLD
                 ) -> list[tuple[float, int, int]]:
    """Mined pairs ``(margin, src index, tgt index)`` of two sets of L2-normalised vectors, best first."""
    import torch
    if len(src) == 0 or len(tgt) == 0:
        return []
    x, y = torch.from_numpy(np.ascontiguousarray(src, dtype=np.float32)), \
        torch.from_numpy(np.ascontiguousarray(tgt, dtype=np.float32))
    x2y_cos, x2y_index = nearest(x, y, k)
    y2x_cos, y2x_index = nearest(y, x, k)
    x_neighbourhood, y_neighbourhood = x2y_cos.mean(1), y2x_cos.mean(1)
    # The margin of each sentence's k nearest candidates, from the cosines the search already found.
    forward = margin(x2y_cos, x_neighbourhood[:, None], y_neighbourhood[x2y_index])
    backward = margin(y2x_cos, x_neighbourhood[y2x_index], y_neighbourhood[:, None])
    # Each sentence's best candidate by margin, in both directions.
    forward_best, forward_at = forward.max(1)
    backward_best, backward_at = backward.max(1)
    forward_match = x2y_index.gather(1, forward_at[:, None])[:, 0]
    backward_match = y2x_index.gather(1, backward_at[:, None])[:, 0]
    candidates = {(i, j): score for i, (j, score) in enumerate(zip(forward_match.tolist(), forward_best.tolist()))}
    candidates.update({(i, j): score for j, (i, score) in enumerate(zip(backward_match.tolist(),
                                                                          backward_best.tolist()))})
    used_src, used_tgt, pairs = set(), set(), []
    for (i, j), score in sorted(candidates.items(), key=lambda item: -item[1]):
        if score < threshold:
            break
        if i in used_src or j in used_tgt:
            continue
        used_src.add(i)
        used_tgt.add(j)
        pairs.append((float(score), i, j))
    return pairs


def _embed(translator, sentences: list[str], desc: str, progress: bool) -> np.ndarray:
    from tqdm import tqdm
    chunks = [sentences[i:i + EMBED_CHUNK] for i in range(0, len(sentences), EMBED_CHUNK)]
    return np.concatenate([translator.embed(chunk) for chunk in tqdm(chunks, desc=desc, unit="chunk",
                                                                     disable=not progress or len(chunks) < 2)])


def mine_sentences(translator, src: list[str], tgt: list[str], *, k: int = 4, threshold: float = DEFAULT_THRESHOLD,
                   progress: bool = False) -> list[tuple[float, str, str]]:
    """Mined ``(margin, src sentence, tgt sentence)`` pairs, best first; repeated sentences count once."""
    src, tgt = list(dict.fromkeys(src)), list(dict.fromkeys(tgt))
    x, y = _embed(translator, src, "embedding src", progress), _embed(translator, tgt, "embedding tgt", progress)
    return [(score, src[i], tgt[j]) for score, i, j in mine_vectors(x, y, k=k, threshold=threshold)]


def read_sentences(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file, one sentence each."""
    from .files import text_lines
    path = Path(path)
    if not path.is_file():
        raise InterlinguaError(f"{path}: no such file")
    with open(path, "rb") as f:
        sentences = [line.strip() for _, line in text_lines(f, path) if line.strip()]
    if not sentences:
        raise InterlinguaError(f"{path}: no sentences (the file is empty)")
    return sentences


def mine_files(run: str | Path, src: str | Path, tgt: str | Path, out: str | Path, *, k: int = 4,
               threshold: float = DEFAULT_THRESHOLD, checkpoint: str = "best", progress: bool = True,
               language_removal: bool = True) -> int:
    """Mine two text files into ``out`` (TSV: margin, src, tgt; best first; written atomically); the pair count.

    The vectors are ``Translator.embed``'s: with the run's language removal where it has one, unless
    ``language_removal=False``."""
    from .api import Translator
    from .files import atomic_write_text
    if k < 1:
        raise InterlinguaError(f"k must be at least 1 (got {k})")
    sources, targets = read_sentences(src), read_sentences(tgt)
    translator = Translator.load(run, checkpoint, language_removal=language_removal)
    pairs = mine_sentences(translator, sources, targets, k=k, threshold=threshold, progress=progress)
    clean = str.maketrans({"\t": " ", "\n": " "})
    atomic_write_text(out, "".join(f"{score:.4f}\t{a.translate(clean)}\t{b.translate(clean)}\n"
                                   for score, a, b in pairs))
    return len(pairs)
