"""translate-file: machine drafts for PO/POT catalogs and TMX memories, placeholders kept exactly.

    counts = translate_file("po/messages.pot", Translator.load("runs/base"), ["fr", "de"], "drafts")
    print(format_counts(counts))

PO/POT: one catalog per language, ``OUT/<locale>/LC_MESSAGES/<domain>.po`` (domain = the input's
stem, locale in gettext's spelling: ``pt_BR``, ``zh_CN``, ``sr@latin``). Everything the input has
is kept (msgctxt, comments, references, flags, obsolete entries, order); the header gets
``Language``, ``Plural-Forms`` for that language and ``charset=UTF-8``. Only entries without a
translation are filled, each draft flagged ``fuzzy``; a draft whose placeholders differ from the
source's is not written: the entry stays empty and is counted.

What counts as "already translated" for language L (without ``overwrite``): the input's own
translations when the input is a catalog for L (its ``Language:`` header) or names no language;
and the translations of an existing output file for L, so a second run keeps what a reviewer has
already edited and only fills what is new (the run is resumable file by file).

TMX: ``OUT/<input name>`` with a ``<tuv xml:lang="L">`` added to every ``<tu>`` that lacks one,
marked ``<prop type="x-interlingua">machine draft</prop>``.

Every output file is written atomically, after every model call is done: a crash or an error
leaves no half-written file.
"""
from __future__ import annotations

import copy
import logging
import os
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polib
from tqdm import tqdm

from ..checkpoint import atomic_write_text
from ..corpus.langcodes import resolve_languages, to_bcp47
from ..errors import InterlinguaError, where
from .plurals import gettext_locale, nplurals, plural_forms
from .protect import Protected, broke_placeholders, protect, restore

log = logging.getLogger(__name__)

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DRAFT_PROP = "x-interlingua"
CHUNK = 64  # sentences per model call (the translator batches by tokens inside)


# ----------------------------------------------------------------------------- shared

def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".po", ".pot"):
        return "po"
    if suffix == ".tmx":
        return "tmx"
    raise InterlinguaError(f"{path}: cannot translate this kind of file; use a .po, .pot or .tmx file")


def _need_file(path: Path) -> None:
    if not path.is_file():
        raise InterlinguaError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")


def _targets(translator: Any, targets: list[str] | str) -> list[str]:
    """Targets as the model's codes; an unknown one names what the model has."""
    result = resolve_languages(targets, list(translator.languages))
    if not result:
        raise InterlinguaError("no target language given (e.g. --to fr,de)")
    return result


def _same_language(a: str | None, b: str) -> bool:
    """``fr`` matches ``fr`` and ``fr-FR`` (a catalog for French in France is a French catalog)."""
    if not a:
        return False
    if a == b:
        return True
    pa, pb = a.split("-"), b.split("-")
    return pa[0] == pb[0] and (len(pa) == 1 or len(pb) == 1)


def _bad_utf8_line(path: Path, encoding: str = "utf-8") -> InterlinguaError:
    """The error for a file whose bytes do not decode: pointing at the first bad line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                return InterlinguaError(f"{where(path, n)}: not valid {_name(encoding)} (byte 0x{raw[exc.start]:02x} at "
                                        f"byte {exc.start + 1} of the line); save the file as UTF-8")
    return InterlinguaError(f"{path}: not valid {_name(encoding)}; save the file as UTF-8")


def _name(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _prepare_dir(folder: Path) -> None:
    """Create ``folder`` and prove it is writable before any model work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InterlinguaError(f"{folder}: cannot create the output directory ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InterlinguaError(f"{folder}: output directory is not writable")


def _run_model(translator: Any, needs: dict[str, set[str]], beam: int, progress: bool) -> dict[str, dict[str, str]]:
    """Translate each language's texts; every text goes through the model once for all languages that need it."""
    by_text: dict[str, set[str]] = {}
    for lang, texts in needs.items():
        for text in texts:
            by_text.setdefault(text, set()).add(lang)
    groups: dict[tuple[str, ...], list[str]] = {}
    for text, langs in by_text.items():
        groups.setdefault(tuple(sorted(langs)), []).append(text)
    out: dict[str, dict[str, str]] = {lang: {} for lang in needs}
    with tqdm(total=len(by_text), unit="msg", desc="translating", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        for langs, texts in groups.items():
            texts.sort(key=len)  # similar lengths in one call pad less
            for start in range(0, len(texts), CHUNK):
                chunk = texts[start:start + CHUNK]
                result = translator.translate(chunk, to=list(langs), beam=beam)
                for lang in langs:
                    out[lang].update(zip(chunk, result[lang]))
                bar.update(len(chunk))
    return out


def _new_counts(targets: list[str]) -> dict[str, Any]:
    return {"filled": 0, "left_empty": 0, "left_empty_placeholders": 0, "kept": 0, "files": [], "plural_fallback": [],
            "languages": {lang: {"filled": 0, "left_empty": 0, "left_empty_placeholders": 0, "kept": 0, "path": None}
                          for lang in targets}}


def _count(counts: dict[str, Any], lang: str, what: str) -> None:
    counts[what] += 1
    counts["languages"][lang][what] += 1


def format_counts(counts: dict[str, Any]) -> str:
    """The report printed at the end: one line per language, a total, and any header fallback."""
    lines = []
    for lang, c in counts["languages"].items():
        lines.append(f"{lang}: {c['filled']} filled (fuzzy), {c['left_empty']} left empty "
                     f"({c['left_empty_placeholders']} for placeholders, the others with no words), "
                     f"{c['kept']} kept from before -> {c['path']}")
    lines.append(f"total: {counts['filled']} filled, {counts['left_empty']} left empty, {counts['kept']} kept")
    if counts["plural_fallback"]:
        lines.append(f"note: no Plural-Forms known for {', '.join(counts['plural_fallback'])}; wrote "
                     f"'nplurals=2; plural=(n != 1);': check the header")
    return "\n".join(lines)


def translate_file(input: str | Path, translator: Any, targets: list[str] | str, out_dir: str | Path,
                   overwrite: bool = False, beam: int = 1, progress: bool = True) -> dict[str, Any]:
    """Write machine drafts of a PO/POT catalog or a TMX memory for every target language.

    Returns the counts: ``filled`` (drafts written, flagged fuzzy), ``left_empty`` (entries whose draft
    lost or invented a placeholder, or came back empty: left untranslated), ``left_empty_placeholders``
    (those of them left empty for their placeholders alone), ``kept`` (translations that
    were already there), the same per language under ``languages`` (with each output ``path``),
    ``files`` written, and ``plural_fallback`` (languages whose Plural-Forms header is a guess).
    """
    path = Path(input)
    kind = _kind(path)
    langs = _targets(translator, targets)
    if beam < 1:
        raise InterlinguaError(f"beam must be at least 1, got {beam}")
    _need_file(path)
    if kind == "po":
        return _translate_po(path, translator, langs, Path(out_dir), overwrite, beam, progress)
    return _translate_tmx(path, translator, langs, Path(out_dir), overwrite, beam, progress)


# ----------------------------------------------------------------------------- PO / POT

_PO_STRING_LINE = re.compile(r'^(?:#[~|]\s*)?(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"')
_CLOSED = re.compile(r'(?<!\\)(?:\\\\)*"\s*$')


def _unterminated_string(path: Path, encoding: str) -> int | None:
    """The first line whose quoted string does not end (polib would silently drop the rest of it)."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            line = raw.decode(encoding, errors="replace").rstrip("\r\n")
            m = _PO_STRING_LINE.match(line)
            if m and not _CLOSED.search(line[m.end():]):
                return n
    return None


def load_po(path: Path, role: str = "") -> polib.POFile:
    """Parse a PO/POT file; every problem is one line with file:line when the parser gives one."""
    _need_file(path)
    encoding = polib.detect_encoding(str(path))
    try:
        po = polib.pofile(str(path), wrapwidth=78)
    except UnicodeDecodeError:
        raise _bad_utf8_line(path, encoding) from None
    except (OSError, ValueError) as exc:
        line = re.search(r"\(line (\d+)\)", str(exc))
        reason = re.sub(r"\s*\(line \d+\)", "", str(exc).replace(str(path), "")).strip().rstrip(":")
        reason = re.sub(r"^Syntax error in po file\s*:?\s*", "syntax error ", reason).strip()
        raise InterlinguaError(f"{where(path, line and int(line[1]))}: not a valid PO file{role} ({reason})") from None
    if (line := _unterminated_string(path, encoding)) is not None:
        raise InterlinguaError(f"{where(path, line)}: not a valid PO file{role} (string not closed by '\"')")
    return po


def _key(entry: polib.POEntry) -> tuple[str | None, str, str]:
    return entry.msgctxt, entry.msgid, entry.msgid_plural or ""


def _has_translation(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        return any(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def _clear(entry: polib.POEntry, forms: int) -> None:
    """Make ``entry`` untranslated: no msgstr, no fuzzy flag, no previous msgid (they described another text)."""
    if entry.msgid_plural:
        entry.msgstr_plural = {i: "" for i in range(forms)}
    else:
        entry.msgstr = ""
    entry.flags = [f for f in entry.flags if f != "fuzzy"]
    entry.previous_msgctxt = entry.previous_msgid = entry.previous_msgid_plural = None


def _strict(entry: polib.POEntry) -> bool:
    """A format string (``c-format``, ``python-format``, ...): "% d" is a directive even before a word."""
    return any(f.endswith("-format") and not f.startswith("no-") for f in entry.flags)


def _sources(entry: polib.POEntry, forms: int) -> list[str]:
    """The English text behind each msgstr: msgid for form 0, msgid_plural for the others (and for a
    one-form language, whose only form is used for every n)."""
    if not entry.msgid_plural:
        return [entry.msgid]
    if forms == 1:
        return [entry.msgid_plural]
    return [entry.msgid] + [entry.msgid_plural] * (forms - 1)


def _header(po: polib.POFile, lang: str, own: dict[str, str] | None) -> tuple[dict[str, str], bool]:
    """The header for language ``lang``: the input's, with Language, Plural-Forms and charset set."""
    meta = dict(po.metadata)
    fallback = False
    forms = (own or {}).get("Plural-Forms")
    if not nplurals(forms or ""):
        forms, fallback = plural_forms(lang)
    meta["Language"] = gettext_locale(lang)
    meta["Plural-Forms"] = forms
    meta["MIME-Version"] = "1.0"
    meta["Content-Type"] = "text/plain; charset=UTF-8"
    meta["Content-Transfer-Encoding"] = "8bit"
    meta["PO-Revision-Date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M+0000")
    if meta.get("Last-Translator", "FULL NAME <EMAIL@ADDRESS>").startswith("FULL NAME"):
        meta["Last-Translator"] = "interlingua machine draft <unreviewed>"
    if meta.get("Language-Team", "LANGUAGE <LL@li.org>").startswith("LANGUAGE"):
        meta["Language-Team"] = gettext_locale(lang)
    meta["X-Generator"] = "interlingua translate-file"
    return meta, fallback


def _translate_po(path: Path, translator: Any, langs: list[str], out_dir: Path, overwrite: bool, beam: int,
                  progress: bool) -> dict[str, Any]:
    po = load_po(path)
    declared = to_bcp47(po.metadata.get("Language", "") or "")
    domain = path.stem
    counts = _new_counts(langs)
    plans: dict[str, tuple[polib.POFile, Path, list[tuple[polib.POEntry, list[tuple[str, bool]]]]]] = {}
    protected: dict[tuple[str, bool], Protected] = {}
    needs: dict[str, set[str]] = {}
    for lang in langs:
        out_path = out_dir / gettext_locale(lang) / "LC_MESSAGES" / f"{domain}.po"
        _prepare_dir(out_path.parent)
        previous: dict[tuple[str | None, str, str], polib.POEntry] = {}
        previous_meta: dict[str, str] | None = None
        if out_path.exists() and not overwrite:
            old = load_po(out_path, " (an earlier output; pass --overwrite to replace it)")
            previous = {_key(e): e for e in old if not e.obsolete and e.msgid and _has_translation(e)}
            previous_meta = old.metadata
        own_input = declared is None or _same_language(declared, lang)
        catalog = copy.deepcopy(po)
        meta, fallback = _header(po, lang, po.metadata if own_input and declared else previous_meta)
        catalog.metadata, catalog.metadata_is_fuzzy, catalog.encoding = meta, False, "utf-8"
        if fallback:
            counts["plural_fallback"].append(lang)
            log.warning("%s: no Plural-Forms known for '%s'; writing %s (check it)", out_path, lang,
                        meta["Plural-Forms"])
        forms = nplurals(meta["Plural-Forms"]) or 2
        todo = []
        for entry in catalog:
            if entry.obsolete or not entry.msgid:
                continue
            if not overwrite and own_input and _has_translation(entry):
                _count(counts, lang, "kept")
                continue
            before = previous.get(_key(entry))
            if before is not None:
                entry.msgstr, entry.msgstr_plural = before.msgstr, dict(before.msgstr_plural)
                entry.flags = [f for f in entry.flags if f != "fuzzy"] + ["fuzzy"] * ("fuzzy" in before.flags)
                _count(counts, lang, "kept")
                continue
            _clear(entry, forms)
            sources = [(source, _strict(entry)) for source in _sources(entry, forms)]
            for key in sources:
                if key not in protected:
                    protected[key] = protect(*key)
                needs.setdefault(lang, set()).update(protected[key].texts)
            todo.append((entry, sources))
        plans[lang] = (catalog, out_path, todo)
    drafts = _run_model(translator, needs, beam, progress) if needs else {}
    for lang, (catalog, out_path, todo) in plans.items():
        for entry, sources in todo:
            made = [restore(protected[key], drafts.get(lang, {}), lang) for key in sources]
            if any(m is None for m in made):
                _count(counts, lang, "left_empty")
                if any(broke_placeholders(protected[key], drafts.get(lang, {}), lang) for key in sources):
                    _count(counts, lang, "left_empty_placeholders")
                continue
            if entry.msgid_plural:
                entry.msgstr_plural = dict(enumerate(made))
            else:
                entry.msgstr = made[0]
            if "fuzzy" not in entry.flags:
                entry.flags.insert(0, "fuzzy")
            _count(counts, lang, "filled")
    for lang, (catalog, out_path, _) in plans.items():
        atomic_write_text(out_path, str(catalog))
        counts["files"].append(str(out_path))
        counts["languages"][lang]["path"] = str(out_path)
    return counts


# ----------------------------------------------------------------------------- TMX

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def load_tmx(path: Path, role: str = "") -> ET.ElementTree:
    """Parse a TMX file keeping its comments; errors name file:line."""
    _need_file(path)
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    try:
        tree = ET.parse(path, parser=parser)
    except ET.ParseError as exc:
        line, column = exc.position
        head = path.read_bytes()[:200]
        m = re.search(rb"encoding=[\"']([\w.-]+)", head)
        encoding = m[1].decode().lower() if m else "utf-8"
        if encoding in ("utf-8", "utf8"):
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_utf8_line(path) from None
        reason = str(exc).rsplit(": line", 1)[0]
        raise InterlinguaError(f"{where(path, line)}: not valid XML{role}: {reason} (column {column + 1})") from None
    if _local(tree.getroot().tag) != "tmx":
        raise InterlinguaError(f"{path}: not a TMX file (root element <{_local(tree.getroot().tag)}>)")
    return tree


def _tuvs(tu: ET.Element) -> list[tuple[str, ET.Element]]:
    out = []
    for tuv in tu:
        if _local(tuv.tag) == "tuv":
            code = tuv.get(_XML_LANG) or tuv.get("lang") or ""
            out.append((to_bcp47(code) or code, tuv))
    return out


def _seg_text(tuv: ET.Element) -> str:
    seg = next((e for e in tuv if _local(e.tag) == "seg"), None)
    return "" if seg is None else "".join(seg.itertext())


def _units(tree: ET.ElementTree) -> list[ET.Element]:
    return [e for e in tree.getroot().iter() if _local(e.tag) == "tu"]


def _source_of(tu: ET.Element, source_lang: str) -> str:
    for code, tuv in _tuvs(tu):
        if _same_language(code, source_lang):
            return _seg_text(tuv)
    return ""


def _add_tuv(tu: ET.Element, lang: str, text: str | None = None, copy_of: ET.Element | None = None) -> None:
    children = [e for e in tu if _local(e.tag) == "tuv"]
    if copy_of is not None:
        tuv = copy.deepcopy(copy_of)
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        tuv = ET.Element("tuv", {_XML_LANG: lang, "creationtool": "interlingua", "creationdate": stamp})
        ET.SubElement(tuv, "prop", {"type": DRAFT_PROP}).text = "machine draft"
        ET.SubElement(tuv, "seg").text = _XML_FORBIDDEN.sub("", text or "")
    if children:  # same indentation as the existing variants
        last = children[-1]
        inner = tu.text if tu.text and not tu.text.strip() else "\n"
        tuv.tail, last.tail = last.tail, inner
        tu.insert(list(tu).index(last) + 1, tuv)
    else:
        tu.append(tuv)
    if copy_of is None and children and children[0].text and not children[0].text.strip():
        tuv.text = children[0].text  # indent <prop> and <seg> like the other variants' children
        tuv[0].tail = children[0].text
        tuv[1].tail = children[0][-1].tail if len(children[0]) else None


def _translate_tmx(path: Path, translator: Any, langs: list[str], out_dir: Path, overwrite: bool, beam: int,
                   progress: bool) -> dict[str, Any]:
    tree = load_tmx(path)
    header = next((e for e in tree.getroot() if _local(e.tag) == "header"), None)
    source_lang = (header.get("srclang") if header is not None else None) or "*all*"
    source_lang = "en" if source_lang == "*all*" else (to_bcp47(source_lang) or source_lang)
    out_path = out_dir / path.name
    _prepare_dir(out_dir)
    previous: dict[str, dict[str, ET.Element]] = {}
    if out_path.exists() and not overwrite and out_path.resolve() != path.resolve():
        for tu in _units(load_tmx(out_path, " (an earlier output; pass --overwrite to replace it)")):
            previous.setdefault(_source_of(tu, source_lang), {}).update(
                {code: tuv for code, tuv in _tuvs(tu) if _seg_text(tuv).strip()})
    counts = _new_counts(langs)
    protected: dict[str, Protected] = {}
    needs: dict[str, set[str]] = {}
    todo: list[tuple[ET.Element, str, str]] = []
    for tu in _units(tree):
        source = _source_of(tu, source_lang)
        if not source.strip():
            continue
        for lang in langs:
            present = [tuv for code, tuv in _tuvs(tu) if _same_language(code, lang)]
            if present and not overwrite:
                _count(counts, lang, "kept")
                continue
            for tuv in present:
                tu.remove(tuv)
            earlier = next((tuv for code, tuv in previous.get(source, {}).items() if _same_language(code, lang)), None)
            if earlier is not None:
                _add_tuv(tu, lang, copy_of=earlier)
                _count(counts, lang, "kept")
                continue
            if source not in protected:
                protected[source] = protect(source)
            needs.setdefault(lang, set()).update(protected[source].texts)
            todo.append((tu, lang, source))
    drafts = _run_model(translator, needs, beam, progress) if needs else {}
    for tu, lang, source in todo:
        made = restore(protected[source], drafts.get(lang, {}), lang)
        if made is None:
            _count(counts, lang, "left_empty")
            if broke_placeholders(protected[source], drafts.get(lang, {}), lang):
                _count(counts, lang, "left_empty_placeholders")
            continue
        _add_tuv(tu, lang, made)
        _count(counts, lang, "filled")
    xml = ET.tostring(tree.getroot(), encoding="unicode")
    atomic_write_text(out_path, '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n")
    counts["files"].append(str(out_path))
    for lang in langs:
        counts["languages"][lang]["path"] = str(out_path)
    return counts
