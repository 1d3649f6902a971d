"""``translate-file --tm``: memory first, then the model (as Weblate's automatic translation and
``pot2po --tm`` work).

The memory is any file ``stores`` reads that holds translations (PO, XLIFF, TMX, Qt). Matching is the
project's translation-memory baseline's (``memory.TranslationMemory.best_in_language``: an exact search by
rapidfuzz's ``fuzz.ratio``, the edit-distance similarity CAT tools show as a fuzzy-match percentage). A match
of at least ``THRESHOLD`` (95%) whose translation has exactly the source's placeholders is used as it is,
marked for review like a draft and noted with its score; the model drafts everything else.
"""
from __future__ import annotations

from pathlib import Path

from ..corpus.formats import row_languages
from ..memory import TranslationMemory
from .protect import same_placeholders
from .stores import load, translations

THRESHOLD = 95.0  # percent similarity of the English; below it a memory's guess is a different message


class Memory:
    def __init__(self, path: str | Path, source_lang: str = "en"):
        self.path = Path(path)
        self.source_lang = source_lang
        self.rows = [row for row in translations(load(self.path, " (the --tm memory)"), source_lang=source_lang)
                     if row.get(source_lang)]
        self.languages = sorted({k for row in self.rows for k in row_languages(row)} - {source_lang})
        self.memory = TranslationMemory(self.rows)  # also what a model trained with a memory reads (files.py)

    def lookup(self, queries: list[str], lang: str, strict: list[bool]) -> list[tuple[str, float] | None]:
        """For each English query: (translation, similarity %) of the best match in ``lang`` at or above the
        threshold whose placeholders are the query's; None otherwise."""
        from .kinds import same_language
        codes = [code for code in self.languages if same_language(code, lang)]
        if not queries or not codes:
            return [None] * len(queries)
        found = self.memory.best_in_language(self.source_lang, queries, codes, THRESHOLD)
        out: list[tuple[str, float] | None] = []
        for i, query in enumerate(queries):
            best = None
            for code in codes:  # the first code's on a tie
                match = found[code][i] if found[code] is not None else None
                if match is not None and match.translation.strip() \
                        and same_placeholders(query, match.translation, strict[i]) \
                        and (best is None or match.score > best[1]):
                    best = (match.translation, match.score)
            out.append(best)
        return out

    def note(self, score: float) -> str:
        """The translator comment a memory's translation gets."""
        return f"translation memory: {'exact' if score >= 100 else f'{score:.0f}%'} match ({self.path.name})"
