"""What each file format needs from translate-file: where a language's output goes, which entries it
has to fill, where their English is, and how a draft is marked for review in that format's own way.

Each planner turns a parsed file into *slots*, one per entry and target language still to fill: the
English text of each form the target needs, and a ``write`` that puts a finished draft in place
with its review mark. Entries that already have a translation are kept (and counted); the
orchestration (memory, model, placeholder check, counts) is ``files.py``'s and the same for all.

Review marks: PO ``#, fuzzy``; XLIFF 1.2 ``<target state="needs-review-translation"
state-qualifier="mt-suggestion">`` (``leveraged-tm`` from a memory); XLIFF 2 ``state="translated"``
(translated, not reviewed) with ``subState="interlingua:mt"`` (``interlingua:tm``); Qt
``<translation type="unfinished">``; TMX ``<prop type="x-interlingua">machine draft</prop>``; Android
and Apple a comment above the string; JSON has no place for one (the report counts the drafts).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from ..corpus.langcodes import java_language, to_bcp47
from . import inline
from .plurals import form_sources, gettext_locale, nplurals, plural_forms, tag_sources
from .stores import Store, load

DRAFT_PROP = "x-interlingua"
REVIEW = "interlingua machine draft: needs review"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass
class Slot:
    """One entry to fill for one language."""
    lang: str
    sources: list[str]                    # English of each form, as the model sees it (XML kinds: escaped, codes as stand-ins)
    write: Callable[[list[str], str], bool]   # (finished forms, note) -> False when the format refuses the draft
    strict: bool = False                  # a format string (PO c-format, ...): "% d" is a directive
    plain: list[str] | None = None        # the English a memory matches on; None when it has inline codes
    from_memory: Callable[[str], str] = lambda text: text   # a memory's plain text into the model's form


@dataclass
class Output:
    """One output file: the store to write, where, and its slots and counts of kept entries."""
    store: Store
    path: Path
    slots: list[Slot] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)
    plural_fallback: list[str] = field(default_factory=list)
    finish: Callable[[], None] = lambda: None   # monolingual kinds: drop the entries left without a translation


def same_language(a: str | None, b: str) -> bool:
    """``fr`` matches ``fr`` and ``fr-FR`` (a catalog for French in France is a French catalog)."""
    if not a:
        return False
    a, b = to_bcp47(a) or a, to_bcp47(b) or b
    if a == b:
        return True
    pa, pb = a.split("-"), b.split("-")
    return pa[0] == pb[0] and (len(pa) == 1 or len(pb) == 1)


def output_path(source: Store, lang: str, out_dir: Path) -> Path:
    """Where language ``lang``'s file goes, as each framework looks for it."""
    name = source.path.name
    if source.kind == "po":
        return out_dir / gettext_locale(lang) / "LC_MESSAGES" / f"{source.path.stem}.po"
    if source.kind == "tmx":
        return out_dir / name
    if source.kind == "android":  # values-fr, values-pt-rBR, values-b+sr+Latn; Indonesian in values-in (java_language)
        parts = java_language(to_bcp47(lang) or lang).split("-")
        if len(parts) == 1:
            qualifier = parts[0]
        elif len(parts) == 2 and len(parts[1]) == 2:
            qualifier = f"{parts[0]}-r{parts[1].upper()}"
        else:
            qualifier = "b+" + "+".join(parts)
        return out_dir / f"values-{qualifier}" / name
    if source.kind == "apple":
        return out_dir / f"{to_bcp47(lang) or lang}.lproj" / name
    return out_dir / gettext_locale(lang) / name


def _earlier(path: Path, overwrite: bool, source: Store) -> Store | None:
    if overwrite or not path.exists() or path.resolve() == source.path.resolve():
        return None
    return load(path, " (an earlier output; pass --overwrite to replace it)")


def _start(source: Store, lang: str, out_dir: Path, overwrite: bool) -> tuple[Output, Store | None]:
    """A fresh copy of the input to fill for ``lang``, and the earlier output at its path (``_earlier``)."""
    path = output_path(source, lang, out_dir)
    earlier = _earlier(path, overwrite, source)
    return Output(load(source.path), path), earlier


def _start_bilingual(source: Store, lang: str, out_dir: Path, overwrite: bool,
                     target_language: str) -> tuple[Output, bool, dict[Any, Any]]:
    """XLIFF and Qt: (the copy, its target language set to ``target_language``; whether the input is already
    ``lang``'s file, whose own translations are then kept; the earlier output's translated units by key)."""
    out, earlier = _start(source, lang, out_dir, overwrite)
    declared = source.store.gettargetlanguage()
    own_input = not declared or same_language(declared, lang)
    out.store.store.settargetlanguage(target_language)
    return out, own_input, {_key(u): u for u in earlier.store.units if _translated(u)} if earlier else {}


def _key(unit: Any) -> tuple[str, tuple[str, ...]]:
    source = unit.source
    return str(unit.getid()), tuple(getattr(source, "strings", [source]))


def _strings(value: Any) -> list[str]:
    return [str(s) for s in getattr(value, "strings", [value])] if value is not None else []


def _translated(unit: Any) -> bool:
    return any(_strings(unit.target))


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# ----------------------------------------------------------------------------- PO / POT

def _po_flags(unit: Any) -> list[str]:
    return [f.strip() for line in unit.typecomments for f in line[2:].split(",") if f.strip()]


def _po_header(store: Any, lang: str, own: dict[str, str] | None) -> tuple[int, bool]:
    """Set Language, Plural-Forms, charset and the translator fields for ``lang``; (nplurals, fallback)."""
    header = store.parseheader()
    forms = (own or {}).get("Plural-Forms")
    fallback = False
    if not nplurals(forms or ""):
        forms, fallback = plural_forms(lang)
    fields = {"Language": gettext_locale(lang), "Plural-Forms": forms, "MIME-Version": "1.0",
              "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit",
              "PO-Revision-Date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M+0000"),
              "X-Generator": "interlingua translate-file"}
    if header.get("Last-Translator", "FULL NAME <EMAIL@ADDRESS>").startswith("FULL NAME"):
        fields["Last-Translator"] = "interlingua machine draft <unreviewed>"
    if header.get("Language-Team", "LANGUAGE <LL@li.org>").startswith("LANGUAGE"):
        fields["Language-Team"] = gettext_locale(lang)
    store.updateheader(add=True, **{k.replace("-", "_"): v for k, v in fields.items()})
    store.encoding = "UTF-8"
    return nplurals(forms) or 2, fallback


def _to_draft(out: Output, lang: str, keep_translated: bool, previous: dict[Any, Any],
              reuse: Callable[[Any, Any], None]) -> Iterator[Any]:
    """The units of a PO or Qt output the model is to draft. A unit already translated in the input is kept when
    ``keep_translated``; one the earlier output translated takes that back (``reuse(unit, old)``); both counted."""
    for unit in out.store.store.units:
        if unit.isheader() or unit.isobsolete() or not unit.source:
            continue
        if keep_translated and _translated(unit):
            out.kept[lang] = out.kept.get(lang, 0) + 1
            continue
        if (old := previous.get(_key(unit))) is not None:
            reuse(unit, old)
            out.kept[lang] = out.kept.get(lang, 0) + 1
            continue
        yield unit


def _po_reuse(unit: Any, old: Any) -> None:
    unit.target, unit.typecomments, unit.othercomments = old.target, old.typecomments, old.othercomments
    unit.prev_msgctxt, unit.prev_msgid, unit.prev_msgid_plural = old.prev_msgctxt, old.prev_msgid, old.prev_msgid_plural


def plan_po(source: Store, lang: str, out_dir: Path, overwrite: bool) -> Output:
    out, earlier = _start(source, lang, out_dir, overwrite)
    store = out.store.store
    declared = to_bcp47(source.store.parseheader().get("Language", "") or "")
    own_input = declared is None or same_language(declared, lang)
    own_header = source.store.parseheader() if own_input and declared else \
        earlier.store.parseheader() if earlier else None
    forms, fallback = _po_header(store, lang, own_header)
    if fallback:
        out.plural_fallback.append(lang)
    previous = {_key(u): u for u in earlier.store.units
                if not u.isheader() and not u.isobsolete() and _translated(u)} if earlier else {}
    for unit in _to_draft(out, lang, not overwrite and own_input, previous, _po_reuse):
        _po_clear(unit, forms)
        strings = _strings(unit.source)
        sources = form_sources(strings[0], strings[1], forms) if unit.hasplural() else strings[:1]
        strict = any(f.endswith("-format") and not f.startswith("no-") for f in _po_flags(unit))
        out.slots.append(Slot(lang, sources, _po_writer(unit), strict, plain=sources))
    return out


def _po_clear(unit: Any, forms: int) -> None:
    """Untranslated: no msgstr, no fuzzy flag, no previous msgid (they described another text)."""
    from translate.misc.multistring import multistring
    unit.target = multistring([""] * forms) if unit.hasplural() else ""
    unit.markfuzzy(False)
    unit.prev_msgctxt, unit.prev_msgid, unit.prev_msgid_plural = [], [], []


def _po_writer(unit: Any) -> Callable[[list[str], str], bool]:
    def write(texts: list[str], note: str) -> bool:
        from translate.misc.multistring import multistring
        unit.target = multistring(texts) if unit.hasplural() else texts[0]
        unit.markfuzzy(True)
        if note:
            unit.addnote(note, origin="translator")
        return True
    return write


# ----------------------------------------------------------------------------- XLIFF 1.2 and 2.x

def _xml_writer(kind: str, unit: Any, codes: list[etree._Element]) -> Callable[[list[str], str], bool]:
    def write(texts: list[str], note: str) -> bool:
        built = inline.build(texts[0], codes)
        if built is None:
            return False
        if unit.target_dom is None:
            unit.target = ""  # the library places a new <target> after <source>, indented like it
        target = unit.target_dom
        inline.put(target, built)
        memory = note.startswith("translation memory")
        if kind == "xliff1":
            target.set("state", "needs-review-translation")
            target.set("state-qualifier", "leveraged-tm" if memory else "mt-suggestion")
            unit.xmlelement.attrib.pop("approved", None)
            if note:
                unit.addnote(note, origin="translator")
        else:
            segment = unit.xmlelement
            segment.set("state", "translated")
            segment.set("subState", "interlingua:tm" if memory else "interlingua:mt")
            if note:
                _xliff2_note(segment.getparent(), note)
        return True
    return write


def _xliff2_note(unit_element: etree._Element, text: str) -> None:
    """XLIFF 2 keeps notes in the unit's <notes>, before its segments (the library would put them inside the segment)."""
    ns = unit_element.nsmap.get(None) or "urn:oasis:names:tc:xliff:document:2.0"
    notes = unit_element.find(f"{{{ns}}}notes")
    if notes is None:
        notes = etree.Element(f"{{{ns}}}notes")
        first = unit_element[0] if len(unit_element) else None
        if first is not None:
            notes.tail = unit_element.text
            first.addprevious(notes)
        else:
            unit_element.append(notes)
    etree.SubElement(notes, f"{{{ns}}}note", category="translator").text = text


def plan_xliff(source: Store, lang: str, out_dir: Path, overwrite: bool) -> Output:
    out, own_input, previous = _start_bilingual(source, lang, out_dir, overwrite, lang)
    store = out.store.store
    for unit in store.units:
        if unit.isheader() or not unit.istranslatable() or unit.source_dom is None:
            continue
        text, codes = inline.to_text(unit.source_dom)
        if not inline.plain(unit.source_dom).strip():
            continue
        if not overwrite and own_input and _translated(unit):
            out.kept[lang] = out.kept.get(lang, 0) + 1
            continue
        if (old := previous.get(_key(unit))) is not None and old.target_dom is not None:
            if unit.target_dom is None:
                unit.target = ""
            unit.xmlelement.replace(unit.target_dom, _copy_into(old.target_dom, unit.target_dom))
            for name in ("state", "subState"):
                if (value := old.xmlelement.get(name)) is not None and source.kind == "xliff2":
                    unit.xmlelement.set(name, value)
            out.kept[lang] = out.kept.get(lang, 0) + 1
            continue
        if unit.target_dom is not None and overwrite:
            unit.xmlelement.remove(unit.target_dom)
        out.slots.append(Slot(lang, [text], _xml_writer(source.kind, unit, codes),
                              plain=None if codes else [inline.plain(unit.source_dom)], from_memory=escape))
    return out


def _copy_into(old: etree._Element, new: etree._Element) -> etree._Element:
    """The earlier output's target with the tail (indentation) of the new file's."""
    clone = copy.deepcopy(old)
    clone.tail = new.tail
    return clone


# ----------------------------------------------------------------------------- Qt .ts

def plan_ts(source: Store, lang: str, out_dir: Path, overwrite: bool) -> Output:
    out, own_input, previous = _start_bilingual(source, lang, out_dir, overwrite, gettext_locale(lang))
    forms = nplurals(plural_forms(lang)[0]) or 2
    for unit in _to_draft(out, lang, not overwrite and own_input, previous, _ts_reuse):
        text = str(unit.source)
        # Qt writes one source for a numerus message (%n): every form translates it
        sources = [text] * forms if unit.hasplural() else [text]
        # PO's writer: on a Qt unit fuzzy is type="unfinished" and the note a <translatorcomment>
        out.slots.append(Slot(lang, sources, _po_writer(unit), plain=sources))
    return out


def _ts_reuse(unit: Any, old: Any) -> None:
    unit.target = old.target
    unit.markfuzzy(old.isfuzzy())


# ----------------------------------------------------------------------------- TMX (one file, every language)

def _tuvs(tu: etree._Element) -> list[tuple[str, etree._Element]]:
    return [(tuv.get(_XML_LANG) or tuv.get("lang") or "", tuv) for tuv in tu
            if isinstance(tuv.tag, str) and tuv.tag.rsplit("}", 1)[-1] == "tuv"]


def _seg(tuv: etree._Element) -> etree._Element | None:
    return next((e for e in tuv if isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1] == "seg"), None)


def tmx_source_language(store: Any) -> str:
    header = store.document.getroot().find("header")
    srclang = header.get("srclang") if header is not None else None
    return "en" if not srclang or srclang == "*all*" else (to_bcp47(srclang) or srclang)


def tmx_source(tu: etree._Element, source_lang: str) -> etree._Element | None:
    return next((seg for code, tuv in _tuvs(tu) if same_language(code, source_lang)
                 and (seg := _seg(tuv)) is not None), None)


def _add_tuv(tu: etree._Element, tuv: etree._Element) -> None:
    """Append ``tuv`` after the last variant, indented like it."""
    children = [t for _, t in _tuvs(tu)]
    if children:
        last = children[-1]
        tuv.tail, last.tail = last.tail, (tu.text if tu.text and not tu.text.strip() else last.tail)
        last.addnext(tuv)
        if children[0].text and not children[0].text.strip() and len(tuv) and len(children[0]):
            tuv.text = children[0].text  # indent <prop> and <seg> like the other variants' children
            for child in tuv[:-1]:
                child.tail = children[0].text
            tuv[-1].tail = children[0][-1].tail
    else:
        tu.append(tuv)


def _tmx_writer(tu: etree._Element, lang: str, codes: list[etree._Element]) -> Callable[[list[str], str], bool]:
    def write(texts: list[str], note: str) -> bool:
        built = inline.build(texts[0], codes)
        if built is None:
            return False
        tuv = etree.Element("tuv", {_XML_LANG: lang, "creationtool": "interlingua", "creationdate": _stamp()})
        memory = note.startswith("translation memory")  # else the model's confidence, beside the mark
        etree.SubElement(tuv, "prop", type=DRAFT_PROP).text = note if memory else \
            f"machine draft ({note})" if note else "machine draft"
        seg = etree.SubElement(tuv, "seg")
        inline.put(seg, built)
        _add_tuv(tu, tuv)
        return True
    return write


def plan_tmx(source: Store, langs: list[str], out_dir: Path, overwrite: bool) -> Output:
    out, earlier = _start(source, langs[0], out_dir, overwrite)
    store = out.store.store
    source_lang = tmx_source_language(store)
    previous: dict[str, dict[str, etree._Element]] = {}
    if earlier is not None:
        for unit in earlier.store.units:
            seg = tmx_source(unit.xmlelement, source_lang)
            if seg is not None:
                previous.setdefault(inline.plain(seg), {}).update(
                    {code: tuv for code, tuv in _tuvs(unit.xmlelement) if (s := _seg(tuv)) is not None
                     and inline.plain(s).strip()})
    for unit in store.units:
        tu = unit.xmlelement
        seg = tmx_source(tu, source_lang)
        if seg is None or not inline.plain(seg).strip():
            continue
        text, codes = inline.to_text(seg)
        for lang in langs:
            present = [tuv for code, tuv in _tuvs(tu) if same_language(code, lang)]
            if present and not overwrite:
                out.kept[lang] = out.kept.get(lang, 0) + 1
                continue
            for tuv in present:
                tu.remove(tuv)
            earlier_tuv = next((tuv for code, tuv in previous.get(inline.plain(seg), {}).items()
                                if same_language(code, lang)), None)
            if earlier_tuv is not None:
                _add_tuv(tu, copy.deepcopy(earlier_tuv))
                out.kept[lang] = out.kept.get(lang, 0) + 1
                continue
            out.slots.append(Slot(lang, [text], _tmx_writer(tu, lang, codes),
                                  plain=None if codes else [inline.plain(seg)], from_memory=escape))
    return out


# ----------------------------------------------------------------------------- monolingual: Android, Apple, JSON

def _comment_above(element: etree._Element, text: str) -> None:
    comment = etree.Comment(f" {text} ")
    previous = element.getprevious()
    indent = (previous.tail if previous is not None else element.getparent().text) or "\n"
    comment.tail = indent
    element.addprevious(comment)


def _mono_writer(kind: str, unit: Any, tags: list[str] | None) -> Callable[[list[str], str], bool]:
    def write(texts: list[str], note: str) -> bool:
        from translate.misc.multistring import multistring
        unit.target = multistring(texts) if tags else texts[0]
        mark = f"{REVIEW} ({note})" if note else REVIEW
        if kind == "android":
            _comment_above(unit.xmlelement, mark)
        elif kind == "apple":
            unit.addnote(mark)
        unit._interlingua_filled = True
        return True
    return write


def plan_mono(source: Store, lang: str, out_dir: Path, overwrite: bool) -> Output:
    """The input is the English file; each language's file holds the entries translated so far only,
    so the app falls back to English for the rest (as Weblate writes them), and a rerun fills only those."""
    out, earlier = _start(source, lang, out_dir, overwrite)
    store = out.store.store
    by_tag: dict[str, dict[str, str]] = {}
    if source.kind == "android":  # the source's quantities, read before the target language changes them
        for unit in store.units:
            if unit.xmlelement.tag == "plurals":
                by_tag[unit.getid()] = {item.get("quantity"): unit.get_xml_text_value(item)
                                        for item in unit.xmlelement.iterchildren("item")}
    sources = {id(unit): _strings(unit.source) for unit in store.units}
    store.settargetlanguage(to_bcp47(lang) or lang)
    previous = {str(u.getid()): u for u in earlier.store.units} if earlier else {}
    for unit in store.units:
        unit._interlingua_filled = False
        texts = sources[id(unit)]
        translatable = getattr(unit, "istranslatable", lambda: True)()
        if not translatable or not any(t.strip() for t in texts):
            continue
        if (old := previous.get(str(unit.getid()))) is not None and _translated(old):
            unit.target = old.target
            unit._interlingua_filled = True
            out.kept[lang] = out.kept.get(lang, 0) + 1
            continue
        tags = None
        if str(unit.getid()) in by_tag:
            tags = store.get_plural_tags()
            forms = tag_sources(by_tag[str(unit.getid())], tags)
        elif len(texts) > 1:  # a plural of JSON flavours: categories in the library's order
            tags = store.get_plural_tags()
            forms = tag_sources(dict(zip(source.store.get_plural_tags(), texts)), tags)
        else:
            forms = texts[:1]
        out.slots.append(Slot(lang, forms, _mono_writer(source.kind, unit, tags), plain=forms))

    def finish() -> None:
        for unit in list(store.units):
            if not unit._interlingua_filled:
                store.removeunit(unit)  # the XML kinds take the element out of the document too
    out.finish = finish
    return out


def plan(source: Store, langs: list[str], out_dir: Path, overwrite: bool) -> list[Output]:
    """One output per language (one for all of them for TMX)."""
    if source.kind == "tmx":
        return [plan_tmx(source, langs, out_dir, overwrite)]
    planner = {"po": plan_po, "xliff1": plan_xliff, "xliff2": plan_xliff, "ts": plan_ts,
               "android": plan_mono, "apple": plan_mono, "json": plan_mono}[source.kind]
    return [planner(source, lang, out_dir, overwrite) for lang in langs]
