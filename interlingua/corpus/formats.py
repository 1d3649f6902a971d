"""Read and write parallel corpora: JSONL, TSV, TMX, PO/POT and Moses plain-text pairs.

Every reader turns its format into the one in-memory shape the rest of interlingua uses,
a list of multi-way rows ``{"_id": "42", "en": "Open file", "fr": "Ouvrir le fichier"}``: the
meaning's id under ``ROW_ID``, texts keyed by BCP-47 codes, so training code never cares where the text came from. Texts are
single-line (line-based formats depend on it), and a row needs two languages to teach
anything, so readers drop the rest. Every problem is an ``InterlinguaError`` whose one-line
message starts with ``file:line`` when the line is known: a bad corpus is a user mistake
to point at, not a crash.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import zip_longest
from pathlib import Path

from interlingua.corpus.langcodes import catalog_language
from interlingua.errors import InterlinguaError, where
from interlingua.files import open_outputs, text_lines

Row = dict[str, str]
# The key of a row's meaning id: it starts with "_", which no language code can, so every language is a text key,
# Indonesian ("id") included. Corpora written before 2026-12-08 kept the id under "id" (read by row_id_key).
ROW_ID = "_id"
_LEGACY_ROW_ID = "id"
# The ids written under "id" before ROW_ID: decimal counts (import's line, unit and entry numbers) and the
# harvest's meaning ids (12 hex digits of a SHA-1, harvest.meaning_id). Indonesian text is neither.
_LEGACY_ID = re.compile(r"[0-9]+|[0-9a-f]{12}")
_EXTENSIONS = {".jsonl": "jsonl", ".json": "jsonl", ".tsv": "tsv", ".tmx": "tmx", ".po": "po", ".pot": "po"}
# File extensions that would pass as 2-3 letter codes but name file types: the corpus formats' own first
# (a.po,a.tmx is two files of other formats, never a Moses pair in languages 'po' and 'tmx'). The build system's
# templates too: Makefile.in, config.h.in and POTFILES.in are no Indonesian (Java's withdrawn 'in', which
# to_bcp47 reads as 'id'), configure.ac no language 'ac'. Makefile.am and rules.mk stay Amharic and Macedonian:
# those are real codes, and a Moses file may be named by them.
_NOT_LANGS = {"po", "pot", "mo", "tmx", "tsv", "txt", "csv", "xml", "gz", "bz2", "xz", "zip", "tar", "py", "md",
              "log", "yml", "yaml", "tmp", "bak", "doc", "pdf", "htm", "ini", "cfg", "dat", "out", "bin", "srt",
              "in", "ac"}
# Everything str.splitlines() breaks on, plus spaces and tabs: a text must stay on one line.
_SPACE = re.compile(r"[ \t\n\r\f\v\x1c-\x1f\x85\u2028\u2029]+")
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0 at all
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def row_id_key(record: Mapping[str, object] | Collection[str]) -> str | None:
    """Which key holds the row id of a record as a file holds it (a JSONL object, or a TSV header's cells),
    None if none does. A record with ``ROW_ID`` is new, and an ``id`` beside it is Indonesian text. One without
    ``ROW_ID`` but with ``id`` may have been written before ``ROW_ID`` existed, when ``id`` was always the row id:
    an object's ``id`` is taken as that only when its value looks like the ids our tools wrote then
    (``_LEGACY_ID``), so a hand-written ``{"en": "Open", "id": "Buka"}`` keeps its Indonesian. Keys alone (a
    header, or the keys of a record with no language keys: a pair row, a products record) decide by the key:
    there ``id`` cannot be text. Every reader asks this one function."""
    if ROW_ID in record:
        return ROW_ID
    if _LEGACY_ROW_ID not in record:
        return None
    if isinstance(record, Mapping) and not _looks_like_legacy_id(record[_LEGACY_ROW_ID]):
        return None
    return _LEGACY_ROW_ID


def _looks_like_legacy_id(value: object) -> bool:
    """An id the tools wrote under ``id``: a number (a line or unit count, or a JSON int) or a harvested meaning id."""
    if isinstance(value, bool):  # a JSON true is no id, though Python counts it as an int
        return False
    return isinstance(value, int) or (isinstance(value, str) and _LEGACY_ID.fullmatch(value) is not None)


def row_languages(row: Row) -> list[str]:
    """The languages of an in-memory row: every key but its id."""
    return [key for key in row if key != ROW_ID]


def only_languages(row: Row, languages: Collection[str]) -> Row:
    """The row with its id and its texts in ``languages`` only."""
    return {key: value for key, value in row.items() if key == ROW_ID or key in languages}


def _clean(text: str) -> str:
    """One line, single spaces: line-based formats and tokenisers rely on it. NBSP is kept (it is typography)."""
    return _SPACE.sub(" ", text).strip(" ")


def _lang(code: str, place: str) -> str:
    """The corpus's language code for a language key (``EN-US`` -> ``en``, ``pt_BR`` -> ``pt-BR``, as the
    harvested catalogs name theirs, so an imported file meets them); a key that is not a language code is
    an error at ``place`` (a column named 'english' would otherwise train as a language of its own)."""
    lang = catalog_language(code) if isinstance(code, str) else None
    if lang is None:
        raise InterlinguaError(f"{place}: {code!r} is not a language code (expected codes such as en, fr, pt-BR, "
                               f"zh-Hans)")
    return lang


def _ext_lang(ext: str) -> str | None:
    """The language named by a file extension (``train.pt_BR`` -> ``pt-BR``), or None for ``txt`` and friends."""
    if not ext or "." in ext or len(ext) > 12 or ext.lower() in _NOT_LANGS:
        return None
    return catalog_language(ext)


def _row(row_id: str, texts: Iterable[tuple[str, str]]) -> Row:
    """A row with cleaned texts; empty texts are left out so 'has two languages' means 'has two texts'."""
    row = {ROW_ID: row_id}
    for lang, text in texts:
        if (text := _clean(text)) and lang not in row:
            row[lang] = text
    return row


def _order(langs: Iterable[str]) -> list[str]:
    """English first, then alphabetical: stable columns and files whatever order rows came in."""
    return sorted(set(langs) - {ROW_ID}, key=lambda lang: (lang != "en", lang))


def _need_file(path: Path) -> None:
    if not path.is_file():
        raise InterlinguaError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered decoded lines, streamed; decoding per line is what lets a bad byte be reported at its line."""
    _need_file(path)
    with open(path, "rb") as f:
        yield from text_lines(f, path)


# --- format detection -----------------------------------------------------------------------------------

def _siblings(prefix: Path) -> dict[str, Path]:
    """Moses files next to a prefix: ``train`` -> {"en": train.en, "fr": train.fr}."""
    if not prefix.parent.is_dir():
        return {}
    found = {}
    for p in sorted(prefix.parent.iterdir()):
        if p.is_file() and p.name.startswith(prefix.name + ".") and (lang := _ext_lang(p.name[len(prefix.name) + 1:])):
            found.setdefault(lang, p)
    return found


def detect_format(path: str | Path) -> str:
    """Name the format of ``path`` from its name: one of jsonl, tsv, tmx, po, moses.

    Moses pairs come as ``train.en,train.fr``, a prefix ``train`` (languages from ``langs`` or
    the files found), or one file ``train.en`` whose sibling is the other language file.
    """
    text = str(path)
    suffix = Path(text).suffix
    if "," in text and not Path(text).exists():  # two files joined by a comma: a Moses pair, whatever the last one's suffix
        return "moses"
    if suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[suffix.lower()]
    if "," in text or not suffix or _ext_lang(suffix[1:]) or _siblings(Path(text)):
        return "moses"
    raise InterlinguaError(f"{path}: cannot tell the corpus format from the name; use .jsonl, .tsv, .tmx, "
                           f".po/.pot, or Moses files (train.en,train.fr or the prefix train)")


def _moses_files(path: str | Path, langs: tuple[str, str] | None,
                 row_langs: list[str] | None = None) -> list[tuple[Path, str]]:
    """The two (file, language) pairs a Moses path stands for; ``row_langs`` is the pool when writing."""
    text = str(path)
    if "," in text:
        parts = [Path(p.strip()) for p in text.split(",")]
        for part in parts:  # a.po,a.tmx: each is a corpus of its own, not one side of a pair
            if part.suffix.lower() in _EXTENSIONS:
                raise InterlinguaError(f"{path}: {part} is a {_EXTENSIONS[part.suffix.lower()]} file, not one side "
                                       f"of a Moses pair: a comma joins two plain-text files named by language "
                                       f"(train.en,train.fr); give other formats as separate inputs")
        found = [_ext_lang(p.suffix[1:]) for p in parts]
        codes = [c for c in found if c] if all(found) else list(langs or ())
        if len(parts) == 2 and len(codes) == 2:
            return list(zip(parts, codes))
        unnamed = [str(p) for p, code in zip(parts, found) if not code]
        why = (f"{', '.join(unnamed)}: the file extension is not a language code; " if unnamed and len(parts) == 2
               else "")
        raise InterlinguaError(f"{path}: {why}expected two files named by language (train.en,train.fr), or pass "
                               f"the languages (--langs en,fr)")
    given = Path(text)
    first = _ext_lang(given.suffix[1:])
    prefix = given.with_suffix("") if first else given
    siblings = _siblings(prefix)
    if langs:
        chosen = list(langs)
    else:
        pool = _order(row_langs if row_langs is not None else siblings)
        others = [lang for lang in pool if lang != first]
        if first and len(others) == 1:
            chosen = [first, others[0]]
        elif not first and len(pool) == 2:
            chosen = pool
        elif first and first not in pool and row_langs is not None:  # o.xyz: no format, no language of the rows
            raise InterlinguaError(f"{path}: '{given.suffix}' is neither a corpus format (.jsonl, .tsv, .tmx, .po) "
                                   f"nor a language of the rows ({', '.join(pool)}); name the file by its format, or "
                                   f"by one of those languages for Moses files")
        else:
            raise InterlinguaError(f"{path}: cannot tell which two languages to use (found: "
                                   f"{', '.join(pool) or 'none'}); pass langs=(src, tgt)")
    return [(siblings.get(lang, Path(f"{prefix}.{lang}")), lang) for lang in chosen]


# --- readers: each yields rows; read_corpus filters and checks -------------------------------------------

def _read_jsonl(path: Path, langs: tuple[str, str] | None) -> Iterator[Row]:
    for n, line in jsonl_lines(path):
        yield jsonl_row(path, n, line)


def jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The numbered non-blank lines of a JSONL file, not parsed: one per row, so a reader that wants only
    some rows (a process of a distributed run) can count the others cheaply and parse its own with jsonl_row."""
    return ((n, line) for n, line in _lines(path) if line.strip())


def jsonl_row(path: Path, n: int, line: str) -> Row:
    """Line ``n`` of a JSONL file as a row; errors name ``path:n``."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InterlinguaError(f"{where(path, n)}: not valid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise InterlinguaError(f"{where(path, n)}: expected a JSON object, found {type(obj).__name__}")
    pair = "src" in obj or "tgt" in obj  # pair row: languages are named by src_lang/tgt_lang, so "id" is no text
    id_key = row_id_key(obj.keys() if pair else obj)
    row_id = obj[id_key] if id_key else n
    if isinstance(row_id, (dict, list)) or row_id is None:
        raise InterlinguaError(f"{where(path, n)}: {id_key!r} must be a string or a number")
    if pair:
        keys = ("src", "tgt", "src_lang", "tgt_lang")
        if not all(isinstance(obj.get(k), str) for k in keys):
            raise InterlinguaError(f"{where(path, n)}: a pair row needs string values for {', '.join(keys)}")
        texts = [(_lang(obj["src_lang"], where(path, n)), obj["src"]),
                 (_lang(obj["tgt_lang"], where(path, n)), obj["tgt"])]
    else:
        texts = [(key, value) for key, value in obj.items() if key != id_key]
        for key, value in texts:
            if not isinstance(value, str):
                raise InterlinguaError(f"{where(path, n)}: value of {key!r} must be a string, "
                                       f"found {type(value).__name__}")
        spelled: dict[str, str] = {}  # language -> the key it came from
        resolved: dict[str, str] = {}
        for key, value in texts:
            lang = _lang(key, where(path, n))
            if lang in resolved and key != lang:
                if spelled[lang] == lang:  # the exact code wins over a home-region spelling: corpora built
                    continue               # before home regions were dropped hold both pt and pt-PT
                raise InterlinguaError(f"{where(path, n)}: the same language appears twice ({spelled[lang]!r} "
                                       f"and {key!r} are both {lang})")
            spelled[lang], resolved[lang] = key, value
        texts = list(resolved.items())
    if len({lang for lang, _ in texts}) < len(texts):
        raise InterlinguaError(f"{where(path, n)}: the same language appears twice")
    return _row(str(row_id), texts)


def _looks_like_lang(cell: str) -> bool:
    """A header cell: a short language code, written lower- or upper-case ('en', 'EN', 'pt-BR'; 'No' and 'Yes'
    are words)."""
    return len(cell) <= 12 and (cell[:2].islower() or cell[:2].isupper()) and catalog_language(cell) is not None


def _read_tsv(path: Path, langs: tuple[str, str] | None) -> Iterator[Row]:
    columns: list[str] | None = None
    for n, line in _lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if columns is None:
            header = [c.strip() for c in cells]
            id_key = row_id_key(header)
            named = [catalog_language(c) for c in header if c != id_key]
            is_header = all(c == id_key or _looks_like_lang(c) for c in header) and len(set(named)) == len(named)
            if is_header and id_key == _LEGACY_ROW_ID and len(named) < 2:  # 'en<TAB>id' meant as Indonesian
                raise InterlinguaError(f"{where(path, n)}: a header without an {ROW_ID!r} column is read as written "
                                       f"before Indonesian was a language, its 'id' column as the row ids, which "
                                       f"leaves one language; for Indonesian text add an {ROW_ID!r} column")
            if is_header and (langs is None or set(langs) <= set(named)):
                columns = [ROW_ID if c == id_key else _lang(c, where(path, n)) for c in header]
                continue
            if langs is None:
                raise InterlinguaError(f"{where(path, n)}: no header line naming the languages (e.g. 'en<TAB>fr'); "
                                       f"add one or pass langs=(src, tgt)")
            columns = list(langs)
        if len(cells) != len(columns):
            raise InterlinguaError(f"{where(path, n)}: expected {len(columns)} tab-separated columns "
                                   f"({', '.join(columns)}), found {len(cells)}")
        values = dict(zip(columns, cells))
        yield _row(_clean(values.pop(ROW_ID, "")) or str(n), values.items())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# Streaming, as translate-toolkit's TMX reader is not (it parses the whole document into memory): a corpus
# memory can be larger than RAM. translate-file and --tm read TMX through localize/stores.py.
def _read_tmx(path: Path, langs: tuple[str, str] | None) -> Iterator[Row]:
    _need_file(path)
    count = 0
    try:
        events = ET.iterparse(path, events=("start", "end"))
        if _local((root := next(events)[1]).tag) != "tmx":
            raise InterlinguaError(f"{path}: not a TMX file (root element <{_local(root.tag)}>)")
        for event, elem in events:
            if event != "end" or _local(elem.tag) != "tu":
                continue
            count += 1
            texts = []
            for tuv in (e for e in elem if _local(e.tag) == "tuv"):
                code = tuv.get(_XML_LANG) or tuv.get("lang")
                if not code:
                    raise InterlinguaError(f"{path}: <tu> number {count} has a <tuv> without xml:lang")
                seg = next((e for e in tuv if _local(e.tag) == "seg"), None)
                texts.append((_lang(code, f"{path}: <tu> number {count}"),
                              "" if seg is None else "".join(seg.itertext())))
            yield _row(elem.get("tuid") or str(count), texts)
            elem.clear()  # streaming: keep memory flat on large memories
    except ET.ParseError as e:
        line, column = e.position
        head = path.read_bytes()[:200]  # expat calls bad UTF-8 'invalid token'; in a UTF-8 file, say so
        encoding = m[1].lower() if (m := re.search(rb"encoding=[\"']([\w.-]+)", head)) else b"utf-8"
        if encoding in (b"utf-8", b"utf8") and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            for _ in _lines(path):
                pass
        reason = str(e).rsplit(": line", 1)[0]
        raise InterlinguaError(f"{where(path, line)}: not valid XML: {reason} (column {column + 1})") from None


def _read_po(path: Path, langs: tuple[str, str] | None) -> Iterator[Row]:
    """PO/POT through the one owner of localisation files (translate-toolkit, ``localize/stores.py``)."""
    from interlingua.localize.stores import load, translations
    hint = (langs and langs[1]) or _ext_lang(path.stem)
    source = langs[0] if langs else "en"
    store = load(path)
    if not hint and not store.store.parseheader().get("Language"):
        raise InterlinguaError(f"{path}: cannot tell the translation language: no 'Language:' header and the "
                               f"file name is not a language code; pass langs=('en', lang)")
    for row in translations(store, target=hint, source_lang=source):
        yield _row(row.pop(ROW_ID), ((catalog_language(lang) or lang, text) for lang, text in row.items()))


def _read_moses(path: str | Path, langs: tuple[str, str] | None) -> Iterator[Row]:
    (path_a, lang_a), (path_b, lang_b) = _moses_files(path, langs)
    count_a = count_b = 0
    for a, b in zip_longest(_lines(path_a), _lines(path_b)):
        count_a, count_b = count_a + (a is not None), count_b + (b is not None)
        if a is not None and b is not None:
            yield _row(str(a[0]), [(lang_a, a[1]), (lang_b, b[1])])
    if count_a != count_b:
        raise InterlinguaError(f"{path_a}: {count_a} lines, but {path_b} has {count_b}; Moses files must "
                               f"align line by line")


_READERS = {"jsonl": _read_jsonl, "tsv": _read_tsv, "tmx": _read_tmx, "po": _read_po, "moses": _read_moses}


def iter_corpus(path: str | Path) -> Iterator[Row]:
    """The rows of a corpus one at a time, those with at least two languages; JSONL is read line by line,
    so a training file larger than memory can be streamed. Errors name the file and line as read_corpus's do."""
    fmt = detect_format(path)
    for row in _READERS[fmt](path if fmt == "moses" else Path(path), None):
        if len(row) >= 3:
            yield row


def read_corpus(path: str | Path, *, langs: tuple[str, str] | None = None) -> list[Row]:
    """Read a corpus in any supported format as multi-way rows with at least two languages.

    ``langs=(src, tgt)`` names the languages of formats that do not (TSV without header, a
    Moses prefix); for multi-way formats it also selects those two languages.
    """
    fmt = detect_format(path)
    langs = (_lang(langs[0], f"{path}: langs"), _lang(langs[1], f"{path}: langs")) if langs else None
    rows, total = [], 0
    for row in _READERS[fmt](path if fmt == "moses" else Path(path), langs):
        total += 1
        if langs:
            row = only_languages(row, langs)
        if len(row) >= 3:  # id + two languages
            rows.append(row)
    if not rows:
        wanted = f" in {' and '.join(langs)}" if langs else ""
        raise InterlinguaError(f"{path}: no usable rows ({total} read, none with text in two languages{wanted})")
    return rows



def merge_corpora(paths: Iterable[str | Path], *, langs: tuple[str, str] | None = None) -> list[Row]:
    """The rows of several corpora as one multi-way corpus: rows from different files meet on their English
    text when they have one (a later file's text for a language replaces an earlier one's); a row without
    English stays a row of its own. ``langs`` as read_corpus takes it, for every file."""
    merged: dict[str, Row] = {}
    for path in paths:
        for row in read_corpus(path, langs=langs):
            key = row.get("en") or f"{path}:{row[ROW_ID]}"
            merged.setdefault(key, {ROW_ID: row[ROW_ID]}).update({k: row[k] for k in row_languages(row)})
    return list(merged.values())

# --- writers ---------------------------------------------------------------------------------------------

def _atomic(paths: list[Path]):
    """The outputs written together, by files.py's one rule for outputs: a crash never leaves half a corpus."""
    return open_outputs(paths, "w", parents=True, encoding="utf-8", newline="\n")


def _texts(rows: list[Row], langs: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(id, cleaned texts in ``langs`` order) per row; a missing language is ''."""
    for i, row in enumerate(rows, 1):
        yield _clean(str(row.get(ROW_ID) or i)), [_clean(row.get(lang, "")) for lang in langs]


def _write_jsonl(rows: list[Row], path: Path, langs: list[str]) -> None:
    with _atomic([path]) as (f,):
        f.write(jsonl_text(rows, langs))


def jsonl_text(rows: list[Row], langs: list[str] | None = None) -> str:
    """Rows as JSONL, as write_corpus writes them (``langs``: the languages written, default all): for
    writers of several files at once (a corpus's splits); no rows, no text."""
    langs = langs if langs is not None else _order(k for row in rows for k in row)
    lines = []
    for row_id, texts in _texts(rows, langs):
        row = {ROW_ID: row_id, **{lang: t for lang, t in zip(langs, texts) if t}}
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


def _write_tsv(rows: list[Row], path: Path, langs: list[str]) -> None:
    with _atomic([path]) as (f,):
        f.write("\t".join([ROW_ID, *langs]) + "\n")
        for row_id, texts in _texts(rows, langs):
            f.write("\t".join([row_id, *texts]) + "\n")


def _write_tmx(rows: list[Row], path: Path, langs: list[str]) -> None:
    root = ET.Element("tmx", version="1.4")
    ET.SubElement(root, "header", {"creationtool": "interlingua", "creationtoolversion": "1", "segtype": "sentence",
                                   "adminlang": "en", "srclang": "en" if "en" in langs else langs[0],
                                   "datatype": "plaintext", "o-tmf": "interlingua"})
    body = ET.SubElement(root, "body")
    for row_id, texts in _texts(rows, langs):
        tu = ET.SubElement(body, "tu", tuid=row_id)
        for lang, text in zip(langs, texts):
            if text:  # ElementTree escapes &<>" but would write control characters XML forbids
                ET.SubElement(ET.SubElement(tu, "tuv", {_XML_LANG: lang}), "seg").text = _XML_FORBIDDEN.sub("", text)
    ET.indent(root)
    with _atomic([path]) as (f,):
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        ET.ElementTree(root).write(f, encoding="unicode")
        f.write("\n")


def _write_po(rows: list[Row], path: Path, langs: list[str]) -> None:
    if len(langs) != 2:
        raise InterlinguaError(f"{path}: a PO file holds English msgids and one translation language, the rows "
                               f"have {', '.join(langs)}; pass langs=('en', lang)")
    from translate.storage import pypo  # the library that reads it back (localize/stores.py)
    po = pypo.pofile()
    po.updateheader(add=True, Project_Id_Version="interlingua", Language=langs[1], MIME_Version="1.0",
                    Content_Type="text/plain; charset=UTF-8", Content_Transfer_Encoding="8bit")
    po.header().addnote("Written by interlingua.", origin="translator")
    seen = set()
    for _, (source, target) in _texts(rows, langs):
        if source and source not in seen:  # one msgid twice (without msgctxt) is an invalid PO file
            seen.add(source)
            unit = po.addsourceunit(source)
            unit.target = target
    with _atomic([path]) as (f,):
        f.write(bytes(po).decode("utf-8"))


def write_corpus(rows: list[Row], path: str | Path, fmt: str | None = None, *,
                 langs: tuple[str, str] | None = None) -> None:
    """Write rows atomically in ``fmt`` (default: detected from ``path``); ``langs`` picks the languages written.

    Texts are cleaned to single lines so what is written reads back the same.
    """
    if Path(str(path)).is_dir():  # a Moses prefix would write beside it: not what a folder's name asks for
        raise InterlinguaError(f"{path}: is a folder; give a file name, e.g. {Path(path) / 'corpus.jsonl'}")
    fmt = fmt or detect_format(path)
    if fmt not in _READERS:
        raise InterlinguaError(f"{path}: unknown corpus format {fmt!r}; use one of {', '.join(_READERS)}")
    chosen = [_lang(lang, f"{path}: langs") for lang in langs] if langs else _order(k for row in rows for k in row)
    if fmt == "moses":
        pairs = _moses_files(path, (chosen[0], chosen[1]) if langs else None, chosen)
        with _atomic([p for p, _ in pairs]) as files:
            for _, texts in _texts(rows, [lang for _, lang in pairs]):
                if all(texts):  # a line with an empty side would read back as a skipped row anyway
                    for f, text in zip(files, texts):
                        f.write(text + "\n")
        return
    if not chosen or fmt == "po" and not langs and chosen[0] != "en":  # msgids are English unless langs say
        raise InterlinguaError(f"{path}: cannot write {fmt}: the rows have languages [{', '.join(chosen)}]; "
                               f"pass langs=(src, tgt)")
    {"jsonl": _write_jsonl, "tsv": _write_tsv, "tmx": _write_tmx, "po": _write_po}[fmt](rows, Path(path), chosen)
