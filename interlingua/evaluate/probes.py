"""Language-identification probe: how much does each layer's vector still say which language it read?

A classifier (standardised features, then logistic regression, or a small MLP) learns the language from the
vectors of one half of the test *meanings* and is scored on the other half, so no meaning is
in both halves and the probe cannot win by remembering sentences. Every language has the same
number of sentences in each half, so chance is exactly 1 / number of languages. Embeddings
(``layer0``) should be near 1.0; a language-free thought is near chance. The MLP beside the linear
probe is there because "a linear probe fails" is a weaker claim than "no probe succeeds".
"""
from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from ..errors import InterlinguaError
from .testset import Row, first_rows
from .vectors import LayerVectors

log = logging.getLogger("interlingua.evaluate")

PROBE_SENTENCES = 400  # per language, both halves together
MIN_PER_HALF = 3       # a language with fewer sentences in a half is left out of the probe
PROBES = ("linear", "mlp")
MLP_HIDDEN = 256       # one hidden layer as wide as the base thought


def _classifier(kind: str, seed: int):
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise InterlinguaError("the language-ID probe needs scikit-learn: pip install scikit-learn") from None
    if kind == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    if kind == "mlp":
        return make_pipeline(StandardScaler(), MLPClassifier((MLP_HIDDEN,), alpha=1e-3, max_iter=500,
                                                             random_state=seed))
    raise ValueError(f"unknown probe {kind!r} (choose from {', '.join(PROBES)})")


def split_by_meaning(groups, seed: int = 0) -> np.ndarray:
    """A boolean train mask: a seeded half of the distinct groups (meanings) is train, the rest test."""
    groups = np.asarray(groups)
    distinct = np.array(sorted(set(groups.tolist())), dtype=object)
    order = np.random.default_rng(seed).permutation(len(distinct))
    train = set(distinct[order[: (len(distinct) + 1) // 2]].tolist())
    return np.array([g in train for g in groups.tolist()], dtype=bool)


def probe_accuracy(vectors: np.ndarray, labels, train: np.ndarray, seed: int = 0, kind: str = "linear") -> float:
    """Accuracy on the ``~train`` rows of a classifier (``kind``: linear or mlp) fitted on the ``train`` rows."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    vectors, labels, train = np.asarray(vectors, dtype=np.float64), np.asarray(labels), np.asarray(train, dtype=bool)
    if len(set(labels[train].tolist())) < 2 or not (~train).any():
        raise ValueError("a probe needs two labels in the train half and a non-empty test half")
    model = _classifier(kind, seed)
    with warnings.catch_warnings():  # an MLP that has not converged in max_iter is still a probe; say nothing
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(vectors[train], labels[train])
    return float(np.mean(model.predict(vectors[~train]) == labels[~train]))


def balanced_items(rows: list[Row], languages: list[str], per_language: int = PROBE_SENTENCES,
                   seed: int = 0) -> list[tuple[str, int, bool]]:
    """(language, row position, in train half) with the same number of sentences per language in each half.

    Meanings are split first (``split_by_meaning`` over row positions), then each language gets
    the same count in each half, sampled with a fixed seed; a language too rare for that is left out.
    """
    train = split_by_meaning(range(len(rows)), seed)
    halves = {}
    for lang in languages:
        having = first_rows(rows, [lang])
        halves[lang] = ([i for i in having if train[i]], [i for i in having if not train[i]])
    kept = {lang: h for lang, h in halves.items() if min(len(h[0]), len(h[1])) >= MIN_PER_HALF}
    if len(kept) < len(halves):
        log.info("language-ID probe: too few test sentences for %s", ", ".join(sorted(set(halves) - set(kept))))
    if len(kept) < 2:
        return []
    rng = np.random.default_rng(seed)
    items = []
    for half, is_train in ((0, True), (1, False)):
        count = min(per_language // 2 if is_train else per_language - per_language // 2,
                    *(len(h[half]) for h in kept.values()))
        for lang, h in kept.items():
            picked = sorted(rng.choice(len(h[half]), size=count, replace=False).tolist())
            items.extend((lang, h[half][j], is_train) for j in picked)
    return items


def evaluate_probes(vectors: LayerVectors, rows: list[Row], languages: list[str], *,
                    per_language: int = PROBE_SENTENCES, seed: int = 0, progress: bool = True, kind: str = "linear"
                    ) -> tuple[dict[str, float], float | None]:
    """({layer: language-ID accuracy on held-out meanings}, chance level); ({}, None) with < 2 languages.

    ``vectors``: anything with ``LayerVectors.get`` (``RemovedVectors`` too); ``kind``: linear or mlp.
    """
    items = balanced_items(rows, languages, per_language, seed)
    if not items:
        return {}, None
    by_lang: dict[str, list[int]] = {}
    for n, (lang, i, _) in enumerate(items):
        by_lang.setdefault(lang, []).append(n)
    parts = {lang: vectors.get(lang, rows, [items[n][1] for n in ns]) for lang, ns in by_lang.items()}
    order = [n for ns in by_lang.values() for n in ns]
    labels = np.array([items[n][0] for n in order])
    train = np.array([items[n][2] for n in order])
    layers = LayerVectors.layer_order(next(iter(parts.values())))
    accuracy = {}
    for layer in tqdm(layers, desc=f"language-ID probe ({kind})", unit="layer", disable=not progress):
        stacked = np.concatenate([parts[lang][layer] for lang in by_lang])
        accuracy[layer] = probe_accuracy(stacked, labels, train, seed, kind)
    return accuracy, 1.0 / len(by_lang)
