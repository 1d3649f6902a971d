"""Cross-lingual retrieval (xsim): can the vector of a sentence find its translation among all candidates?

For a language X, the rows having both X and English give n pairs. Each X vector is compared by
cosine with all n English vectors; it is an error when the nearest one is not its own
translation. The error rate (0 is perfect, 1 - 1/n is chance) is the xsim of LASER (Artetxe &
Schwenk 2019). The *margin* version ranks candidates by the ratio margin instead of the raw
cosine, which discounts "hub" sentences that are near everything:

    margin(x, y) = cos(x, y) / (sum_{z in NN_k(x)} cos(x, z) / 2k + sum_{z in NN_k(y)} cos(y, z) / 2k)

where NN_k(x) are the k nearest English candidates of x and NN_k(y) the k nearest X sentences of y.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from .testset import Row, first_rows
from .vectors import LayerVectors

ENGLISH = "en"
_EPS = 1e-9


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _EPS)


def cosine_matrix(src_vecs: np.ndarray, tgt_vecs: np.ndarray) -> np.ndarray:
    """(n, m) cosine similarities of every source vector with every target vector."""
    return _unit(src_vecs) @ _unit(tgt_vecs).T


def margin(cosine, src_neighbourhood, tgt_neighbourhood):
    """The ratio margin of cosines, given the mean cosine of each side's k nearest neighbours (the formula
    above, and the score ``mine`` ranks pairs by): NumPy arrays or torch tensors that broadcast together."""
    # neighbourhoods of negative mean cosine: clipped
    return cosine / ((src_neighbourhood + tgt_neighbourhood) / 2).clip(min=_EPS)


def ratio_margin(similarity: np.ndarray, k: int = 4) -> np.ndarray:
    """The ratio-margin score of every (source, target) pair of a cosine matrix; k is capped by n - 1."""
    n_src, n_tgt = similarity.shape
    k_src = max(1, min(k, n_tgt - 1))  # neighbours of a source among the targets
    k_tgt = max(1, min(k, n_src - 1))  # neighbours of a target among the sources
    knn_src = np.sort(similarity, axis=1)[:, -k_src:].sum(axis=1) / k_src
    knn_tgt = np.sort(similarity, axis=0)[-k_tgt:, :].sum(axis=0) / k_tgt
    return margin(similarity, knn_src[:, None], knn_tgt[None, :])


def xsim_error(src_vecs: np.ndarray, tgt_vecs: np.ndarray, margin: bool = False, k: int = 4) -> float:
    """Error rate of finding row i of ``tgt_vecs`` as the best match of row i of ``src_vecs``."""
    src_vecs, tgt_vecs = np.asarray(src_vecs), np.asarray(tgt_vecs)
    if src_vecs.shape[0] != tgt_vecs.shape[0]:
        raise ValueError(f"xsim needs aligned rows: {src_vecs.shape[0]} sources, {tgt_vecs.shape[0]} targets")
    n = src_vecs.shape[0]
    if n == 0:
        return float("nan")
    scores = cosine_matrix(src_vecs, tgt_vecs)
    if margin and n > 1:
        scores = ratio_margin(scores, k)
    return float(np.mean(scores.argmax(axis=1) != np.arange(n)))


def xsim_by_layer(src_layers: dict[str, np.ndarray], tgt_layers: dict[str, np.ndarray]) -> dict[str, float]:
    """{layer: xsim error} for two ``Translator.layer_vectors`` results of aligned sentences."""
    return {layer: xsim_error(src_layers[layer], tgt_layers[layer]) for layer in src_layers if layer in tgt_layers}


def retrieval_rows(rows: list[Row], lang: str, max_sentences: int | None = None) -> list[int]:
    """The first rows having ``lang`` and English, without repeated texts on either side.

    A repeated English text would be a second right answer that xsim counts as wrong.
    """
    seen_x, seen_en, chosen = set(), set(), []
    for i in first_rows(rows, [lang, ENGLISH]):
        if rows[i][lang] in seen_x or rows[i][ENGLISH] in seen_en:
            continue
        seen_x.add(rows[i][lang])
        seen_en.add(rows[i][ENGLISH])
        chosen.append(i)
        if max_sentences is not None and len(chosen) >= max_sentences:
            break
    return chosen


def evaluate_retrieval(vectors: LayerVectors, rows: list[Row], languages: list[str], *,
                       max_sentences: int | None = None, k: int = 4, progress: bool = True
                       ) -> tuple[dict[str, dict], dict[str, float], dict[str, list[int]]]:
    """(per language X: xsim errors, per layer: retrieval accuracy X->en, the rows used per language).

    Per language: ``xsim_error`` (X->en, pooled vectors), ``xsim_error_reverse`` (en->X),
    ``xsim_error_margin`` (X->en, ratio margin) and ``sentences``. Per layer: 1 - the X->en
    xsim error of that layer's vectors, averaged over languages.
    """
    per_language, per_layer, used = {}, {}, {}
    if ENGLISH not in languages:
        return per_language, per_layer, used
    for lang in tqdm([lang for lang in languages if lang != ENGLISH], desc="retrieval", unit="language",
                     disable=not progress):
        chosen = retrieval_rows(rows, lang, max_sentences)
        if len(chosen) < 2:
            continue
        x, en = vectors.get(lang, rows, chosen), vectors.get(ENGLISH, rows, chosen)
        per_language[lang] = {"sentences": len(chosen),
                              "xsim_error": xsim_error(x["pooled"], en["pooled"]),
                              "xsim_error_reverse": xsim_error(en["pooled"], x["pooled"]),
                              "xsim_error_margin": xsim_error(x["pooled"], en["pooled"], margin=True, k=k)}
        errors = xsim_by_layer(x, en)
        for layer in LayerVectors.layer_order(errors):
            per_layer.setdefault(layer, []).append(1.0 - errors[layer])
        used[lang] = chosen
    return per_language, {layer: float(np.mean(values)) for layer, values in per_layer.items()}, used
