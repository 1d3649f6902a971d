"""Sentence vectors of every depth, computed once per (language, test row) and shared by retrieval and probes."""
from __future__ import annotations

import numpy as np

from .testset import Row


class LayerVectors:
    """``get(lang, rows, positions)`` -> {layer name: (len(positions), dim) array}, from ``Translator.layer_vectors``.

    Layer names: ``layer0`` (embeddings), ``layer1``..``layerN`` (encoder), ``thought``, ``pooled``
    (the vector ``Translator.embed`` returns).
    """

    def __init__(self, translator):
        self.translator = translator
        self._index: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, dict[str, np.ndarray]] = {}

    def get(self, lang: str, rows: list[Row], positions: list[int]) -> dict[str, np.ndarray]:
        index = self._index.setdefault(lang, {})
        missing = list(dict.fromkeys(i for i in positions if i not in index))
        if missing:
            computed = self.translator.layer_vectors([rows[i][lang] for i in missing])
            start = len(index)
            stored = self._arrays.get(lang)
            self._arrays[lang] = {key: value if stored is None else np.concatenate([stored[key], value])
                                  for key, value in computed.items()}
            index.update((i, start + n) for n, i in enumerate(missing))
        arrays = self._arrays.get(lang, {})
        take = np.fromiter((index[i] for i in positions), dtype=np.int64, count=len(positions))
        return {key: value[take] for key, value in arrays.items()}

    @staticmethod
    def layer_order(names) -> list[str]:
        """layer0, layer1, ..., thought, pooled: the order a sentence goes through them."""
        layers = sorted((n for n in names if n.startswith("layer")), key=lambda n: int(n[5:]))
        return layers + [n for n in ("thought", "pooled") if n in names]


class RemovedVectors:
    """The ``pooled`` vectors of a ``LayerVectors`` after language removal (``language_removal.py``), as the same
    ``get``: ``method`` is ``project`` (what ``embed`` applies) or ``center`` (needs the language: here it is known)."""

    def __init__(self, vectors: LayerVectors, removal, method: str):
        if method not in ("project", "center"):
            raise ValueError(f"unknown language-removal method {method!r}")
        self.vectors, self.removal, self.method = vectors, removal, method

    def get(self, lang: str, rows: list[Row], positions: list[int]) -> dict[str, np.ndarray]:
        pooled = self.vectors.get(lang, rows, positions)["pooled"]
        if self.method == "center":
            return {"pooled": self.removal.center(pooled, lang)}
        return {"pooled": self.removal.project(pooled)}
