"""Corpus readers/writers: every format round-trips awkward text, and every bad input names its file and line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from interlingua.corpus.formats import ROW_ID, detect_format, read_corpus, write_corpus
from interlingua.errors import InterlinguaError

PAIRS = [
    {ROW_ID: "1", "en": "Open file", "de": "Datei öffnen"},
    {ROW_ID: "2", "en": "File", "de": "文件 (zh)"},
    {ROW_ID: "3", "en": "<b>&amp;\"'</b> & more", "de": "<b>&amp;\"'</b> & mehr"},
    {ROW_ID: "4", "en": "Deleted %s files of %(name)s", "de": "%s Dateien von %(name)s gelöscht"},
    {ROW_ID: "5", "en": "Item {0} of %1$s", "de": "Element {0} von %1$s"},
    {ROW_ID: "6", "en": "back\\slash and \u00a0nbsp", "de": "Rück\\strich und \u00a0nbsp"},
]
MULTI = [{**row, "fr": f"fr {i} «{row['en']}»"} for i, row in enumerate(PAIRS)] + [{ROW_ID: "x", "en": "Only", "fr": "Seul"}]


def texts(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != ROW_ID} for row in rows]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error(path: object, **kwargs: object) -> str:
    with pytest.raises(InterlinguaError) as info:
        read_corpus(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", ["c.jsonl", "c.tsv", "c.tmx"])
def test_multiway_round_trip_keeps_ids_and_texts(tmp_path: Path, name: str) -> None:
    write_corpus(MULTI, tmp_path / name)
    assert read_corpus(tmp_path / name) == MULTI
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # atomic write: no .tmp left behind


@pytest.mark.parametrize("name", ["c.jsonl", "c.tsv", "c.tmx", "de.po", "train"])
def test_pair_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    langs = ("en", "de") if name == "train" else None
    write_corpus(PAIRS, path, langs=langs)
    assert texts(read_corpus(path, langs=langs)) == texts(PAIRS)
    assert not list(tmp_path.glob("*.tmp"))


def test_moses_forms_and_detection(tmp_path: Path) -> None:
    write_corpus(PAIRS, f"{tmp_path / 'a.en'},{tmp_path / 'b.de'}")
    assert (tmp_path / "a.en").read_text(encoding="utf-8").splitlines()[0] == "Open file"
    assert texts(read_corpus(f"{tmp_path / 'a.en'},{tmp_path / 'b.de'}")) == texts(PAIRS)
    write_corpus(PAIRS, tmp_path / "t.en")  # single file: sibling language from the rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.en", "b.de", "t.de", "t.en"]
    assert texts(read_corpus(tmp_path / "t.en")) == texts(PAIRS)  # sibling found by globbing
    assert texts(read_corpus(tmp_path / "t")) == texts(PAIRS)  # prefix, languages from the files
    assert detect_format(tmp_path / "t") == detect_format(tmp_path / "t.de") == "moses"
    assert [detect_format(f"x.{e}") for e in ("jsonl", "json", "tsv", "tmx", "po", "pot")] == \
        ["jsonl", "jsonl", "tsv", "tmx", "po", "po"]
    with pytest.raises(InterlinguaError, match="notes.txt"):
        detect_format("notes.txt")


def test_moses_skips_empty_lines_and_checks_counts(tmp_path: Path) -> None:
    write_text(tmp_path / "m.en", "a\n\nc\n")
    write_text(tmp_path / "m.fr", "A\nB\nC\n")
    assert read_corpus(tmp_path / "m", langs=("en", "fr")) == [{ROW_ID: "1", "en": "a", "fr": "A"},
                                                               {ROW_ID: "3", "en": "c", "fr": "C"}]
    write_text(tmp_path / "m.fr", "A\nB\nC\nD\n")
    message = error(tmp_path / "m", langs=("en", "fr"))
    assert "m.en" in message and "m.fr" in message and "3" in message and "4" in message


def test_jsonl_pair_rows_locales_and_cleaning(tmp_path: Path) -> None:
    path = write_text(tmp_path / "p.jsonl", "\n".join([
        json.dumps({"src": "Hello", "tgt": "Olá", "src_lang": "en", "tgt_lang": "pt_BR"}),
        "",
        json.dumps({"id": 7, "en": " Two\n lines\tand  tabs ", "zh_CN": "两行", "sr@latin": "Dva"}),
        json.dumps({"en": "alone"}),
    ]) + "\n")
    assert read_corpus(path) == [{ROW_ID: "1", "en": "Hello", "pt-BR": "Olá"},
                                 {ROW_ID: "7", "en": "Two lines and tabs", "zh-Hans": "两行", "sr-Latn": "Dva"}]
    assert read_corpus(path, langs=("en", "zh_CN")) == [{ROW_ID: "7", "en": "Two lines and tabs", "zh-Hans": "两行"}]


def test_jsonl_writer_key_order(tmp_path: Path) -> None:
    write_corpus([{"fr": "b", "de": "c", "en": "a", ROW_ID: "9"}], tmp_path / "o.jsonl")
    assert list(json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8"))) == [ROW_ID, "en", "de", "fr"]


def test_tsv_header_and_langs(tmp_path: Path) -> None:
    path = write_text(tmp_path / "h.tsv", "en\tpt_BR\nHello\tOlá\n")
    assert read_corpus(path) == [{ROW_ID: "2", "en": "Hello", "pt-BR": "Olá"}]
    path = write_text(tmp_path / "n.tsv", "no\tnon\nyes\toui\n")  # looks like codes, but langs say otherwise
    assert texts(read_corpus(path, langs=("en", "fr"))) == [{"en": "no", "fr": "non"}, {"en": "yes", "fr": "oui"}]
    assert "langs" in error(write_text(tmp_path / "x.tsv", "Hello\tBonjour\n"))


def test_tmx_reads_1_1_lang_inline_tags_and_tuid(tmp_path: Path) -> None:
    path = write_text(tmp_path / "m.tmx", """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="en"/><body>
<tu tuid="greet"><tuv xml:lang="en-US"><seg>Click <bpt i="1">&lt;b&gt;</bpt>here<ept i="1">&lt;/b&gt;</ept></seg></tuv>
<tuv lang="fr_FR"><seg>Cliquez <ph>%s</ph> ici</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>Solo</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>A &amp; B</seg></tuv><tuv xml:lang="de"><seg>A &amp; B</seg></tuv></tu>
</body></tmx>""")
    # a region that only says where the language is at home goes, as for the harvested catalogs: en-US and
    # fr_FR fill the corpus's en and fr columns, not columns of their own
    assert read_corpus(path) == [{ROW_ID: "greet", "en": "Click <b>here</b>", "fr": "Cliquez %s ici"},
                                 {ROW_ID: "3", "en": "A & B", "de": "A & B"}]


def test_tmx_writer_header(tmp_path: Path) -> None:
    write_corpus(PAIRS[:1], tmp_path / "w.tmx", langs=("de", "en"))
    text = (tmp_path / "w.tmx").read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    for attr in ('srclang="en"', 'creationtool="interlingua"', 'segtype="sentence"', 'adminlang="en"',
                 'datatype="plaintext"', 'o-tmf="interlingua"', 'xml:lang="de"'):
        assert attr in text


PO = r'''msgid ""
msgstr ""
"Language: fr_FR\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

msgid "Open"
msgstr "Ouvrir"

#, fuzzy
msgid "Close"
msgstr "Fermer"

msgid "Empty"
msgstr ""

msgid "One file"
msgid_plural "%d files"
msgstr[0] "Un fichier"
msgstr[1] "%d fichiers"

msgctxt "menu"
msgid "Quit \"now\""
msgstr "Quitter \"maintenant\""

#~ msgid "Old"
#~ msgstr "Vieux"
'''


def test_po_skips_fuzzy_obsolete_empty_and_uses_singular(tmp_path: Path) -> None:
    assert read_corpus(write_text(tmp_path / "x.po", PO)) == [
        {ROW_ID: "1", "en": "Open", "fr": "Ouvrir"},
        {ROW_ID: "4", "en": "One file", "fr": "Un fichier"},
        {ROW_ID: "5", "en": 'Quit "now"', "fr": 'Quitter "maintenant"'},
    ]


def test_po_language_from_file_name_and_writer(tmp_path: Path) -> None:
    body = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Yes"\nmsgstr "Ja"\n'
    assert read_corpus(write_text(tmp_path / "de.po", body)) == [{ROW_ID: "1", "en": "Yes", "de": "Ja"}]
    assert "langs" in error(write_text(tmp_path / "messages.po", body))
    write_corpus([{ROW_ID: "1", "en": "A", "de": "X"}, {ROW_ID: "2", "en": "A", "de": "Y"}], tmp_path / "out.po")
    text = (tmp_path / "out.po").read_text(encoding="utf-8")
    assert '"Language: de\\n"' in text and "charset=UTF-8" in text and "MIME-Version: 1.0" in text
    assert "Content-Transfer-Encoding: 8bit" in text
    assert texts(read_corpus(tmp_path / "out.po")) == [{"en": "A", "de": "X"}]  # duplicate msgid: first kept


def test_pot_has_no_usable_rows(tmp_path: Path) -> None:
    path = write_text(tmp_path / "messages.pot", 'msgid ""\nmsgstr ""\n"Language: de\\n"\n\nmsgid "A"\nmsgstr ""\n')
    assert "no usable rows" in error(path)


@pytest.mark.parametrize("name, content, expected", [
    ("bad.jsonl", b'{"en": "a", "fr": "b"}\n{"en": "c", "fr": "d"}\n{"en": "e", "fr": \n', ":3: not valid JSON"),
    ("bad.jsonl", b'{"en": "a", "fr": "b"}\n{"en": "caf\xe9", "fr": "d"}\n', ":2: not valid UTF-8"),
    ("bad.jsonl", b'{"en": "a", "fr": 3}\n', ":1:"),
    ("bad.tsv", b"en\tfr\na\tb\nc\td\te\n", ":3: expected 2"),
    ("bad.tsv", b"en\tfr\na\tb\n\xff\tc\n", ":3: not valid UTF-8"),
    ("bad.tmx", b'<tmx version="1.4"><body>\n<tu><tuv xml:lang="en"><seg>a</tuv></tu></body></tmx>', ":2: not valid XML"),
    ("bad.tmx", b'<tmx version="1.4"><body>\n<tu><tuv xml:lang="en"><seg>caf\xe9</seg></tuv></tu></body></tmx>',
     ":2: not valid UTF-8"),
    ("bad.po", b'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\nmsgid "a"\nmsgstr "b"\n\nfoo "c"\nmsgstr "d"\n', ":8: not a valid PO"),
    ("bad.po", b'msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
               b'msgid "a"\nmsgstr "b\xff"\n', ":7: not valid UTF-8"),
    ("empty.jsonl", b"\n\n", "no usable rows"),
    ("one.tsv", b"en\tfr\na\t\n", "no usable rows"),
])
def test_errors_name_file_and_line(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    message = error(path)
    assert message.startswith(str(path)) and expected in message


def test_missing_files(tmp_path: Path) -> None:
    for name in ("none.jsonl", "none.tsv", "none.tmx", "none.po"):
        assert error(tmp_path / name) == f"{tmp_path / name}: no such file"
    write_text(tmp_path / "m.en", "a\n")
    assert error(tmp_path / "m", langs=("en", "fr")) == f"{tmp_path / 'm.fr'}: no such file"


def test_failed_write_leaves_old_file_and_no_tmp(tmp_path: Path) -> None:
    path = write_text(tmp_path / "keep.jsonl", '{"en": "a", "fr": "b"}\n')
    with pytest.raises(TypeError):
        write_corpus([{ROW_ID: "1", "en": "a", "fr": None}], path)  # type: ignore[dict-item]
    assert path.read_text(encoding="utf-8") == '{"en": "a", "fr": "b"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl"]


# ----------------------------------------------------------------------------- language codes (issue 11)

def test_language_keys_meet_the_harvested_columns_whatever_their_case_or_home_region(tmp_path: Path) -> None:
    tmx = write_text(tmp_path / "trados.tmx", """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="EN-US"/><body>
<tu><tuv xml:lang="EN-US"><seg>Open</seg></tuv><tuv xml:lang="PT-BR"><seg>Abrir</seg></tuv>
<tuv xml:lang="en-GB"><seg>Open</seg></tuv><tuv xml:lang="ca-valencia"><seg>Obri</seg></tuv></tu>
</body></tmx>""")
    # en-US is the corpus's English; pt-BR and en-GB are real variants and keep their region
    assert read_corpus(tmx) == [{ROW_ID: "1", "en": "Open", "pt-BR": "Abrir", "en-GB": "Open", "ca-valencia": "Obri"}]
    assert read_corpus(write_text(tmp_path / "up.tsv", "EN\tFR\nOpen\tOuvrir\n")) == [
        {ROW_ID: "2", "en": "Open", "fr": "Ouvrir"}]
    assert texts(read_corpus(write_text(tmp_path / "br.tsv", "EN-US\tPT_BR\nOpen\tAbrir\n"))) == [
        {"en": "Open", "pt-BR": "Abrir"}]
    # what the readers write reads back with the same keys (ca-valencia once read back as not a language)
    rows = read_corpus(tmx)
    write_corpus(rows, tmp_path / "back.jsonl")
    assert read_corpus(tmp_path / "back.jsonl") == rows


@pytest.mark.parametrize("line, key", [('{"english": "a", "francais": "b"}', "english"),
                                        ('{"en": "a", "fr": "b", "note": "c"}', "note"),
                                        ('{"src": "a", "tgt": "b", "src_lang": "en", "tgt_lang": "French"}',
                                         "French")])
def test_a_jsonl_key_that_is_not_a_language_is_named_with_its_line(tmp_path: Path, line: str, key: str) -> None:
    path = write_text(tmp_path / "k.jsonl", '{"en": "x", "fr": "y"}\n' + line + "\n")
    message = error(path)
    assert message.startswith(f"{path}:2: ") and repr(key) in message and "not a language code" in message


def test_a_tmx_lang_that_is_not_a_language_is_an_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "x.tmx", '<tmx version="1.4"><body><tu><tuv xml:lang="en"><seg>a</seg></tuv>'
                                          '<tuv xml:lang="x-default"><seg>b</seg></tuv></tu></body></tmx>')
    message = error(path)
    assert "<tu> number 1" in message and "'x-default'" in message


@pytest.mark.parametrize("names", ["a.po,a.tmx", "a.tmx,a.po", "a.tsv,a.jsonl"])
def test_a_comma_pair_of_other_formats_is_not_read_as_moses_languages(tmp_path: Path, names: str) -> None:
    for name in names.split(","):
        write_text(tmp_path / name, "x\n")
    joined = ",".join(str(tmp_path / name) for name in names.split(","))
    message = error(joined)
    assert "not one side of a Moses pair" in message and "separate inputs" in message


def test_a_file_extension_is_never_a_language(tmp_path: Path) -> None:
    write_text(tmp_path / "a.txt", "x\n")
    write_text(tmp_path / "b.txt", "y\n")
    message = error(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}")
    assert "not a language code" in message and "--langs" in message
    assert texts(read_corpus(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}", langs=("en", "fr"))) == [
        {"en": "x", "fr": "y"}]
    # a prefix whose siblings include a .po and a .tmx: those are not languages 'po' and 'tmx'
    write_text(tmp_path / "m.en", "Open\n")
    write_text(tmp_path / "m.fr", "Ouvrir\n")
    write_text(tmp_path / "m.po", "")
    write_text(tmp_path / "m.tmx", "")
    assert texts(read_corpus(tmp_path / "m")) == [{"en": "Open", "fr": "Ouvrir"}]


def test_a_corpus_built_before_home_regions_were_dropped_still_reads(tmp_path):
    # older harvests wrote pt and pt-PT as two columns; both now read as pt: the exact code's text is kept,
    # two other spellings of one language stay an error that names both
    from interlingua.corpus.formats import jsonl_row
    from interlingua.errors import InterlinguaError
    assert jsonl_row(tmp_path / "c.jsonl", 1, '{"id": "7", "en": "a", "pt-PT": "b", "pt": "c"}') == \
        {ROW_ID: "7", "en": "a", "pt": "c"}
    assert jsonl_row(tmp_path / "c.jsonl", 1, '{"id": "7", "en": "a", "pt": "c", "pt-PT": "b"}')["pt"] == "c"
    with pytest.raises(InterlinguaError, match=r"c.jsonl:3: the same language appears twice \('pt-PT' and 'pt_PT'"):
        jsonl_row(tmp_path / "c.jsonl", 3, '{"en": "a", "pt-PT": "b", "pt_PT": "c"}')


def test_merge_corpora_meets_rows_on_their_english_text(tmp_path: Path) -> None:
    """corpus import's merging, now the library's: two files' rows with the same English become one multi-way
    row, a later file's text for a language wins, and a row without English stays its own."""
    from interlingua.corpus.formats import merge_corpora
    (tmp_path / "a.jsonl").write_text('{"id": "1", "en": "Open", "fr": "Ouvrir"}\n'
                                      '{"id": "2", "fr": "Fermer", "de": "Schliessen"}\n', encoding="utf-8")
    (tmp_path / "b.tsv").write_text("en\tes\tfr\nOpen\tAbrir\tOuvre\nSave\tGuardar\tEnregistrer\n", encoding="utf-8")
    rows = merge_corpora([tmp_path / "a.jsonl", tmp_path / "b.tsv"])
    by_text = {r.get("en", r.get("fr")): r for r in rows}
    assert len(rows) == 3
    assert by_text["Open"] == {ROW_ID: "1", "en": "Open", "fr": "Ouvre", "es": "Abrir"}
    assert by_text["Fermer"] == {ROW_ID: "2", "fr": "Fermer", "de": "Schliessen"}
    assert by_text["Save"]["es"] == "Guardar"
    only_two = merge_corpora([tmp_path / "a.jsonl", tmp_path / "b.tsv"], langs=("en", "fr"))
    assert [(r["en"], r["fr"]) for r in only_two] == [("Open", "Ouvre"), ("Save", "Enregistrer")]
    assert all(sorted(r) == [ROW_ID, "en", "fr"] for r in only_two)


# ----------------------------------------------------------------------------- Indonesian ("id") and the row id

INDONESIAN = [{ROW_ID: "1", "en": "Open file", "id": "Buka berkas", "fr": "Ouvrir le fichier"},
              {ROW_ID: "2", "en": "Save", "id": "Simpan"}]


def test_a_legacy_row_keeps_its_id_and_a_new_row_holds_indonesian_text(tmp_path: Path) -> None:
    """The one rule (row_id_key): a row without ROW_ID but with "id" was written before ROW_ID, when "id" was
    always the row id; beside ROW_ID, "id" is Indonesian text."""
    from interlingua.corpus.formats import jsonl_row, row_id_key
    assert row_id_key(["en", "id"]) == "id"
    assert row_id_key(["id", ROW_ID, "en"]) == ROW_ID and row_id_key(["en", "fr"]) is None
    legacy = '{"id": "b1915048fa7d", "en": "Open file", "fr": "Ouvrir le fichier"}'
    assert jsonl_row(tmp_path / "c.jsonl", 1, legacy) == {ROW_ID: "b1915048fa7d", "en": "Open file",
                                                          "fr": "Ouvrir le fichier"}
    new = json.dumps({ROW_ID: "b1915048fa7d", "en": "Open file", "id": "Buka berkas"})
    assert jsonl_row(tmp_path / "c.jsonl", 1, new) == {ROW_ID: "b1915048fa7d", "en": "Open file", "id": "Buka berkas"}
    assert jsonl_row(tmp_path / "c.jsonl", 4, '{"en": "Open", "fr": "Ouvrir"}')[ROW_ID] == "4"  # no id: the line
    with pytest.raises(InterlinguaError, match=f"c.jsonl:2: '{ROW_ID}' must be a string or a number"):
        jsonl_row(tmp_path / "c.jsonl", 2, json.dumps({ROW_ID: None, "en": "a", "id": "b"}))


def test_a_legacy_id_must_look_like_an_id_our_tools_wrote_else_it_is_indonesian(tmp_path: Path) -> None:
    """Without ROW_ID, "id" is a row id only when its value is one the tools wrote (a number, a harvested
    12-hex meaning id): a hand-written row with Indonesian text keeps it."""
    from interlingua.corpus.formats import jsonl_row, row_id_key
    path = tmp_path / "c.jsonl"
    assert jsonl_row(path, 3, '{"en": "Open", "id": "Buka"}') == {ROW_ID: "3", "en": "Open", "id": "Buka"}
    assert jsonl_row(path, 3, '{"en": "Open", "id": "b1915048fa7d"}') == {ROW_ID: "b1915048fa7d", "en": "Open"}
    assert jsonl_row(path, 3, '{"en": "Open", "id": "42", "fr": "Ouvrir"}') == {ROW_ID: "42", "en": "Open",
                                                                               "fr": "Ouvrir"}
    assert jsonl_row(path, 3, '{"en": "Open", "id": 42, "fr": "Ouvrir"}')[ROW_ID] == "42"
    assert row_id_key({"en": "Open", "id": "Buka"}) is None and row_id_key({"id": 7, "en": "a"}) == "id"
    assert row_id_key({"id": True, "en": "a"}) is None  # JSON true is not a number written as an id
    pair = {"src": "Open", "tgt": "Ouvrir", "src_lang": "en", "tgt_lang": "fr", "id": "greet"}
    assert jsonl_row(path, 3, json.dumps(pair))[ROW_ID] == "greet"  # a pair row's id holds no language
    with pytest.raises(InterlinguaError, match="c.jsonl:5: value of 'id' must be a string, found NoneType"):
        jsonl_row(path, 5, '{"en": "Open", "id": null}')
    write_text(path, '{"en": "Open file", "id": "Buka berkas"}\n{"id": "2", "en": "Save", "fr": "Enregistrer"}\n')
    assert read_corpus(path) == [{ROW_ID: "1", "en": "Open file", "id": "Buka berkas"},
                                 {ROW_ID: "2", "en": "Save", "fr": "Enregistrer"}]


def test_the_golden_corpus_written_before_row_ids_moved_reads_unchanged() -> None:
    golden = Path(__file__).parent / "data" / "golden.train.jsonl"
    lines = [json.loads(line) for line in golden.read_text(encoding="utf-8").splitlines()]
    rows = read_corpus(golden)
    assert rows == [{ROW_ID: line["id"], **{k: v for k, v in line.items() if k != "id"}} for line in lines]


@pytest.mark.parametrize("name", ["c.jsonl", "c.tsv", "c.tmx"])
def test_indonesian_round_trips_beside_the_row_ids(tmp_path: Path, name: str) -> None:
    write_corpus(INDONESIAN, tmp_path / name)
    assert read_corpus(tmp_path / name) == INDONESIAN


def test_moses_tsv_and_pair_rows_import_indonesian(tmp_path: Path) -> None:
    write_text(tmp_path / "m.en", "Open file\nSave\n")
    write_text(tmp_path / "m.id", "Buka berkas\nSimpan\n")
    expected = [{ROW_ID: "1", "en": "Open file", "id": "Buka berkas"}, {ROW_ID: "2", "en": "Save", "id": "Simpan"}]
    assert read_corpus(f"{tmp_path / 'm.en'},{tmp_path / 'm.id'}") == expected
    assert read_corpus(tmp_path / "m") == expected
    write_corpus(expected, tmp_path / "w.id")  # the sibling language from the rows
    assert (tmp_path / "w.id").read_text(encoding="utf-8") == "Buka berkas\nSimpan\n"
    pairs = write_text(tmp_path / "p.jsonl", "\n".join(json.dumps({"src": en, "tgt": id_, "src_lang": "en",
                                                                   "tgt_lang": "id", "id": n})
                                                        for n, (en, id_) in enumerate([("Open file", "Buka berkas"),
                                                                                       ("Save", "Simpan")], 1)))
    assert read_corpus(pairs) == expected  # a pair row's "id" can only be its id: languages are values there
    headerless = write_text(tmp_path / "h.tsv", "Open file\tBuka berkas\nSave\tSimpan\n")
    assert read_corpus(headerless, langs=("en", "id")) == expected
    with_id = write_text(tmp_path / "i.tsv", f"{ROW_ID}\ten\tid\n\tOpen file\tBuka berkas\n\tSave\tSimpan\n")
    assert read_corpus(with_id) == [{**row, ROW_ID: str(n)} for n, row in zip((2, 3), expected)]
    legacy = write_text(tmp_path / "l.tsv", "id\ten\tfr\n7\tOpen\tOuvrir\n")  # as written before ROW_ID
    assert read_corpus(legacy) == [{ROW_ID: "7", "en": "Open", "fr": "Ouvrir"}]
    message = error(write_text(tmp_path / "a.tsv", "en\tid\nOpen file\tBuka berkas\n"))
    assert "a.tsv:1" in message and f"add an '{ROW_ID}' column" in message


def test_build_system_files_are_no_language(tmp_path: Path) -> None:
    """Makefile.in is autoconf's template, not Indonesian (Java's 'in', read as 'id' in a locale name), and
    configure.ac no language 'ac': neither makes a Moses file nor a third side of a prefix's pair."""
    for name in ("Makefile.in", "configure.ac"):
        with pytest.raises(InterlinguaError, match="cannot tell the corpus format"):
            detect_format(name)
    write_corpus(PAIRS, tmp_path / "t", langs=("en", "de"))
    write_text(tmp_path / "t.in", "@VERSION@\n")
    write_text(tmp_path / "t.ac", "AC_INIT\n")
    assert texts(read_corpus(tmp_path / "t")) == texts(PAIRS)  # the two languages found, en and de
