"""Harvest the gettext catalogs already on the machine into a multi-way parallel corpus.

Every `.mo`/`.po` catalog translates English source strings (msgid) into one language. Aligning
all catalogs by the cleaned English string gives one row per meaning with its translations in
every language that has one: a real, human-translated, many-way corpus, offline.
"""
from __future__ import annotations

import gettext
import hashlib
import logging
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import polib
from tqdm import tqdm

from .clean import clean_message, is_text
from .formats import ROW_ID, row_languages
from .langcodes import catalog_language

log = logging.getLogger(__name__)

DEFAULT_ROOTS = ("/usr/share/locale", "/usr/local/share/locale", "/usr/share/vim", "/usr/lib/locale",
                 "/opt", "/snap")
MAX_CHARS = 1000  # longer entries are --help pages, not messages


@dataclass
class HarvestStats:
    catalogs: int = 0
    unreadable: int = 0
    entries: int = 0
    skipped: Counter = field(default_factory=Counter)
    products: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # English -> catalog domains


def catalog_roots() -> list[Path]:
    """System locale folders plus every installed Python package folder (e.g. Django's locale/)."""
    roots = [Path(p) for p in DEFAULT_ROOTS]
    roots += [Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return [r for r in dict.fromkeys(roots) if r.is_dir()]


def find_catalogs(roots: Iterable[Path]) -> list[tuple[Path, str]]:
    """(catalog file, BCP-47 language) for every catalog whose language can be named."""
    found: dict[Path, str] = {}
    for root in roots:
        for dirpath, _dirs, files in os.walk(root, followlinks=False):
            for name in files:
                if not name.endswith((".mo", ".po")):
                    continue
                path = Path(dirpath, name)
                # <locale>/LC_MESSAGES/<domain>.mo is the gettext layout; <lang>.po the source layout.
                locale = path.parent.parent.name if path.parent.name == "LC_MESSAGES" else path.stem
                lang = catalog_language(locale)
                if lang is None and path.parent.name != "LC_MESSAGES" and "-" in locale:
                    lang = catalog_language(locale.rsplit("-", 1)[1])  # WordPress: <domain>-<locale>.mo (admin-de_DE.mo)
                # English is the source side (en-GB etc. add nothing).
                if lang and not lang.startswith("en"):
                    found[path.resolve()] = lang
    return sorted(found.items())


def catalog_domain(path: Path) -> str:
    """The product a catalog belongs to: its gettext domain (``<locale>/LC_MESSAGES/<domain>.mo``), or the
    folder of a ``<lang>.po`` source layout."""
    return path.stem if path.parent.name == "LC_MESSAGES" else path.parent.name


def _plural_index_of_one(catalog: polib._BaseFile) -> int:
    """Which msgstr[i] translates the singular: the plural formula evaluated at n=1 (0 in most languages)."""
    forms = catalog.metadata.get("Plural-Forms", "")
    if "plural=" not in forms:
        return 0
    try:
        return int(gettext.c2py(forms.split("plural=", 1)[1].strip().rstrip(";"))(1))
    except (ValueError, SyntaxError, TypeError):
        return 0


# LibreOffice marks accelerators with "~" ("~Data", CJK "データ(~D)") and says so in its header;
# removed only where a catalog declares it, since "~" is a home folder elsewhere.
_TILDE_ACCELERATOR = re.compile(r"\s*[(（]~[A-Za-z0-9][)）]|~(?=[^\W_])")


def _declared_accelerators(catalog: polib._BaseFile) -> Callable[[str], str]:
    """What removes the accelerator marks a catalog declares beyond the usual "_" and "&" (clean.py)."""
    if catalog.metadata.get("X-Accelerator-Marker", "").strip() == "~":
        return lambda text: _TILDE_ACCELERATOR.sub("", text)
    return lambda text: text


def read_catalog(path: Path, stats: HarvestStats) -> Iterator[tuple[str, str]]:
    """(English, translation) pairs of one catalog, cleaned; fuzzy, obsolete, empty and copies skipped."""
    try:
        catalog = polib.mofile(str(path)) if path.suffix == ".mo" else polib.pofile(str(path))
    except (OSError, ValueError, UnicodeError) as exc:  # a broken system file is skipped, not fatal
        stats.unreadable += 1
        log.debug("skipping %s: %s", path, exc)
        return
    stats.catalogs += 1
    singular = _plural_index_of_one(catalog)
    unmark = _declared_accelerators(catalog)
    for entry in catalog:
        stats.entries += 1
        if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
            stats.skipped["fuzzy/obsolete/header"] += 1
            continue
        target = entry.msgstr_plural.get(singular, "") if entry.msgid_plural else entry.msgstr
        source, target = clean_message(unmark(entry.msgid)), clean_message(unmark(target))
        if not target:
            stats.skipped["untranslated"] += 1
        elif target == source:
            stats.skipped["copy of the source"] += 1
        elif not is_text(source) or not is_text(target):
            stats.skipped["not text"] += 1
        elif len(source) > MAX_CHARS or len(target) > MAX_CHARS:
            stats.skipped["too long"] += 1
        else:
            yield source, target


def meaning_id(english: str) -> str:
    """A stable id from the English text, so splits do not depend on harvest order."""
    return hashlib.sha1(english.encode("utf-8")).hexdigest()[:12]


def pick_translation(votes: Counter) -> str:
    """Where catalogs disagree: the most frequent translation; ties go to the shorter, then the first in code-point order."""
    return min(votes.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]


def harvest(roots: Iterable[Path] | None = None, *, min_translations: int = 1000,
            progress: bool = True) -> tuple[list[dict[str, str]], HarvestStats]:
    """Multi-way rows ``{ROW_ID, "en", <lang>: text, ...}`` from every catalog under ``roots``.

    Languages with fewer than ``min_translations`` translations are left out: too few to learn from.
    """
    stats = HarvestStats()
    votes: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    catalogs = find_catalogs(roots if roots is not None else catalog_roots())
    for path, lang in tqdm(catalogs, desc="harvesting catalogs", unit="file", disable=not progress,
                           file=sys.stderr):
        domain = catalog_domain(path)
        for source, target in read_catalog(path, stats):
            votes[source][lang][target] += 1
            stats.products[source].add(domain)
    per_lang = Counter(lang for by_lang in votes.values() for lang in by_lang)
    keep = {lang for lang, n in per_lang.items() if n >= min_translations}
    rows = []
    for english in sorted(votes):
        row = {ROW_ID: meaning_id(english), "en": english}
        for lang in sorted(votes[english]):
            if lang in keep:
                row[lang] = pick_translation(votes[english][lang])
        if len(row) > 2:
            rows.append(row)
    return rows, stats


def language_table(rows: list[dict[str, str]]) -> list[tuple[str, int]]:
    """(language, number of translations) sorted by count, English first."""
    counts = Counter(lang for row in rows for lang in row_languages(row))
    return sorted(counts.items(), key=lambda kv: (kv[0] != "en", -kv[1], kv[0]))


def build_corpus(out: Path, roots: list[Path] | None = None, *, min_translations: int = 1000, dev: int = 500,
                 test: int = 1000, seed: int = 1, split: str = "grouped", outside: list[str] | None = None,
                 progress: bool = True, debs: Sequence[Path] = (), wheels: Sequence[Path] = (), system: bool = True
                 ) -> tuple[list[dict[str, str]], HarvestStats, dict[str, Path]]:
    """Harvest, write ``out`` (multi-way JSONL), the catalog domains of each meaning (``products_path``) and
    the train/dev/test splits beside it (``split``: a method of ``split.held_out``); ``outside`` names
    products whose meanings are held out whole as an outside test set (``out``'s ``.outside.jsonl``).

    ``roots`` (default: the machine's catalogs, ``catalog_roots()``) are read unless ``system`` is
    False; the catalogs inside ``debs`` (Debian packages) and ``wheels`` (Python wheels) are added.
    """
    from ..errors import InterlinguaError
    from .archives import unpacked
    from .formats import write_corpus
    from .split import outside_ids, split_rows, write_products, write_splits
    if not system and not (debs or wheels):
        raise InterlinguaError("nothing to harvest: without the machine's catalogs, give a .deb or a wheel")
    with unpacked(debs, wheels) as archive_roots:  # removed when the harvest ends, however it ends
        system_roots = ([] if not system else list(roots) if roots is not None else catalog_roots())
        rows, stats = harvest(system_roots + archive_roots, min_translations=min_translations, progress=progress)
    if not rows:
        named = [*map(str, roots or []), *map(str, debs), *map(str, wheels)]
        raise InterlinguaError(f"no language with {min_translations:,} translations (--min-translations) found in "
                               "gettext catalogs" + (f" in {', '.join(named)}" if named else ""))
    write_corpus(rows, out, "jsonl")
    write_products(out, ((row[ROW_ID], sorted(stats.products[row["en"]])) for row in rows))
    held = outside_ids(out, outside) if outside else ()
    return rows, stats, write_splits(out, split_rows(rows, dev, test, seed, split, outside=held))
