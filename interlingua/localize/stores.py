"""Localisation files in and out, through translate-toolkit (the library Weblate is built on).

The one owner of reading and writing PO/POT, XLIFF 1.2 and 2.x, TMX, Qt ``.ts``, Android
``strings.xml``, Apple ``.strings`` and JSON i18n files: ``translate-file``, its ``--tm`` and the
corpus import all open files here. The kind comes from the name, and from the content where the name
is ambiguous (XLIFF 1.2 or 2.x from ``version``; a JSON file's flavour from its shape; a ``.strings``
file's encoding from its byte-order mark).

What the library normalises on a write (everything else comes back byte for byte, tested):
* PO: the comments of an entry in gettext's canonical order (``# ``, ``#.``, ``#:``, ``#,``, ``#|``),
  what ``msgcat`` writes too;
* XML kinds (XLIFF, TMX, Qt, Android): lxml's serialisation of the tags themselves: attributes on one
  line, namespace declarations first, ``<x></x>`` of an empty element as ``<x/>``; text, comments and
  whitespace between elements are kept;
* JSON: re-dumped with the input's indentation (keys, order and values kept; escapes such as
  ``\\u00e9`` are written as the character).

Every problem is one ``InterlinguaError`` line naming the file (and line where known).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes
from ..errors import InterlinguaError, where

# kind -> what the user reads in messages and docs
KINDS = {
    "tbx": "TBX glossary", "po": "PO/POT catalog", "xliff1": "XLIFF 1.2", "xliff2": "XLIFF 2.x", "tmx": "TMX memory",
    "ts": "Qt .ts", "android": "Android strings.xml", "apple": "Apple .strings", "json": "JSON i18n",
}
SUFFIXES = ".po, .pot, .xlf, .xliff, .tmx, .ts, strings.xml (Android), .strings, .json"
_XML_ROOTS = {"tbx": "martif", "xliff1": "xliff", "xliff2": "xliff", "tmx": "tmx", "ts": "TS", "android": "resources"}


@dataclass
class Store:
    """A parsed file: the translate-toolkit store, its kind, and where it came from."""
    kind: str
    store: Any           # translate.storage.base.TranslationStore
    path: Path
    flavour: str = ""    # JSON: nested, i18next, webextension, arb, flat


def detect(path: Path, head: bytes = b"") -> str:
    """The kind of ``path`` from its name, and from its first bytes where the name is ambiguous."""
    suffix, name = path.suffix.lower(), path.name.lower()
    if suffix in (".po", ".pot"):
        return "po"
    if suffix in (".xlf", ".xliff"):
        m = re.search(rb"<xliff\b[^>]*\bversion\s*=\s*[\"'](\d)", head)
        return "xliff2" if m and m[1] == b"2" else "xliff1"
    if suffix == ".tmx":
        return "tmx"
    if suffix == ".ts":
        return "ts"
    if suffix == ".strings":
        return "apple"
    if suffix == ".json":
        return "json"
    if suffix == ".xml" and (name == "strings.xml" or b"<resources" in head):
        return "android"
    raise InterlinguaError(f"{path}: cannot translate this kind of file; use one of {SUFFIXES}")


def need_file(path: Path, role: str = "") -> None:
    if not path.is_file():
        raise InterlinguaError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}{role}")


def bad_encoding(path: Path, data: bytes, encoding: str = "utf-8") -> InterlinguaError | None:
    """The error for bytes that do not decode, pointing at the first bad line; None when they decode."""
    try:
        data.decode(encoding)
        return None
    except UnicodeDecodeError:
        pass
    except LookupError:
        return InterlinguaError(f"{path}: unknown charset {encoding!r} in the header; save the file as UTF-8")
    name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    for n, raw in enumerate(data.splitlines(keepends=True), 1):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as exc:
            return InterlinguaError(f"{where(path, n)}: not valid {name} (byte 0x{raw[exc.start]:02x} at "
                                    f"byte {exc.start + 1} of the line); save the file as UTF-8")
    return InterlinguaError(f"{path}: not valid {name}; save the file as UTF-8")


def _po_charset(data: bytes) -> str:
    m = re.search(rb"charset=([\w.-]+)", data[:4000])
    charset = m[1].decode("ascii").lower() if m else "utf-8"
    return "utf-8" if charset == "charset" else charset  # a template's placeholder 'CHARSET'


def _json_flavour(path: Path, data: bytes) -> str:
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InterlinguaError(f"{where(path, exc.lineno)}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise InterlinguaError(f"{path}: not a JSON i18n file (the top level is a {type(obj).__name__}, "
                               f"not an object of messages)")
    values = list(obj.values())
    if any(k.startswith("@@") or k.startswith("@") and isinstance(v, dict) for k, v in obj.items()):
        return "arb"
    if values and all(isinstance(v, dict) and "message" in v for v in values):
        return "webextension"
    if any(re.search(r"_(zero|one|two|few|many|other)$", k) for k in obj):
        return "i18next"
    return "nested"


def _classes() -> dict[str, Any]:
    from translate.storage import aresource, jsonl10n, properties, pypo, tbx, tmx, ts2, xliff, xliff2
    return {"tbx": tbx.tbxfile, "po": pypo.pofile, "xliff1": xliff.xlifffile, "xliff2": xliff2.Xliff2File, "tmx": tmx.tmxfile,
            "ts": ts2.tsfile, "android": aresource.AndroidResourceFile, "apple": properties.stringsutf8file,
            "apple-utf16": properties.stringsfile, "json-nested": jsonl10n.JsonNestedFile,
            "json-i18next": jsonl10n.I18NextV4File, "json-webextension": jsonl10n.WebExtensionJsonFile,
            "json-arb": jsonl10n.ARBJsonFile}


def _json_indent(data: bytes) -> int | str | None:
    m = re.search(rb"^[{\[]\s*?\n([ \t]+)\S", data.lstrip(b"\xef\xbb\xbf"))
    if not m:
        return None if b"\n" not in data.strip() else 4
    return m[1].decode() if b"\t" in m[1] else len(m[1])


def load(path: str | Path, role: str = "", kind: str | None = None) -> Store:
    """Parse any supported file; ``role`` is added to messages (e.g. ' (an earlier output; ...)').

    ``kind`` skips the guess from the name: a TBX glossary is read only where one is asked for (``--glossary``)."""
    path = Path(path)
    need_file(path, role)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InterlinguaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    kind = kind or detect(path, data[:2000])
    utf16 = kind == "apple" and data[:2] in (b"\xff\xfe", b"\xfe\xff")
    encoding = _po_charset(data) if kind == "po" else "utf-16" if utf16 else "utf-8"
    if kind not in _XML_ROOTS or not re.match(rb"\s*<\?xml[^>]*encoding=[\"'](?!utf-?8)", data, re.I):
        if (error := bad_encoding(path, data, encoding)) is not None:
            raise error
    flavour = _json_flavour(path, data) if kind == "json" else ""
    if kind in _XML_ROOTS:  # lxml first: its line numbers, and the kind checked before the library guesses
        from lxml import etree
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise _parse_error(path, kind, exc, role) from None
        local = root.tag.rsplit("}", 1)[-1] if isinstance(root.tag, str) else ""
        if local != _XML_ROOTS[kind]:
            raise InterlinguaError(f"{path}: not a {KINDS[kind]} file (root element <{local}>){role}")
    cls = _classes()[f"json-{flavour}" if kind == "json" else "apple-utf16" if utf16 else kind]
    try:
        store = cls.parsestring(data)
    except Exception as exc:  # the library raises many types; every one is the input's fault here
        raise _parse_error(path, kind, exc, role) from None
    if kind == "json":
        store.dump_args["indent"] = _json_indent(data)
    store.filename = str(path)
    return Store(kind, store, path, flavour)


def _parse_error(path: Path, kind: str, exc: Exception, role: str) -> InterlinguaError:
    text = str(exc).strip()
    line = getattr(exc, "lineno", None)
    if kind == "po":
        m = re.search(r"^(.*?) on line (\d+)", text)
        reason, line = (m[1].lower(), int(m[2])) if m else (text, line)
        return InterlinguaError(f"{where(path, line)}: not a valid PO file{role} ({reason})")
    if kind in _XML_ROOTS:
        reason = re.sub(r",? line \d+, column \d+.*$", "", text)
        column = getattr(exc, "offset", None)
        return InterlinguaError(f"{where(path, line)}: not valid XML{role}: {reason}"
                                + (f" (column {column})" if column else ""))
    return InterlinguaError(f"{path}: not a valid {KINDS[kind]} file{role} ({text or type(exc).__name__})")


def save(store: Store, path: str | Path) -> None:
    """Write through the one output writer (temporary file, fsync, rename)."""
    atomic_write_bytes(path, bytes(store.store))


def translations(source: Store, target: str | None = None, source_lang: str = "en") -> list[dict[str, str]]:
    """The reviewed translations a file holds, as multi-way rows ``{"_id": .., "en": .., "fr": ..}``: what
    ``--tm`` matches against and what ``corpus import`` reads. Drafts (PO fuzzy, Qt unfinished, XLIFF
    states before translated) and obsolete entries are not translations. ``target`` names the language
    of a file that does not say it (a PO file without ``Language:``).

    A monolingual file (Android, Apple, JSON) holds one language only: it is no memory.
    """
    from ..corpus.formats import ROW_ID
    from ..corpus.langcodes import to_bcp47
    from .inline import plain
    kind, store = source.kind, source.store
    if kind in ("android", "apple", "json"):
        raise InterlinguaError(f"{source.path}: a {KINDS[kind]} file holds one language; a translation memory "
                               f"needs source and translation (PO, XLIFF, TMX or Qt .ts)")
    rows: list[dict[str, str]] = []
    if kind == "tmx":
        from .kinds import _seg, _tuvs
        for n, unit in enumerate(store.units, 1):
            row = {ROW_ID: unit.xmlelement.get("tuid") or str(n)}
            for code, tuv in _tuvs(unit.xmlelement):
                seg = _seg(tuv)
                if seg is not None and code:
                    row.setdefault(to_bcp47(code) or code, plain(seg))
            rows.append(row)
        return rows
    if kind == "po":
        declared = store.parseheader().get("Language", "")
    else:
        declared = store.gettargetlanguage() or ""
        source_lang = to_bcp47(store.getsourcelanguage() or "") or source_lang
    lang = to_bcp47(declared) or target
    if not lang:
        raise InterlinguaError(f"{source.path}: cannot tell the translation language: the file does not name it "
                               f"(PO 'Language:' header, XLIFF target-language, Qt language); pass it")
    for n, unit in enumerate((u for u in store.units if not u.isheader()), 1):
        if unit.isobsolete() or unit.isfuzzy() or not unit.source:
            continue
        if kind in ("xliff1", "xliff2"):
            if unit.target_dom is None or not _reviewed_enough(kind, unit):
                continue
            pair = (plain(unit.source_dom), plain(unit.target_dom))
        else:
            source_text = getattr(unit.source, "strings", [unit.source])[0]
            pair = (str(source_text), str(getattr(unit.target, "strings", [unit.target])[0] or ""))
        rows.append({ROW_ID: str(n), source_lang: pair[0], lang: pair[1]})
    return rows


def _reviewed_enough(kind: str, unit: Any) -> bool:
    """An XLIFF target counts as a translation unless its state says it is new or still needs translating."""
    if kind == "xliff1":
        return (unit.target_dom.get("state") or "translated") not in ("new", "needs-translation")
    return (unit.xmlelement.get("state") or "translated") != "initial"
