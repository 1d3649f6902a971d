"""The traditional approach, to know what the model adds over it.

* Translation memory: the output for a test sentence is the stored translation of the most
  similar training sentence in the same language (``rapidfuzz`` ``fuzz.ratio``, the edit-distance
  similarity CAT tools show as "fuzzy match %"; the exact search of ``memory.best_matches``, which says
  how scores are rounded and ties broken). Software messages repeat a lot, so this is a strong
  baseline; a test sentence found verbatim in the memory gets its stored translation back.
* Hand-made features for retrieval: character 2-4-gram TF-IDF, reduced by truncated SVD, and a
  linear map from each language into English fitted by ridge least squares on training pairs.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from ..errors import InterlinguaError
from ..memory import TranslationMemory
from .retrieval import ENGLISH, xsim_error
from .testset import Row

FIT_PER_LANGUAGE = 2000  # training sentences per language for the TF-IDF vocabulary and the SVD
MAP_PER_LANGUAGE = 5000  # training pairs per language for the linear map into English


def _need(module: str, package: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InterlinguaError(f"the baselines need {package}: pip install {package}") from None


def translation_memory_outputs(memory: TranslationMemory, directions,
                               progress: bool = True) -> dict[tuple[str, str], tuple[list[str], list[float]]]:
    """The memory's output for each direction's own test rows and how close each match is (fuzzy ratio 0-100,
    unrounded): {(src, tgt): (outputs, scores)}; one pass per source language."""
    by_source: dict[str, list] = {}
    for d in directions:
        by_source.setdefault(d.src, []).append(d)
    out = {}
    for src, group in tqdm(by_source.items(), desc="translation memory", unit="source language",
                           disable=not progress):
        queries = list(dict.fromkeys(s for d in group for s in d.sources))
        found = memory.best_in_language(src, queries, [d.tgt for d in group])
        position = {q: n for n, q in enumerate(queries)}
        for d in group:
            if found[d.tgt] is not None:  # min_score 0: every query has a match
                matches = [found[d.tgt][position[s]] for s in d.sources]
                out[(d.src, d.tgt)] = ([m.translation for m in matches], [m.score for m in matches])
    return out


def outputs_chrf(directions, memory_outputs: dict[tuple[str, str], tuple[list[str], list[float]]]
                 ) -> dict[tuple[str, str], float]:
    """chrF of the memory's outputs (``translation_memory_outputs``) against each direction's references."""
    from .metrics import chrf
    references = {(d.src, d.tgt): d.references for d in directions}
    return {key: chrf(outputs, references[key]) for key, (outputs, _) in memory_outputs.items()}


def translation_memory_chrf(memory: TranslationMemory, directions, progress: bool = True) -> dict[tuple[str, str], float]:
    """chrF of the memory's output on each direction's own test rows ({(src, tgt): chrF})."""
    return outputs_chrf(directions, translation_memory_outputs(memory, directions, progress))


# How close the memory's best match is, in the bands the memory-reading model is judged on (issue 13):
# a near-copy, a partial match it may repair, and (almost) nothing to go on.
MATCH_BANDS = (("90-100", 90.0, 101.0), ("50-89", 50.0, 90.0), ("0-49", 0.0, 50.0))


def by_match_band(directions, memory_outputs: dict[tuple[str, str], tuple[list[str], list[float]]]) -> dict:
    """chrF of the model and of the memory on the test rows whose best memory match falls in each band,
    pooled over the directions of each kind: {kind: {band: {"sentences", "chrf", "tm_chrf"}}}."""
    from .metrics import chrf
    pooled: dict[str, dict[str, tuple[list, list, list]]] = {}
    for d in directions:
        if (d.src, d.tgt) not in memory_outputs:
            continue
        outputs, scores = memory_outputs[(d.src, d.tgt)]
        bands = pooled.setdefault(d.kind, {name: ([], [], []) for name, _, _ in MATCH_BANDS})
        for hypothesis, reference, output, score in zip(d.hypotheses, d.references, outputs, scores):
            name = next(name for name, low, high in MATCH_BANDS if low <= score < high)
            for store, value in zip(bands[name], (hypothesis, reference, output)):
                store.append(value)
    return {kind: {name: {"sentences": len(refs), "chrf": chrf(hyps, refs) if refs else None,
                          "tm_chrf": chrf(tms, refs) if refs else None}
                   for name, (hyps, refs, tms) in bands.items()}
            for kind, bands in pooled.items()}


class CharNgramRetrieval:
    """Character n-gram TF-IDF + SVD sentence vectors, mapped into English space by per-language ridge regression."""

    def __init__(self, train_rows: list[Row], languages: list[str], *, components: int = 256,
                 max_features: int = 50000, fit_per_language: int = FIT_PER_LANGUAGE,
                 map_per_language: int = MAP_PER_LANGUAGE, seed: int = 0):
        text = _need("sklearn.feature_extraction.text", "scikit-learn")
        decomposition = _need("sklearn.decomposition", "scikit-learn")
        self.rows, self.seed, self.map_per_language = train_rows, seed, map_per_language
        sample = []
        for lang in languages:
            texts = [row[lang] for row in train_rows if lang in row]
            sample += self._sample(texts, fit_per_language)
        if not sample:
            raise InterlinguaError("the retrieval baseline found no training sentences in the test languages")
        self.tfidf = text.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                          max_features=max_features, dtype=np.float32)
        features = self.tfidf.fit_transform(sample)
        n = max(1, min(components, features.shape[1] - 1, features.shape[0] - 1))
        self.svd = decomposition.TruncatedSVD(n_components=n, random_state=seed)
        self.svd.fit(features)
        self._maps: dict[str, object] = {}

    def _sample(self, items: list, size: int) -> list:
        if len(items) <= size:
            return list(items)
        picked = np.random.default_rng(self.seed).choice(len(items), size=size, replace=False)
        return [items[i] for i in sorted(picked.tolist())]

    def vectors(self, texts: list[str]) -> np.ndarray:
        reduced = self.svd.transform(self.tfidf.transform(texts))
        return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-9)

    def _map(self, lang: str):
        if lang not in self._maps:
            linear = _need("sklearn.linear_model", "scikit-learn")
            pairs = self._sample([row for row in self.rows if lang in row and ENGLISH in row], self.map_per_language)
            if len(pairs) < 2:
                self._maps[lang] = None
            else:
                self._maps[lang] = linear.Ridge(alpha=1.0).fit(self.vectors([r[lang] for r in pairs]),
                                                               self.vectors([r[ENGLISH] for r in pairs]))
        return self._maps[lang]

    def xsim_error(self, lang: str, texts: list[str], english: list[str]) -> float | None:
        """X -> en xsim error of the mapped features (row i of ``texts`` translates row i of ``english``)."""
        mapping = self._map(lang) if lang != ENGLISH else None
        source = self.vectors(texts)
        if lang != ENGLISH:
            if mapping is None:
                return None
            source = mapping.predict(source)
        return xsim_error(source, self.vectors(english))
