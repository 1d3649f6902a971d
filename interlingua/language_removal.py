"""Post-hoc language removal for sentence vectors: what ``embed``, ``mine`` and the server apply when a run has it.

    removal = fit_run(translator, "runs/base")      # statistics from the run's *training* meanings
    removal.save("runs/base/language_removal.safetensors")
    removal.project(vectors)                        # language-identity directions gone, L2-normalised again

The encoder is never told the language, but its pooled thought still says it (docs/evaluation.md,
"Language removal"). Two cheap fixes from the literature, both fitted on the vectors of the same
training meanings in every language:

* ``center``: subtract each language's mean vector (Libovický et al. 2020). It needs the language of
  every sentence, which ``embed`` is not told, so it is measured by ``evaluate`` (which knows the
  language of its test rows) but not applied by ``embed``.
* ``project``: subtract the overall mean and project out the span of the centred language means
  (their top singular directions, as LIR of Yang et al. 2021). Every language mean lands on the same
  point, so it does what ``center`` does to the means without knowing the language: ``embed`` applies it.

This changes the *vectors* only: the decoder still reads the unchanged thought, so translation is
the same with or without it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InterlinguaError

FILE = "language_removal.safetensors"   # in the run folder
FIT_MEANINGS = 1000                      # training meanings per language the statistics are estimated on
_EPS = 1e-9
_KIND = "interlingua language removal"


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _EPS)).astype(np.float32)


@dataclass
class LanguageRemoval:
    languages: list[str]
    mean: np.ndarray            # (d,) mean of all fitted vectors
    language_means: np.ndarray  # (languages, d)
    directions: np.ndarray      # (r, d) orthonormal: the language-identity directions ``project`` removes
    meanings: int               # training meanings per language the statistics were estimated on

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Centred, the language directions projected out, L2-normalised: no language label needed."""
        centred = np.asarray(vectors, dtype=np.float32) - self.mean
        return _unit(centred - (centred @ self.directions.T) @ self.directions)

    def center(self, vectors: np.ndarray, language: str) -> np.ndarray:
        """Minus the mean of ``language`` (which the caller must know), L2-normalised."""
        if language not in self.languages:
            raise InterlinguaError(f"no language mean for '{language}' (fitted: {', '.join(self.languages)})")
        return _unit(np.asarray(vectors, dtype=np.float32) - self.language_means[self.languages.index(language)])

    def save(self, path: str | Path) -> None:
        """safetensors (no pickle), written atomically."""
        from safetensors.numpy import save_file
        from .files import output_path
        tensors = {"mean": self.mean, "language_means": self.language_means, "directions": self.directions}
        metadata = {"kind": _KIND, "languages": json.dumps(self.languages), "meanings": str(self.meanings)}
        with output_path(path) as name:
            save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, name,
                      metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> "LanguageRemoval":
        from safetensors import SafetensorError, safe_open
        path = Path(path)
        if not path.is_file():
            raise InterlinguaError(f"{path}: missing language-removal file")
        try:
            with safe_open(str(path), framework="numpy") as f:
                metadata = f.metadata() or {}
                if metadata.get("kind") != _KIND:
                    raise ValueError(f"kind {metadata.get('kind')!r}")
                tensors = {k: f.get_tensor(k) for k in ("mean", "language_means", "directions")}
            languages = json.loads(metadata["languages"])
            d = tensors["mean"].shape[-1]
            if (tensors["mean"].ndim != 1 or tensors["language_means"].shape != (len(languages), d)
                    or tensors["directions"].ndim != 2 or tensors["directions"].shape[1] != d):
                raise ValueError("tensor shapes do not agree")
            removal = cls(languages, tensors["mean"], tensors["language_means"], tensors["directions"],
                          int(metadata["meanings"]))
        except (SafetensorError, OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise InterlinguaError(f"{path}: not a usable language-removal file ({exc}); fit it again with "
                                   f"`interlingua embed --fit-language-removal`") from None
        return removal

    @classmethod
    def of_run(cls, run: str | Path) -> "LanguageRemoval | None":
        """The run's statistics, or None when it has none (a corrupt file is an error, not silence)."""
        path = Path(run) / FILE
        return cls.load(path) if path.exists() else None


def _classifier_directions(vectors: dict[str, np.ndarray], removal: LanguageRemoval, seed: int = 0) -> np.ndarray:
    """(languages, d) the weights of a linear language classifier fitted on the vectors as ``project`` leaves them."""
    from sklearn.linear_model import LogisticRegression
    x = np.concatenate([removal.project(v) for v in vectors.values()])
    y = np.repeat(np.arange(len(vectors)), [len(v) for v in vectors.values()])
    return LogisticRegression(max_iter=1000, random_state=seed).fit(x, y).coef_


def fit(vectors: dict[str, np.ndarray], meanings: int, rank: int | None = None, rounds: int = 0) -> LanguageRemoval:
    """Statistics from {language: (n, d) vectors}, ideally of the same meanings in every language.

    ``rank``: how many directions of the language means ``project`` removes (default: all they span,
    one fewer than the languages). ``rounds``: then that many rounds of iterative nullspace projection
    (Ravfogel et al. 2020): fit a linear language classifier on what is left, add its weight
    directions to the removed ones, again; it finds language that is not in the means.
    """
    languages = list(vectors)
    if len(languages) < 2:
        raise InterlinguaError("language removal needs vectors of at least two languages")
    language_means = np.stack([np.asarray(vectors[lang], dtype=np.float64).mean(axis=0) for lang in languages])
    # the overall mean as the mean of the language means: a language with more sentences does not pull it
    mean = language_means.mean(axis=0)
    _, singular, right = np.linalg.svd(language_means - mean, full_matrices=False)
    spanned = int(np.sum(singular > singular[0] * 1e-6)) if singular[0] > 0 else 0
    rank = spanned if rank is None else min(rank, spanned)
    removal = LanguageRemoval(languages, mean.astype(np.float32), language_means.astype(np.float32),
                              right[:rank].astype(np.float32), meanings)
    for _ in range(rounds):
        found = np.concatenate([removal.directions, _classifier_directions(vectors, removal)]).astype(np.float64)
        basis, singular, _ = np.linalg.svd(found.T, full_matrices=False)  # an orthonormal basis of their span
        removal.directions = basis[:, singular > singular[0] * 1e-6].T.astype(np.float32)
    return removal


def fit_rows(embed, rows: list[dict[str, str]], languages: list[str], meanings: int = FIT_MEANINGS,
             rank: int | None = None, rounds: int = 0) -> LanguageRemoval:
    """Fit on the first ``meanings`` rows per language (``embed``: sentences -> raw vectors); rows that have every
    language come first, so the language means differ by language rather than by content."""
    full = [row for row in rows if all(lang in row for lang in languages)]
    rest = [row for row in rows if not all(lang in row for lang in languages)]
    vectors = {}
    for lang in languages:
        texts = [row[lang] for row in full + rest if lang in row][:meanings]
        if len(texts) >= 2:
            vectors[lang] = embed(texts)
    return fit(vectors, min((len(v) for v in vectors.values()), default=0), rank, rounds)


def fit_run(translator, run: str | Path, meanings: int = FIT_MEANINGS, rank: int | None = None,
            rounds: int = 0) -> LanguageRemoval:
    """Fit on the *training* split of the corpus the run learned from (never on test meanings)."""
    from .corpus.split import run_split
    found = run_split(Path(run), "train")
    if found is None or not found[0]:
        raise InterlinguaError(f"{Path(run) / 'run.json'}: no training split recorded to fit the language removal on")
    return fit_rows(lambda texts: translator.embed(texts, language_removal=False), found[0], translator.languages,
                    meanings, rank, rounds)
