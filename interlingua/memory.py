"""The translation memory the model reads (``model.memory``): for a source sentence, the most similar
source in the memory, its translation in the target language, and how similar the two sources are.

Similarity is rapidfuzz ``fuzz.ratio``, the edit-distance percentage CAT tools show as a fuzzy match, and
:func:`best_matches` is the one search for a text's best match among many (fast, or exact where a figure
needs the true best). Three uses:

* translating (:meth:`TranslationMemory.lookup`): each query against every text of the memory in any
  language but the target's. The model is never told the source language, and neither is this: a
  sentence only matches well in its own language.
* training (:meth:`TranslationMemory.training_match`): the training rows against each other. A row never
  finds itself nor a near-duplicate of its own meaning (the split's grouping,
  ``corpus.split.near_duplicate_groups``), or the model would only learn to copy. This search (a trigram
  shortlist scored exactly, ``_search``) is the costly part: it is made once per memory and source language
  and cached beside the memory file
  (``<file>.memory-<lang>.npz``, plain arrays, read with ``allow_pickle=False``), with a fingerprint of
  the rows it was made from, so a changed memory is searched again.
* a same-language exact search (:meth:`TranslationMemory.best_in_language`): evaluate's translation-memory
  baseline and ``translate-file --tm`` (``localize/memory.py``).
"""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus.formats import ROW_ID
from .errors import InterlinguaError

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "tmx", "po", "tsv")  # what a memory file may be (corpus/formats.py reads them all)
NEIGHBOURS = 8      # training candidates kept per sentence: the best one that has the target language is used
CANDIDATES = 64     # training: texts shortlisted per sentence by trigram cosine, then scored exactly (_search)
_BLOCK = 256        # training: sentences shortlisted against the memory at a time
_LOOKUP_BLOCK = 32  # translating: queries at a time (a dense row of cosines per text of the memory each)
_EXACT_BLOCK = 256  # exact search: queries scored against every text at a time (a uint8 row per text each)
SEARCH_VERSION = "trigram-shortlist-1"  # in the cache's fingerprint: a changed search makes old indexes stale


@dataclass(frozen=True)
class Match:
    translation: str   # the memory's translation in the target language
    source: str        # the memory's sentence that matched the query
    score: float       # fuzz.ratio of query and source, 0-100


class Trigrams:
    """L2-normalised TF-IDF vectors of character trigrams (scipy CSR, float32): the shortlist's similarity is their
    cosine. Texts with many trigrams in common are the only ones that can have a high edit-distance ratio."""

    def __init__(self, texts: list[str]):
        from scipy.sparse import csr_matrix
        from sklearn.feature_extraction.text import TfidfVectorizer
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True,
                                          dtype=np.float32)
        try:
            self.matrix = self.vectorizer.fit_transform(texts).tocsr()
        except ValueError:  # not one trigram in any text (all empty): every cosine is 0, every pair a candidate
            self.vectorizer, self.matrix = None, csr_matrix((len(texts), 1), dtype=np.float32)

    def transform(self, texts: list[str]):
        from scipy.sparse import csr_matrix
        if self.vectorizer is None:
            return csr_matrix((len(texts), 1), dtype=np.float32)
        return self.vectorizer.transform(texts).tocsr()


def shortlist(cosine: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``cosine`` (queries x texts), the columns of its ``k`` largest values, in ascending order
    (so that ties go to the earlier text when they are scored)."""
    if k >= cosine.shape[1]:
        return np.broadcast_to(np.arange(cosine.shape[1]), cosine.shape)
    return np.sort(np.argpartition(-cosine, k - 1, axis=1)[:, :k], axis=1)


Found = tuple[int, float]  # (position among the texts searched, fuzz.ratio of the query and that text)


def best_matches(queries: list[str], texts: list[str], min_score: float = 0.0, *, exact: bool = False,
                 among: list[np.ndarray] | None = None, trigrams: tuple[Trigrams, object] | None = None
                 ) -> list[list[Found | None]]:
    """The best fuzzy match of each query among ``texts``: per subset of them in ``among`` (ascending positions;
    default: one subset, all of them), per query, its best match, or None where that scores below ``min_score``
    (0: every query gets one) or the subset is empty.

    * fast (``exact=False``): the ``CANDIDATES`` texts nearest by trigram cosine are scored and the highest ratio
      wins, ties to the earlier text. ``trigrams``: (a fitted :class:`Trigrams`, the texts' vectors transposed, CSR),
      fitted on ``texts`` when not given. It can miss a weak best match (docs/performance.md).
    * exact: every text is scored (``process.cdist``, all cores); the best is the highest ratio rounded half up to
      a whole percent (cdist's uint8, which keeps a block's matrix small), ties to the earliest text, and its
      score is its unrounded ratio. Evaluate's translation-memory baseline has always chosen this way, so a
      text at 85.2% can win over a later one at 85.4%, and ``min_score`` is checked on the winner's ratio only.
    """
    from rapidfuzz import fuzz, process
    everything = np.arange(len(texts))
    subsets = [np.asarray(c, dtype=np.int64) for c in among] if among is not None else [everything]
    out: list[list[Found | None]] = [[None] * len(queries) for _ in subsets]
    if not texts:
        return out
    if not exact and trigrams is None:
        fitted = Trigrams(texts)
        trigrams = (fitted, fitted.matrix.T.tocsr())
    block = _EXACT_BLOCK if exact else _LOOKUP_BLOCK
    for start in range(0, len(queries), block):
        chunk = queries[start:start + block]
        if exact:
            similarity = process.cdist(chunk, texts, scorer=fuzz.ratio, dtype=np.uint8, workers=-1)
        else:
            similarity = (trigrams[0].transform(chunk) @ trigrams[1]).toarray()
        for found, columns in zip(out, subsets):
            if not len(columns):
                continue
            within = similarity if columns is everything else similarity[:, columns]
            if exact:
                for offset, j in enumerate(columns[within.argmax(axis=1)].tolist()):
                    score = fuzz.ratio(chunk[offset], texts[j])
                    if score >= min_score:
                        found[start + offset] = (j, score)
                continue
            for offset, near in enumerate(shortlist(within, CANDIDATES)):
                near = columns[near]
                hit = process.extractOne(chunk[offset], [texts[j] for j in near], scorer=fuzz.ratio,
                                         score_cutoff=min_score)
                if hit is not None:
                    found[start + offset] = (int(near[hit[2]]), hit[1])
    return out


class TranslationMemory:
    """Multi-way rows (``{"_id": .., "en": .., "fr": ..}``) searched by fuzzy match.

    ``path``: the file the rows came from, beside which the training index is cached (none without it).
    """

    def __init__(self, rows: list[dict[str, str]], path: Path | None = None):
        self.rows, self.path = rows, path
        self._candidates: dict[str, tuple[list[str], np.ndarray, object]] = {}
        self._trigrams: tuple[Trigrams, dict[str, int]] | None = None
        self._neighbours: dict[tuple[str, float], tuple[dict[int, int], np.ndarray, np.ndarray]] = {}
        self._group_numbers: np.ndarray | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> "TranslationMemory":
        """A memory file in any format the corpus readers know (JSONL, TMX, PO, TSV): one clear error if it is
        missing, of another format, or holds no translation."""
        from .corpus.formats import detect_format, read_corpus
        path = Path(path)
        if not path.is_file():
            raise InterlinguaError(f"{path}: no such translation memory file" if not path.exists()
                                   else f"{path}: a translation memory must be a file, not a folder")
        try:
            fmt = detect_format(path)
        except InterlinguaError:
            fmt = None
        if fmt not in FORMATS:
            raise InterlinguaError(f"{path}: not a translation memory format (use .tmx, .po, .jsonl or .tsv)")
        if path.stat().st_size == 0:
            raise InterlinguaError(f"{path}: empty translation memory")
        return cls(read_corpus(path), path)

    # -- translating ---------------------------------------------------------------------------

    def _texts_for(self, target: str) -> tuple[list[str], np.ndarray, object]:
        """Every text of a row that has ``target``, in the row's other languages (once each), its row, and the
        texts' trigram vectors (one vocabulary for the whole memory, fitted once)."""
        if target not in self._candidates:
            first: dict[str, int] = {}
            for i, row in enumerate(self.rows):
                if row.get(target):
                    for lang, text in row.items():
                        if lang not in (ROW_ID, target) and text:
                            first.setdefault(text, i)
            texts = list(first)
            trigrams = self._all_trigrams()
            positions = [trigrams[1][text] for text in texts]
            # kept transposed, in CSR: a product with a CSC right-hand side converts it anew at every call
            self._candidates[target] = (texts, np.fromiter(first.values(), dtype=np.int64, count=len(first)),
                                        trigrams[0].matrix[positions].T.tocsr())
        return self._candidates[target]

    def _all_trigrams(self) -> tuple[Trigrams, dict[str, int]]:
        """The trigram vectors of every distinct text of the memory, and each text's position among them."""
        if self._trigrams is None:
            position: dict[str, int] = {}
            for row in self.rows:
                for lang, text in row.items():
                    if lang != ROW_ID and text:
                        position.setdefault(text, len(position))
            self._trigrams = (Trigrams(list(position)), position)
        return self._trigrams

    def lookup(self, queries: list[str], target: str, min_score: float) -> list[Match | None]:
        """For each query: the best match of at least ``min_score`` (above 0) among the rows that have ``target``,
        or None. The fast search (:func:`best_matches`), as in training: a query costs a sparse product and 64
        ratios, not one ratio per text of the memory."""
        texts, rows, transposed = self._texts_for(target)
        [found] = best_matches(queries, texts, min_score, trigrams=(self._all_trigrams()[0], transposed))
        return [Match(self.rows[rows[hit[0]]][target], texts[hit[0]], hit[1]) if hit is not None else None
                for hit in found]

    def best_in_language(self, lang: str, queries: list[str], targets: list[str], min_score: float = 0.0
                         ) -> dict[str, list[Match | None] | None]:
        """For each target: the best match of each query among the ``lang`` texts of the rows having that target
        (the exact search of :func:`best_matches`: its rounding and ties), None where it scores below ``min_score``;
        None for a target no row has. A row counts by its keys, as evaluate's baseline always did: an empty text
        is a text. All targets share one similarity matrix."""
        candidates = [i for i, row in enumerate(self.rows) if lang in row and any(t in row for t in targets)]
        columns = {t: np.array([j for j, i in enumerate(candidates) if t in self.rows[i]], dtype=np.int64)
                   for t in targets}
        present = [t for t in targets if len(columns[t])]
        texts = [self.rows[i][lang] for i in candidates]
        found = best_matches(queries, texts, min_score, exact=True, among=[columns[t] for t in present])
        out: dict[str, list[Match | None] | None] = dict.fromkeys(targets)
        for target, hits in zip(present, found):
            out[target] = [Match(self.rows[candidates[hit[0]]][target], texts[hit[0]], hit[1])
                           if hit is not None else None for hit in hits]
        return out

    # -- training --------------------------------------------------------------------------------

    def training_match(self, row: int, source: str, target: str, min_score: float) -> tuple[int, float] | None:
        """(row index, score) of the best match of row ``row``'s ``source`` text having ``target``, never the
        row itself nor a near-duplicate of its meaning; None below ``min_score``."""
        position, neighbours, scores = self._training_index(source, min_score)
        where = position.get(row)
        if where is None:
            return None
        for j, score in zip(neighbours[where], scores[where]):
            if j < 0:
                break
            if self.rows[j].get(target):
                return int(j), float(score)
        return None

    def _training_index(self, lang: str, min_score: float) -> tuple[dict[int, int], np.ndarray, np.ndarray]:
        """{row: position}, and per position the ``NEIGHBOURS`` best other rows (-1: none) and their scores."""
        key = (lang, float(min_score))
        if key not in self._neighbours:
            members = [i for i, row in enumerate(self.rows) if row.get(lang)]
            texts = [self.rows[i][lang] for i in members]
            groups = self._groups()[members]
            fingerprint = self._fingerprint(texts, groups, min_score)
            cached = self._read_cache(lang, fingerprint)
            neighbours, scores = cached if cached is not None else self._search(texts, groups, min_score)
            if cached is None:
                self._write_cache(lang, fingerprint, neighbours, scores)
            rows = np.asarray(members, dtype=np.int64)
            neighbours = np.where(neighbours >= 0, rows[np.maximum(neighbours, 0)], -1)  # positions -> rows
            self._neighbours[key] = ({i: n for n, i in enumerate(members)}, neighbours, scores)
        return self._neighbours[key]

    def _groups(self) -> np.ndarray:
        """Each row's near-duplicate group, by its English text, exactly as the split groups meanings."""
        from .corpus.split import near_duplicate_groups
        if self._group_numbers is None:
            self._group_numbers = np.asarray(near_duplicate_groups([row.get("en") for row in self.rows]),
                                             dtype=np.int64)
        return self._group_numbers

    @staticmethod
    def _search(texts: list[str], groups: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
        """Each text's ``NEIGHBOURS`` best others by fuzzy ratio, its own group masked out.
        -> (positions, scores), (n, NEIGHBOURS), -1 / 0 where there is none.

        Scoring all pairs is quadratic (~2 hours for 70k texts of one language at a cutoff of 50, where
        lengths up to 3x apart must be compared), so this shortlists first, as retrieval systems do: the
        ``CANDIDATES`` texts nearest by cosine of character trigram TF-IDF vectors (one sparse product
        per block), which are then scored exactly with ``fuzz.ratio``. Two texts with a high edit-distance
        ratio share most of their trigrams, so the best fuzzy matches are almost always among them;
        a memory of at most ``CANDIDATES`` texts is searched exactly."""
        from rapidfuzz import fuzz, process
        n = len(texts)
        neighbours = np.full((n, NEIGHBOURS), -1, dtype=np.int64)
        best = np.zeros((n, NEIGHBOURS), dtype=np.uint8)
        if n == 0:
            return neighbours, best
        vectors = Trigrams(texts).matrix
        transposed = vectors.T.tocsr()  # once: a CSC right-hand side would be converted at every block
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            cosine = (vectors[start:stop] @ transposed).toarray()
            cosine[groups[start:stop, None] == groups[None, :]] = -1.0  # never itself or its near-duplicates
            for offset, row in enumerate(shortlist(cosine, CANDIDATES)):
                i = start + offset
                row = row[groups[row] != groups[i]]
                found = process.extract(texts[i], [texts[j] for j in row], scorer=fuzz.ratio,
                                        score_cutoff=min_score, limit=NEIGHBOURS)
                for slot, (_, score, k) in enumerate(found):  # best first; ties to the earlier text
                    j = int(row[k])
                    neighbours[i, slot], best[i, slot] = j, int(score + 0.5)  # as cdist rounds to uint8 (half up)
        return neighbours, best

    # -- the cache beside the memory file -----------------------------------------------------------

    def cache_path(self, lang: str) -> Path | None:
        return self.path.with_name(f"{self.path.name}.memory-{lang}.npz") if self.path is not None else None

    @staticmethod
    def _fingerprint(texts: list[str], groups: np.ndarray, min_score: float) -> str:
        digest = hashlib.sha256(f"{SEARCH_VERSION}|{min_score}|{NEIGHBOURS}|{CANDIDATES}|".encode())
        for text, group in zip(texts, groups.tolist()):
            digest.update(f"{group}\t{text}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _read_cache(self, lang: str, fingerprint: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.cache_path(lang)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) != fingerprint:
                    return None
                return saved["neighbours"].astype(np.int64), saved["scores"].astype(np.uint8)
        except (OSError, ValueError, KeyError):  # unreadable or of another layout: search again, overwrite it
            log.info("%s: not a usable memory index; searching again", path)
            return None

    def _write_cache(self, lang: str, fingerprint: str, neighbours: np.ndarray, scores: np.ndarray) -> None:
        from .files import atomic_write_bytes
        path = self.cache_path(lang)
        if path is None:
            return
        buffer = io.BytesIO()
        np.savez(buffer, fingerprint=np.array(fingerprint), neighbours=neighbours.astype(np.int32), scores=scores)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except InterlinguaError as exc:  # a read-only corpus folder: the run goes on, only slower next time
            log.warning("memory index not cached (%s)", exc)
