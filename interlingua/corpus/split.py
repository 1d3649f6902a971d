"""Split a multi-way corpus by meaning, never by pair: a held-out meaning is unseen in every language.

``corpus.jsonl`` gets siblings ``corpus.train.jsonl``, ``corpus.dev.jsonl``, ``corpus.test.jsonl``.
The split is a pure function of the row ids and the seed, so it can always be made again.
"""
from __future__ import annotations

import random
from pathlib import Path

from ..errors import InterlinguaError

SPLITS = ("train", "dev", "test")


def split_rows(rows: list[dict[str, str]], dev: int = 500, test: int = 1000, seed: int = 1
               ) -> dict[str, list[dict[str, str]]]:
    """Hold out ``dev`` and ``test`` meanings (at most a tenth of the corpus each) chosen by seeded shuffle."""
    ids = sorted({row["id"] for row in rows})
    random.Random(seed).shuffle(ids)
    dev, test = min(dev, len(ids) // 10), min(test, len(ids) // 10)
    held = {i: "dev" for i in ids[:dev]} | {i: "test" for i in ids[dev:dev + test]}
    out: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS}
    for row in rows:
        out[held.get(row["id"], "train")].append(row)
    return out


def split_path(corpus: Path, split: str) -> Path:
    name = corpus.name
    stem = name[: -len(corpus.suffix)] if corpus.suffix else name
    return corpus.with_name(f"{stem}.{split}.jsonl")


def write_splits(corpus: Path, splits: dict[str, list[dict[str, str]]]) -> dict[str, Path]:
    from .formats import write_corpus
    paths = {}
    for name, rows in splits.items():
        paths[name] = split_path(corpus, name)
        write_corpus(rows, paths[name], "jsonl")
    return paths


def load_split(corpus: Path, split: str, seed: int = 1) -> list[dict[str, str]]:
    """The ``split`` rows of a corpus: from its saved sibling file, or made again by ``split_rows``.

    A file that is itself a split (``x.train.jsonl``) or has no siblings is used as the training data
    whole when ``split == "train"``.
    """
    from .formats import read_corpus
    corpus = Path(corpus)
    if not corpus.exists() and not str(corpus).count(","):
        raise InterlinguaError(f"{corpus}: no such corpus file (build one with: interlingua corpus build --out {corpus})")
    sibling = split_path(corpus, split)
    if sibling.exists():
        return read_corpus(sibling)
    if any(corpus.name.endswith(f".{s}.jsonl") for s in SPLITS):
        if split == "train":
            return read_corpus(corpus)
        own = corpus.with_name(corpus.name.replace(".train.jsonl", f".{split}.jsonl"))
        return read_corpus(own) if own.exists() else []
    return split_rows(read_corpus(corpus), seed=seed)[split]
