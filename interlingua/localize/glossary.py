"""A glossary (``--glossary``, TBX or CSV): terms kept or translated exactly as given.

A term found in a message (a whole word, not inside a name such as ``--new-file``; case as written,
but a lowercase term also matches with a capital first letter, as at the start of a sentence) is
protected like a placeholder (``protect.py``): it goes through the model as a sentinel the model
copies, and comes back as the glossary's target for the language (a do-not-translate term as
itself). Reading the two kinds of file, and finding terms, is this module's job:

* **CSV**, UTF-8, comma-separated: ``source,target[,language]``. An optional first row naming the
  columns (``source,target,language``) is skipped. An empty target, or one equal to the source,
  means "do not translate". An empty or missing language means every language; a row for one
  language (``fr``, ``pt_BR``, ``pt-BR``) wins over it there; a row for ``fr`` also serves ``fr-CA``,
  and one for ``de-DE`` serves ``de`` where nothing closer does.
* **TBX** (``<martif>``, read by translate-toolkit through ``stores.load``): every concept with an
  English term; each other language's first term that is not deprecated is its target. A concept
  marked ``<descrip type="Translation needed">no</descrip>`` is kept as it is in every language.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..corpus.langcodes import to_bcp47
from ..errors import InterlinguaError, where
from .stores import need_file, bad_encoding, load

ROLE = " (the --glossary)"
EVERY = ""  # the language key of a row that serves every language
_HEADER = ("source", "target", "language")


@dataclass(frozen=True)
class Terms:
    """The glossary as it applies to one target language: source term -> target term."""
    targets: dict[str, str]

    @cached_property
    def _pattern(self) -> re.Pattern | None:
        variants = sorted({v for term in self.targets for v in _variants(term)}, key=len, reverse=True)
        # a whole word, and not part of a name joined by - . / (--new-file, file.txt, /etc/file), which is no prose
        return re.compile(r"(?<![\w./-])(?:" + "|".join(map(re.escape, variants)) + r")(?![\w/-]|\.\w)") \
            if variants else None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, target) of each occurrence in ``text``, longest term first where two overlap."""
        if self._pattern is None:
            return []
        return [(m.start(), m.end(), self.target(m[0])) for m in self._pattern.finditer(text)]

    def target(self, found: str) -> str:
        """What an occurrence becomes: its target, with a capital where the source had one the glossary lacks."""
        if found in self.targets:
            target = self.targets[found]
            return found if target == found else target
        target = self.targets[found[0].lower() + found[1:]]
        return target[:1].upper() + target[1:]

    def relevant(self, text: str) -> tuple[tuple[str, str], ...]:
        """The terms that could occur in ``text`` and their targets: what decides how it is protected."""
        folded = text.lower()
        return tuple(sorted((s, t) for s, t in self.targets.items() if s.lower() in folded))


def _variants(term: str) -> tuple[str, ...]:
    return (term, term[0].upper() + term[1:]) if term[:1].islower() else (term,)


@dataclass
class Glossary:
    """Source term -> target term for each language (``EVERY`` for rows without one)."""
    path: Path
    by_language: dict[str, dict[str, str]] = field(default_factory=dict)

    def terms(self, lang: str) -> Terms:
        """The terms for target ``lang``, the closest row winning: ``lang``'s own, then its base language's
        (``fr`` for ``fr-CA``), then another region's (``de-DE`` for ``de``), then the rows for every language."""
        base = lang.split("-")[0]
        regions = sorted(key for key in self.by_language if key.split("-")[0] == base and key not in (base, lang))
        merged: dict[str, str] = {}
        for key in (EVERY, *regions, base, lang):
            merged.update(self.by_language.get(key, {}))
        return Terms(merged)

    def _add(self, source: str, target: str, lang: str, line: int | None) -> None:
        if not source.strip():
            raise InterlinguaError(f"{where(self.path, line)}: empty source term{ROLE}")
        source, target = source.strip(), target.strip() or source.strip()
        known = self.by_language.setdefault(lang, {})
        if known.get(source, target) != target:
            raise InterlinguaError(f"{where(self.path, line)}: two targets for '{source}' in "
                                   f"{lang or 'every language'}: '{known[source]}' and '{target}'{ROLE}")
        known[source] = target


def load_glossary(path: str | Path) -> Glossary:
    """Read a ``.csv`` or ``.tbx`` glossary; every problem is one line naming the file (and line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tbx"):
        raise InterlinguaError(f"{path}: cannot read this kind of glossary; use .csv (source,target[,language]) "
                               f"or .tbx")
    glossary = Glossary(path)
    _read_tbx(glossary) if suffix == ".tbx" else _read_csv(glossary)
    if not any(glossary.by_language.values()):
        raise InterlinguaError(f"{path}: no terms in the glossary{ROLE}")
    return glossary


def _language(code: str, path: Path, line: int | None) -> str:
    lang = to_bcp47(code.strip()) if code.strip() else EVERY
    if lang is None:
        raise InterlinguaError(f"{where(path, line)}: '{code.strip()}' is not a language code (e.g. fr, pt_BR){ROLE}")
    return lang


def _read_csv(glossary: Glossary) -> None:
    path = glossary.path
    need_file(path, ROLE)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InterlinguaError(f"{path}: cannot read ({exc.strerror or exc}){ROLE}") from None
    if (error := bad_encoding(path, data)) is not None:
        raise error
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if line == 1 and tuple(c.strip().lower() for c in row) == _HEADER[:len(row)]:
                continue
            if not 2 <= len(row) <= 3:
                raise InterlinguaError(f"{where(path, line)}: {len(row)} column(s); a glossary row is "
                                       f"source,target[,language]{ROLE}")
            glossary._add(row[0], row[1], _language(row[2] if len(row) == 3 else "", path, line), line)
    except csv.Error as exc:
        raise InterlinguaError(f"{where(path, reader.line_num)}: not valid CSV ({exc}){ROLE}") from None


def _read_tbx(glossary: Glossary) -> None:
    store = load(glossary.path, ROLE, kind="tbx").store
    for unit in store.units:
        codes = [node.get("{http://www.w3.org/XML/1998/namespace}lang") or "" for node in unit.getlanguageNodes()]
        langs = {code: to_bcp47(code) for code in codes if to_bcp47(code)}
        english = next((code for code, lang in langs.items() if lang.split("-")[0] == "en"), None)
        if english is None:
            continue  # a concept with no English term has nothing to find in an English message
        sources = [t.text for t in unit.get_target_terms(english) if t.text.strip() and not t.deprecated]
        if not unit.istranslatable():  # "Translation needed: no": kept as it is everywhere
            for source in sources:
                glossary._add(source, source, EVERY, None)
            continue
        for code, lang in langs.items():
            targets = [t.text for t in unit.get_target_terms(code) if t.text.strip() and not t.deprecated]
            if code != english and targets:
                for source in sources:
                    glossary._add(source, targets[0], lang, None)


def translate_lines(translator: Any, sentences: list[str], targets: list[str], glossary: Glossary, beam: int = 1,
                    pivot: str | None = None) -> tuple[dict[str, list[str]], int]:
    """``translator.translate`` with the glossary's terms kept, for ``interlingua translate --glossary``.

    Each sentence is protected as translate-file protects a message (``protect.py``: placeholders,
    accelerators, terms), and an output that did not keep a term or a placeholder is left empty, as
    translate-file leaves such an entry. Returns the outputs per language and how many were left empty.
    """
    from .protect import protect, restore  # protect.py reads Terms from here
    result: dict[str, list[str]] = {}
    left_empty = 0
    for lang in targets:
        protected = [protect(sentence, terms=glossary.terms(lang)) for sentence in sentences]
        texts = sorted({text for p in protected for text in p.texts})
        done = dict(zip(texts, translator.translate(texts, to=lang, beam=beam, pivot=pivot))) if texts else {}
        made = [restore(p, done, lang) for p in protected]
        left_empty += sum(m is None for m in made)
        result[lang] = [m or "" for m in made]
    return result, left_empty
