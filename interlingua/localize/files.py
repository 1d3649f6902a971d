"""translate-file: machine drafts for localisation files, placeholders kept exactly.

    counts = translate_file("po/messages.pot", Translator.load("runs/base"), ["fr", "de"], "drafts")
    print(format_counts(counts))

The formats are translate-toolkit's (``stores.py`` reads and writes them, ``kinds.py`` knows where each
language's file goes and how each format marks a draft for review): PO/POT, XLIFF 1.2 and 2.x, TMX,
Qt ``.ts``, Android ``strings.xml``, Apple ``.strings``, JSON i18n. Here is what is the same for all:
every entry still to fill is looked up in the translation memory first (``--tm``, ``memory.py``),
then every remaining text goes through the model once for all the languages that need it; a draft
whose placeholders differ from the source's (``protect.py``) is not written: the entry stays empty
and is counted. With a glossary (``glossary.py``) its terms are protected the same way, and a draft
that did not keep one is left empty and counted too.

Each model draft carries the model's confidence (``Translator.drafts``, ``confidence.py``): the lowest
of its lines' and forms', written beside it as a translator comment or note where the format has one
(``# interlingua confidence 0.73``), with the calibrated chance where the run has a calibration; a
draft below ``min_confidence`` is left empty and counted like a broken one.

What counts as "already translated" for language L (without ``overwrite``): the input's own
translations when the input is a file for L or names no language, and the translations of an
existing output file for L, so a second run keeps what a reviewer has already edited and only
fills what is new (the run is resumable file by file).

Every output file is written atomically, after every model call is done: a crash or an error
leaves no half-written file.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..confidence import Calibration
from ..corpus.langcodes import resolve_languages
from ..errors import InterlinguaError
from .glossary import Glossary, Terms, load_glossary
from .kinds import Slot, output_path, plan
from .memory import Memory
from .protect import Protected, broke_placeholders, kept_terms, protect, restore
from .stores import load, save

log = logging.getLogger(__name__)

CHUNK = 64  # sentences per model call (the translator batches by tokens inside)


def _targets(translator: Any, targets: list[str] | str) -> list[str]:
    """Targets as the model's codes; an unknown one names what the model has."""
    result = resolve_languages(targets, list(translator.languages))
    if not result:
        raise InterlinguaError("no target language given (e.g. --to fr,de)")
    return result


def _prepare_dir(folder: Path) -> None:
    """Create ``folder`` and prove it is writable before any model work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterlinguaError(f"{folder}: cannot create the output directory ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InterlinguaError(f"{folder}: output directory is not writable")


def _run_model(translator: Any, needs: dict[str, set[str]], beam: int,
               progress: bool) -> dict[str, dict[str, tuple[str, float | None, float | None]]]:
    """(draft, confidence, score of the memory match the model read) of each language's texts; every text goes
    through the model once for all languages that need it. A translator without ``drafts`` (a stand-in with
    ``translate`` alone) says no confidence and no match."""
    by_text: dict[str, set[str]] = {}
    for lang, texts in needs.items():
        for text in texts:
            by_text.setdefault(text, set()).add(lang)
    groups: dict[tuple[str, ...], list[str]] = {}
    for text, langs in by_text.items():
        groups.setdefault(tuple(sorted(langs)), []).append(text)
    out: dict[str, dict[str, tuple[str, float | None, float | None]]] = {lang: {} for lang in needs}
    drafts = getattr(translator, "drafts", None)
    with tqdm(total=len(by_text), unit="msg", desc="translating", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        for langs, texts in groups.items():
            texts.sort(key=len)  # similar lengths in one call pad less
            for start in range(0, len(texts), CHUNK):
                chunk = texts[start:start + CHUNK]
                if drafts is not None:
                    result = {lang: [(d.text, d.confidence, d.match) for d in found]
                              for lang, found in drafts(chunk, to=list(langs), beam=beam).items()}
                else:
                    result = {lang: [(text, None, None) for text in found]
                              for lang, found in translator.translate(chunk, to=list(langs), beam=beam).items()}
                for lang in langs:
                    out[lang].update(zip(chunk, result[lang]))
                bar.update(len(chunk))
    return out


_COUNTED = ("filled", "from_memory", "left_empty", "left_empty_placeholders", "left_empty_confidence", "left_empty_terms", "with_terms", "kept")


def _new_counts(targets: list[str], glossary: Glossary | None) -> dict[str, Any]:
    return {**dict.fromkeys(_COUNTED, 0), "files": [], "plural_fallback": [],
            "glossary": str(glossary.path) if glossary else None,
            "languages": {lang: {**dict.fromkeys(_COUNTED, 0), "path": None} for lang in targets}}


def _count(counts: dict[str, Any], lang: str, what: str) -> None:
    counts[what] += 1
    counts["languages"][lang][what] += 1


def format_counts(counts: dict[str, Any]) -> str:
    """The report printed at the end: one line per language, a total, and any header fallback."""
    lines = []
    glossary = counts.get("glossary")
    for lang, c in counts["languages"].items():
        memory = f", {c['from_memory']} of them from the memory" if c["from_memory"] else ""
        unsure = f", {c['left_empty_confidence']} below --min-confidence" if c["left_empty_confidence"] else ""
        terms = f", {c['left_empty_terms']} for glossary terms" if glossary else ""
        lines.append(f"{lang}: {c['filled']} filled (marked for review{memory}), {c['left_empty']} left empty "
                     f"({c['left_empty_placeholders']} for placeholders{terms}{unsure}, the others with no words), "
                     f"{c['kept']} kept from before -> {c['path']}")
    lines.append(f"total: {counts['filled']} filled, {counts['left_empty']} left empty, {counts['kept']} kept")
    if glossary:
        lines.append(f"glossary: {counts['with_terms']} drafts had terms of {glossary}; "
                     f"{counts['left_empty_terms']} of them did not keep a term and were left empty")
    if counts["plural_fallback"]:
        lines.append(f"note: no Plural-Forms known for {', '.join(counts['plural_fallback'])}; wrote "
                     f"'nplurals=2; plural=(n != 1);': check the header")
    return "\n".join(lines)


def _model_note(value: float | None, calibration: Calibration | None, matches: list[float | None]) -> str:
    """A model draft's note: its confidence, and the weakest memory match it read (model.memory), if it read any."""
    note = confidence_note(value, calibration) if value is not None else ""
    scores = [score for score in matches if score is not None]
    if scores and len(scores) == len(matches):
        note += f"{'; ' if note else ''}drafted from a {min(scores):.0f}% memory match"
    return note


def confidence_note(value: float, calibration: Calibration | None) -> str:
    """The translator comment of a model draft: its confidence, and the calibrated chance where there is one."""
    note = f"interlingua confidence {value:.2f}"
    if calibration is not None:
        note += f" (chance of chrF >= {calibration.min_chrf:g}: {100 * calibration.chance_of(value):.0f}%)"
    return note


def translate_file(input: str | Path, translator: Any, targets: list[str] | str, out_dir: str | Path,
                   overwrite: bool = False, beam: int = 1, progress: bool = True,
                   memory: str | Path | None = None, glossary: str | Path | Glossary | None = None,
                   min_confidence: float | None = None) -> dict[str, Any]:
    """Write machine drafts of a localisation file for every target language.

    ``translator``: a :class:`~interlingua.api.Translator` (or anything with ``languages`` and ``translate``,
    which then gives no confidence). ``memory``: a file of earlier translations (``--tm``); a match of at least
    95% is used before the model. ``glossary``: a ``.csv`` or ``.tbx`` file (or a loaded :class:`Glossary`) of
    terms to keep or translate as given; a model draft that did not keep one is left empty (``left_empty_terms``,
    out of ``with_terms`` drafts that had a term). Memory matches are not checked against it: they are human
    translations. ``min_confidence``: a model draft less sure than this is left empty (``left_empty_confidence``);
    memory matches and messages with no words to translate are not model drafts.
    Returns the counts: ``filled`` (drafts written, marked for review), ``from_memory`` (those of them taken
    from the memory), ``left_empty`` (entries whose draft lost or invented a placeholder, or came back
    empty: left untranslated), ``left_empty_placeholders`` (those of them left empty for their placeholders
    alone), ``left_empty_confidence`` (those of them below ``min_confidence``), ``kept`` (translations that were already there), the same per language under ``languages``
    (with each output ``path``), ``files`` written, and ``plural_fallback`` (languages whose PO
    Plural-Forms header is a guess).
    """
    langs = _targets(translator, targets)
    if beam < 1:
        raise InterlinguaError(f"beam must be at least 1, got {beam}")
    if glossary is not None and not isinstance(glossary, Glossary):
        glossary = load_glossary(glossary)
    source = load(input)
    tm = Memory(memory) if memory is not None else None
    if tm is not None and getattr(getattr(translator, "config", None), "model", None) is not None \
            and translator.config.model.memory:  # a model trained with a memory reads this one's matches too
        translator.use_memory(tm.memory)
    out_dir = Path(out_dir)
    for lang in langs:
        _prepare_dir(output_path(source, lang, out_dir).parent)
    outputs = plan(source, langs, out_dir, overwrite)
    counts = _new_counts(langs, glossary)
    for output in outputs:
        for lang, n in output.kept.items():
            counts["kept"] += n
            counts["languages"][lang]["kept"] += n
        counts["plural_fallback"] += output.plural_fallback
        for lang in output.plural_fallback:
            log.warning("%s: no Plural-Forms known for '%s'; writing 'nplurals=2; plural=(n != 1);' (check it)",
                        output.path, lang)
    slots = [slot for output in outputs for slot in output.slots]
    rest = _from_memory(slots, tm, counts) if tm is not None else slots
    terms = {lang: glossary.terms(lang) for lang in langs} if glossary else {}
    protected: dict[tuple, Protected] = {}
    needs: dict[str, set[str]] = {}
    for slot in rest:
        for key in _keys(slot, terms):
            if key not in protected:
                protected[key] = protect(key[0], key[1], terms=terms.get(slot.lang))
            needs.setdefault(slot.lang, set()).update(protected[key].texts)
    drafts = _run_model(translator, needs, beam, progress) if needs else {}
    calibration = getattr(translator, "calibration", None)
    for slot in rest:
        found = drafts.get(slot.lang, {})
        done = {text: draft for text, (draft, _, _) in found.items()}
        keys = _keys(slot, terms)
        if any(seg.terms or seg.loose for key in keys for seg in protected[key].parts if not isinstance(seg, str)):
            _count(counts, slot.lang, "with_terms")
        made = [restore(protected[key], done, slot.lang) for key in keys]
        # an entry is as sure as its least sure line or form
        sure = [found[text][1] for key in keys for text in protected[key].texts if found[text][1] is not None]
        value = min(sure) if sure else None
        unsure = min_confidence is not None and value is not None and value < min_confidence
        if any(m is None for m in made) or unsure:  # one reason counted: placeholders, terms, confidence, no words
            _count(counts, slot.lang, "left_empty")
            if any(broke_placeholders(protected[key], done, slot.lang) for key in keys):
                _count(counts, slot.lang, "left_empty_placeholders")
            elif not all(kept_terms(protected[key], done) for key in keys):
                _count(counts, slot.lang, "left_empty_terms")
            elif unsure:
                _count(counts, slot.lang, "left_empty_confidence")
        elif slot.write(made, _model_note(value, calibration, [found[text][2] for key in keys
                                                               for text in protected[key].texts])):
            _count(counts, slot.lang, "filled")
        else:  # the format refused it: inline codes missing or badly nested
            _count(counts, slot.lang, "left_empty")
            _count(counts, slot.lang, "left_empty_placeholders")
    for output in outputs:
        output.finish()
        save(output.store, output.path)
        counts["files"].append(str(output.path))
        for lang in {slot.lang for slot in output.slots} | set(output.kept) | (set(langs) if len(outputs) == 1 else set()):
            counts["languages"][lang]["path"] = str(output.path)
    return counts


def _keys(slot: Slot, terms: dict[str, Terms]) -> list[tuple]:
    """How each source text of ``slot`` is protected: by its text, its strictness, and the glossary's terms
    that could occur in it for the slot's language (languages whose terms agree share one model call)."""
    glossary = terms.get(slot.lang)
    return [(text, slot.strict, glossary.relevant(text) if glossary else ()) for text in slot.sources]


def _from_memory(slots: list[Slot], tm: Memory, counts: dict[str, Any]) -> list[Slot]:
    """Fill the slots the memory has a near-exact match for (every form); the others are the model's."""
    by_lang: dict[str, list[Slot]] = {}
    for slot in slots:
        if slot.plain is not None:
            by_lang.setdefault(slot.lang, []).append(slot)
    used: set[int] = set()
    for lang, group in by_lang.items():
        queries = [(text, slot.strict) for slot in group for text in slot.plain]  # type: ignore[union-attr]
        found = tm.lookup([q for q, _ in queries], lang, [s for _, s in queries])
        at = 0
        for slot in group:
            matches = found[at:at + len(slot.plain)]  # type: ignore[arg-type]
            at += len(slot.plain)  # type: ignore[arg-type]
            if all(m is not None for m in matches):
                score = min(m[1] for m in matches)  # type: ignore[index]
                if slot.write([slot.from_memory(m[0]) for m in matches], tm.note(score)):  # type: ignore[index]
                    used.add(id(slot))
                    _count(counts, lang, "filled")
                    _count(counts, lang, "from_memory")
    return [slot for slot in slots if id(slot) not in used]
