"""Split a multi-way corpus by meaning, never by pair: a held-out meaning is unseen in every language.

``corpus.jsonl`` gets siblings ``corpus.train.jsonl``, ``corpus.dev.jsonl``, ``corpus.test.jsonl``.
The split is a pure function of the rows' ids and English texts and the seed, so it can always be
made again.

Software messages repeat with small changes ("Could not open file %s" / "Cannot open file '%s'"),
so a random split leaves a near-copy of most test meanings in training, which flatters the
translation memory and the model. The default split (``grouped``) therefore keeps near-duplicates
on one side: meanings whose English texts are the same once normalised (``grouping_key``), or whose
normalised texts have a fuzzy ratio of at least ``NEAR_DUPLICATE``, form one group (transitively),
and whole groups are held out. ``random`` is the old split by seeded shuffle of the ids, kept to
compare with.
"""
from __future__ import annotations

import logging
import random
import re
from collections.abc import Collection, Iterable
from pathlib import Path

from ..errors import InterlinguaError
from ..placeholders import PLACEHOLDER
from .clean import strip_accelerators
from .formats import ROW_ID, row_id_key

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
METHODS = ("grouped", "random")
NEAR_DUPLICATE = 90  # rapidfuzz fuzz.ratio (0-100) of two normalised texts at which they count as one message
_BLOCK = 512         # texts compared against the others at a time

_NOT_WORD = re.compile(r"[\W_]+")
# The same failure said four ways in software messages; "could not open file" and "cannot open file"
# are only 0.80 alike as characters, so without this the commonest near-duplicates would not meet.
_FAILURE = re.compile(r"\b(?:could not|couldn t|can not|cannot|can t|unable to|failed to)\b")


def grouping_key(english: str) -> str:
    """The English text as the grouping compares it: no accelerators, placeholders or punctuation, lower case,
    one way of saying "cannot". ``"_Open File…"`` and ``"Open file"`` both give ``"open file"``."""
    text = PLACEHOLDER.sub(" ", strip_accelerators(english)).lower()
    return _FAILURE.sub("cannot", " ".join(_NOT_WORD.sub(" ", text).split()))


def near_duplicate_groups(texts: list[str | None]) -> list[int]:
    """One group number per text: equal ``grouping_key``, or keys with fuzzy ratio ≥ ``NEAR_DUPLICATE``, share one.

    Groups are the connected components of that relation (union-find), so they do not depend on the
    order of ``texts``. Only texts of compatible length are compared (a ratio ≥ r needs the shorter
    key to be at least r / (2 - r) of the longer), which keeps 77k messages to seconds on one core.
    A text whose key is empty (nothing but placeholders and punctuation) or that is None (a meaning without
    English) stays alone: the training memory (``memory.py``) groups its rows with this, as the split does.
    """
    import numpy as np
    from rapidfuzz import fuzz, process

    keys = [grouping_key(text) if text else "" for text in texts]
    unique = sorted(set(keys) - {""}, key=lambda k: (len(k), k))
    parent = list(range(len(unique)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lengths = np.array([len(k) for k in unique])
    widest = (200 - NEAR_DUPLICATE) / NEAR_DUPLICATE
    for start in range(0, len(unique), _BLOCK):
        queries = unique[start:start + _BLOCK]
        # keys are sorted by length, so a block's partners are itself and the keys up to the reachable length
        end = int(np.searchsorted(lengths, len(queries[-1]) * widest, side="right"))
        scores = process.cdist(queries, unique[start:end], scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE,
                               dtype=np.uint8, workers=1)
        for a, b in zip(*np.nonzero(scores)):
            ra, rb = root(start + int(a)), root(start + int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    number = {key: root(i) for i, key in enumerate(unique)}
    alone = len(unique)
    groups = []
    for key in keys:
        if key:
            groups.append(number[key])
        else:
            groups.append(alone)
            alone += 1
    return groups


def held_out(meanings: Iterable[tuple[str, str | None]], dev: int = 500, test: int = 1000, seed: int = 1,
             method: str = "grouped", outside: Collection[str] = ()) -> dict[str, str]:
    """{id: "dev", "test" or "outside"} for ``dev`` and ``test`` meanings (at most a tenth each) of ``(id, English)``
    pairs, and for the ids of ``outside`` (a product held out whole; with ``grouped``, with their near-duplicates).

    ``random``: a seeded shuffle of the sorted ids. ``grouped``: a seeded shuffle of the near-duplicate
    groups (``near_duplicate_groups``), each named by its smallest id; a group goes whole to dev while it
    fits there, else whole to test while it fits there, else to training, so the sizes are exact and
    no held-out meaning has a near-copy in training. A meaning without English is a group of its own.
    """
    if method not in METHODS:
        raise InterlinguaError(f"unknown split method {method!r} (choose from {', '.join(METHODS)})")
    for name, size in (("dev", dev), ("test", test)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InterlinguaError(f"{name} must be a whole number of meanings, 0 or more (got {size!r})")
    english: dict[str, str | None] = {}
    for meaning_id, text in meanings:
        english.setdefault(meaning_id, text)
    ids = sorted(english)
    dev, test = min(dev, len(ids) // 10), min(test, len(ids) // 10)
    outside = set(outside)
    if method == "random":
        random.Random(seed).shuffle(ids)
        inside = [i for i in ids if i not in outside]
        return ({i: "dev" for i in inside[:dev]} | {i: "test" for i in inside[dev:dev + test]}
                | dict.fromkeys(outside & set(english), "outside"))

    with_text = [i for i in ids if english[i]]
    numbers = near_duplicate_groups([english[i] for i in with_text])
    members: dict[int, list[str]] = {}
    for i, number in zip(with_text, numbers):
        members.setdefault(number, []).append(i)
    # members come in id order, so each group is sorted and the list of groups sorts by smallest id
    groups = sorted([*members.values(), *([i] for i in ids if not english[i])])
    grouped = sum(len(g) for g in groups if len(g) > 1)
    log.info("grouped %s of %s meanings into %s groups of near-duplicates (largest %s); held out whole",
             f"{grouped:,}", f"{len(ids):,}", f"{sum(len(g) > 1 for g in groups):,}", max(map(len, groups), default=0))
    out: dict[str, str] = {}
    if outside:
        out = {i: "outside" for group in groups if outside.intersection(group) for i in group}
        log.info("outside test set: %s meanings (%s named, the rest their near-duplicates)",
                 f"{len(out):,}", f"{len(outside & set(english)):,}")
        groups = [group for group in groups if group[0] not in out]
    random.Random(seed).shuffle(groups)
    room = {"dev": dev, "test": test}
    for group in groups:
        name = next((n for n in ("dev", "test") if len(group) <= room[n]), None)
        if name is not None:
            room[name] -= len(group)
            out.update((i, name) for i in group)
        if not room["dev"] and not room["test"]:
            break
    return out


def split_rows(rows: list[dict[str, str]], dev: int = 500, test: int = 1000, seed: int = 1,
               method: str = "grouped", outside: Collection[str] = ()) -> dict[str, list[dict[str, str]]]:
    """Hold out ``dev`` and ``test`` meanings (at most a tenth of the corpus each), and ``outside`` if given,
    as ``held_out`` chooses."""
    held = held_out(((row[ROW_ID], row.get("en")) for row in rows), dev, test, seed, method, outside)
    out: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS + (("outside",) if outside else ())}
    for row in rows:
        out[held.get(row[ROW_ID], "train")].append(row)
    return out


def split_path(corpus: Path, split: str) -> Path:
    name = corpus.name
    stem = name[: -len(corpus.suffix)] if corpus.suffix else name
    return corpus.with_name(f"{stem}.{split}.jsonl")


def split_file(corpus: Path, dev: int = 500, test: int = 1000, seed: int = 1, method: str = "grouped",
               outside: Collection[str] = ()) -> dict[str, tuple[Path, int]]:
    """``split_rows`` for a corpus file of any size: {split: (path written, meanings)}.

    Two passes over the file: the first keeps only the ids and English texts, the second writes each
    row to its split as it is read. Memory grows with the English side, not with the translations;
    the splits are the same as ``split_rows`` gives.
    """
    import json
    from .formats import _atomic, iter_corpus
    corpus = Path(corpus)
    meanings = [(row[ROW_ID], row.get("en")) for row in iter_corpus(corpus)]
    _check_splittable(corpus, len(meanings), dev, test)
    held = held_out(meanings, dev, test, seed, method, outside)
    names = SPLITS + (("outside",) if outside else ())
    paths = {name: split_path(corpus, name) for name in names}
    counts = {name: 0 for name in names}
    with _atomic([paths[name] for name in names]) as files:
        outputs = dict(zip(names, files))
        for row in iter_corpus(corpus):
            name = held.get(row[ROW_ID], "train")
            outputs[name].write(json.dumps(row, ensure_ascii=False) + "\n")
            counts[name] += 1
    return {name: (paths[name], counts[name]) for name in names}


def _check_splittable(corpus: Path, meanings: int, dev: int, test: int) -> None:
    """An error before anything is written when asked to hold out meanings a corpus this small cannot give."""
    if meanings == 0:
        raise InterlinguaError(f"{corpus}: no rows with text in two languages, nothing to split")
    if (dev or test) and meanings < 10:
        raise InterlinguaError(f"{corpus}: {meanings} meaning(s) are too few to hold out dev and test meanings "
                               f"(each takes at most a tenth, so at least 10 are needed); add rows, or keep them "
                               f"all for training with --dev 0 --test 0")


def products_path(corpus: Path) -> Path:
    """``corpus.products.jsonl``: the catalog domains (products) each meaning of a harvested corpus came from."""
    return split_path(Path(corpus), "products")


def write_products(corpus: Path, products: Iterable[tuple[str, list[str]]]) -> Path:
    import json
    from .formats import _atomic
    path = products_path(corpus)
    with _atomic([path]) as (f,):
        for meaning_id, domains in products:
            f.write(json.dumps({ROW_ID: meaning_id, "products": domains}, ensure_ascii=False) + "\n")
    return path


def outside_ids(corpus: Path, products: Collection[str]) -> set[str]:
    """The ids of every meaning that one of ``products`` (catalog domains) translates, from ``products_path``."""
    import json
    path = products_path(corpus)
    if not path.is_file():
        raise InterlinguaError(f"{path}: no record of the products each meaning came from (written by: "
                               f"interlingua corpus build --out {corpus})")
    wanted, ids, seen = set(products), set(), set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            seen.update(record["products"])
            if wanted.intersection(record["products"]):
                ids.add(record[row_id_key(record.keys())])  # no texts here: the key decides, as in a header
    unknown = sorted(wanted - seen)
    if unknown:
        raise InterlinguaError(f"{path}: no such product: {', '.join(unknown)} (products are catalog domains, "
                               f"e.g. {', '.join(sorted(seen)[:5])})")
    return ids


def write_splits(corpus: Path, splits: dict[str, list[dict[str, str]]]) -> dict[str, Path]:
    """Each split beside ``corpus``, all or none: an empty split is an empty file, and an error in one
    leaves every split file as it was (it once left a new train file beside old dev and test ones)."""
    from .formats import _atomic, jsonl_text
    paths = {name: split_path(corpus, name) for name in splits}
    with _atomic(list(paths.values())) as files:
        for f, rows in zip(files, splits.values()):
            f.write(jsonl_text(rows))
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
    if sibling.exists():  # an empty one is a split asked to be empty (--dev 0), not a broken file
        return read_corpus(sibling) if sibling.stat().st_size else []
    if any(corpus.name.endswith(f".{s}.jsonl") for s in SPLITS):
        if split == "train":
            return read_corpus(corpus)
        own = corpus.with_name(corpus.name.replace(".train.jsonl", f".{split}.jsonl"))
        return read_corpus(own) if own.exists() else []
    return split_rows(read_corpus(corpus), seed=seed)[split]


def run_split(run: Path, split: str) -> tuple[list[dict[str, str]], str] | None:
    """The ``split`` rows of the corpus ``run`` was trained on (``load_split``) and a name for where they came
    from, or None when the run records no corpus. Nothing is written: the corpus folder is the user's."""
    from ..checkpoint import run_corpus
    corpus = run_corpus(Path(run))
    if corpus is None:
        return None
    sibling = split_path(corpus, split)
    return load_split(corpus, split), str(sibling if sibling.exists() else f"{corpus} ({split} split)")


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
