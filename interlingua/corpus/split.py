"""Split a multi-way corpus by meaning, never by pair: a held-out meaning is unseen in every language.

``corpus.jsonl`` gets siblings ``corpus.train.jsonl``, ``corpus.dev.jsonl``, ``corpus.test.jsonl``.
The split is a pure function of the row ids and the seed, so it can always be made again.
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from ..errors import InterlinguaError

SPLITS = ("train", "dev", "test")


def held_out(ids: Iterable[str], dev: int = 500, test: int = 1000, seed: int = 1) -> dict[str, str]:
    """{id: "dev" or "test"} for ``dev`` and ``test`` meanings (at most a tenth each), chosen by seeded shuffle."""
    ids = sorted(set(ids))
    random.Random(seed).shuffle(ids)
    dev, test = min(dev, len(ids) // 10), min(test, len(ids) // 10)
    return {i: "dev" for i in ids[:dev]} | {i: "test" for i in ids[dev:dev + test]}


def split_rows(rows: list[dict[str, str]], dev: int = 500, test: int = 1000, seed: int = 1
               ) -> dict[str, list[dict[str, str]]]:
    """Hold out ``dev`` and ``test`` meanings (at most a tenth of the corpus each) chosen by seeded shuffle."""
    held = held_out((row["id"] for row in rows), dev, test, seed)
    out: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS}
    for row in rows:
        out[held.get(row["id"], "train")].append(row)
    return out


def split_path(corpus: Path, split: str) -> Path:
    name = corpus.name
    stem = name[: -len(corpus.suffix)] if corpus.suffix else name
    return corpus.with_name(f"{stem}.{split}.jsonl")


def split_file(corpus: Path, dev: int = 500, test: int = 1000, seed: int = 1) -> dict[str, tuple[Path, int]]:
    """``split_rows`` for a corpus file of any size: {split: (path written, meanings)}.

    Two passes over the file: the first keeps only the ids, the second writes each row to its
    split as it is read. Memory grows with the number of ids, not with the texts; the splits are
    the same as ``split_rows`` gives.
    """
    import json
    from .formats import _atomic, iter_corpus
    corpus = Path(corpus)
    held = held_out((row["id"] for row in iter_corpus(corpus)), dev, test, seed)
    paths = {name: split_path(corpus, name) for name in SPLITS}
    counts = {name: 0 for name in SPLITS}
    with _atomic([paths[name] for name in SPLITS]) as files:
        outputs = dict(zip(SPLITS, files))
        for row in iter_corpus(corpus):
            name = held.get(row["id"], "train")
            outputs[name].write(json.dumps(row, ensure_ascii=False) + "\n")
            counts[name] += 1
    return {name: (paths[name], counts[name]) for name in SPLITS}


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


def train_shards(corpus: Path) -> list[Path]:
    """The JSONL files of the training split, for streaming, in a fixed order.

    ``corpus.jsonl`` -> its sibling ``corpus.train.jsonl`` and/or shards ``corpus.train.00000.jsonl``,
    ``corpus.train.00001.jsonl``, ...; a file that is itself ``*.train.jsonl`` -> that file; a folder
    -> every ``*.jsonl`` in it. The split must exist already: streaming never holds the whole corpus
    to split it (``interlingua corpus split`` writes it once).
    """
    corpus = Path(corpus)
    if corpus.is_dir():
        shards = sorted(corpus.glob("*.jsonl"))
    elif corpus.name.endswith(".train.jsonl"):
        shards = [corpus]
    else:
        stem = split_path(corpus, "train").name[: -len(".jsonl")]
        shards = sorted(p for p in [split_path(corpus, "train"), *corpus.parent.glob(f"{stem}.*.jsonl")]
                        if p.is_file())
    if not shards:
        raise InterlinguaError(f"{corpus}: no training split to stream (expected {split_path(corpus, 'train')}, "
                               f"shards {split_path(corpus, 'train').name[:-6]}.NNNNN.jsonl, or a folder of "
                               f".jsonl files; write one with: interlingua corpus split {corpus})")
    return shards


def stream_dev_rows(corpus: Path) -> list[dict[str, str]]:
    """The dev split beside a streamed corpus (small, so read whole), or none."""
    from .formats import read_corpus
    corpus = Path(corpus)
    if corpus.is_dir():
        path = corpus.parent / f"{corpus.name}.dev.jsonl"
    elif corpus.name.endswith(".train.jsonl"):
        path = corpus.with_name(corpus.name.replace(".train.jsonl", ".dev.jsonl"))
    else:
        path = split_path(corpus, "dev")
    return read_corpus(path) if path.is_file() else []
