"""translate-file in every format translate-toolkit gives it: round trips, review marks, inline codes, --tm, errors."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from conftest import assert_clean_error, run_cli
from interlingua.errors import InterlinguaError
from interlingua.localize import translate_file
from interlingua.localize.kinds import output_path
from interlingua.localize.stores import load, save
from test_localize import CATALOG, Echo, Sure

# Each fixture is written as the library writes it (see stores.py for what it normalises), so a file
# read and written again with nothing translated must come back byte for byte.
FILES = {
    "app.po": CATALOG.replace("#. Shown in the title bar.\n# Translators: keep it short.\n",
                              "# Translators: keep it short.\n#. Shown in the title bar.\n"),
    "app.xlf": '''<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:1.2" version="1.2">
  <file original="app" source-language="en" datatype="plaintext">
    <body>
      <!-- a comment -->
      <trans-unit id="1">
        <source>Delete <x id="1"/> from <g id="2">the list</g>?</source>
      </trans-unit>
      <trans-unit id="2">
        <source>Open the file</source>
        <note>a note</note>
      </trans-unit>
      <trans-unit id="3" translate="no">
        <source>interlingua</source>
      </trans-unit>
    </body>
  </file>
</xliff>
''',
    "app2.xlf": '''<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en">
  <file id="f1">
    <unit id="u1">
      <segment>
        <source>Delete <ph id="1"/> from <pc id="2">the list</pc>?</source>
      </segment>
    </unit>
    <unit id="u2">
      <segment>
        <source>Open the file</source>
      </segment>
    </unit>
  </file>
</xliff>
''',
    "app.tmx": '''<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4">
  <header creationtool="t" creationtoolversion="1" segtype="sentence" adminlang="en" srclang="en" datatype="plaintext" o-tmf="t"/>
  <body>
    <!-- kept -->
    <tu tuid="1"><tuv xml:lang="en"><seg>Open the file</seg></tuv></tu>
    <tu tuid="2"><tuv xml:lang="en"><seg>Delete <ph x="1">%s</ph>?</seg></tuv></tu>
  </body>
</tmx>
''',
    "app.ts": '''<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>Main</name>
    <message>
        <location filename="main.cpp" line="10"/>
        <source>Open %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n file(s)</source>
        <translation type="unfinished">
            <numerusform></numerusform>
        </translation>
    </message>
</context>
</TS>
''',
    "strings.xml": '''<?xml version="1.0" encoding="utf-8"?>
<resources>
    <!-- the title -->
    <string name="title">Open the file</string>
    <string name="delete">Delete %1$s?</string>
    <string name="keep" translatable="false">interlingua</string>
    <plurals name="files">
        <item quantity="one">%d file</item>
        <item quantity="other">%d files</item>
    </plurals>
</resources>
''',
    "Localizable.strings": '/* Title */\n"title" = "Open the file";\n\n"delete" = "Delete %@?";\n',
    "en.json": '{\n  "title": "Open the file",\n  "menu": {\n    "delete": "Delete {name}?"\n  }\n}\n',
}


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {}
    for name, text in FILES.items():
        paths[name] = folder / name
        paths[name].write_text(text, encoding="utf-8")
    return paths


def parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


@pytest.mark.parametrize("name", list(FILES))
def test_a_file_read_and_written_unchanged_is_byte_identical(files, tmp_path, name):
    store = load(files[name])
    save(store, tmp_path / name)
    assert (tmp_path / name).read_bytes() == files[name].read_bytes()


@pytest.mark.parametrize("name", list(FILES))
def test_nothing_translated_leaves_every_entry_as_it_was(files, tmp_path, name):
    counts = translate_file(files[name], Echo(lambda text, lang: ""), ["fr"], tmp_path / "out", progress=False)
    assert counts["left_empty"] > 0  # (a PO message with no words, "%s: %s", is still copied)
    out = Path(counts["files"][0])
    source, written = load(files[name]).store, load(out).store
    if name in ("strings.xml", "Localizable.strings", "en.json"):
        assert written.units == []  # a language's file holds its translations; the app falls back to English
    else:
        assert [str(u.source) for u in written.units] == [str(u.source) for u in source.units]
        for before, after in zip(source.units, written.units):  # kept as they were, or copied (no words)
            assert after.isheader() or str(after.target) in (str(before.target), str(after.source))


def test_xliff_12_drafts_keep_inline_codes_and_need_review(files, tmp_path):
    counts = translate_file(files["app.xlf"], Echo(), ["fr"], tmp_path / "out", progress=False)
    out = tmp_path / "out" / "fr" / "app.xlf"
    assert counts["languages"]["fr"]["filled"] == 2
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    tree = parse(out)
    assert tree.find(".//x:file", ns).get("target-language") == "fr"
    first = tree.find(".//x:trans-unit[@id='1']/x:target", ns)
    assert etree.tostring(first, encoding="unicode").split(">", 1)[1].rsplit("<", 1)[0] == \
        '«fr» Delete <x id="1"/> from <g id="2">the list</g>?'
    assert (first.get("state"), first.get("state-qualifier")) == ("needs-review-translation", "mt-suggestion")
    assert tree.find(".//x:trans-unit[@id='3']/x:target", ns) is None  # translate="no"
    assert "<!-- a comment -->" in out.read_text(encoding="utf-8")


def test_xliff_2_drafts_are_translated_not_reviewed(files, tmp_path):
    translate_file(files["app2.xlf"], Echo(), ["de"], tmp_path / "out", progress=False)
    tree = parse(tmp_path / "out" / "de" / "app2.xlf")
    ns = {"x": "urn:oasis:names:tc:xliff:document:2.0"}
    assert tree.getroot().get("trgLang") == "de"
    segment = tree.find(".//x:unit[@id='u1']/x:segment", ns)
    assert (segment.get("state"), segment.get("subState")) == ("translated", "interlingua:mt")
    target = segment.find("x:target", ns)
    assert target.find("x:ph", ns).get("id") == "1" and target.find("x:pc", ns).text == "the list"


def test_broken_inline_codes_leave_the_entry_empty(files, tmp_path):
    def swap(text, lang):  # the model sees the codes as sentinels {0} {1}…{2}; their end before their start
        return text.replace("{1}", "@").replace("{2}", "{1}").replace("@", "{2}")
    counts = translate_file(files["app.xlf"], Echo(swap), ["fr"], tmp_path / "out", progress=False)
    assert counts["left_empty_placeholders"] == 1 and counts["filled"] == 1


def test_qt_drafts_are_unfinished_with_every_numerus_form(files, tmp_path):
    translate_file(files["app.ts"], Echo(), ["ru"], tmp_path / "out", progress=False)
    tree = parse(tmp_path / "out" / "ru" / "app.ts")
    translations = tree.findall(".//translation")
    assert all(t.get("type") == "unfinished" for t in translations)
    assert translations[0].text == "«ru» Open %1"
    assert [f.text for f in translations[1].findall("numerusform")] == ["«ru» %n file(s)"] * 3


@pytest.mark.parametrize("name, lang", [("app.xlf", "fr"), ("app2.xlf", "de"), ("app.ts", "ru")])
def test_a_second_run_keeps_the_earlier_xliff_and_qt_drafts_unless_overwrite(files, tmp_path, name, lang):
    """The earlier output's translations come back (with their marks) and the model is not asked again."""
    first = translate_file(files[name], Echo(), [lang], tmp_path / "out", progress=False)
    path = Path(first["files"][0])
    written = path.read_bytes()
    model = Echo(lambda text, lang: text + " (again)")  # keeps the inline codes
    again = translate_file(files[name], model, [lang], tmp_path / "out", progress=False)
    assert (again["kept"], again["filled"], model.calls) == (first["filled"], 0, 0)
    assert path.read_bytes() == written
    redone = translate_file(files[name], model, [lang], tmp_path / "out", overwrite=True, progress=False)
    assert (redone["kept"], redone["filled"]) == (0, first["filled"]) and b"(again)" in path.read_bytes()


def test_android_drafts_plurals_and_marks(files, tmp_path):
    translate_file(files["strings.xml"], Echo(), ["ru"], tmp_path / "out", progress=False)
    text = (tmp_path / "out" / "values-ru" / "strings.xml").read_text(encoding="utf-8")
    tree = parse(tmp_path / "out" / "values-ru" / "strings.xml")
    assert tree.find("string[@name='delete']").text == "«ru» Delete %1$s?"
    assert tree.find("string[@name='keep']") is None
    items = {i.get("quantity"): i.text for i in tree.findall("plurals/item")}
    assert items["one"] == "«ru» %d file" and items["few"] == items["other"] == "«ru» %d files"
    assert text.count("<!-- interlingua machine draft: needs review -->") == 3
    assert [output_path(load(files["strings.xml"]), lang, tmp_path).parent.name for lang in ("pt-BR", "sr-Latn")] == \
        ["values-pt-rBR", "values-b+sr+Latn"]


def test_android_folders_use_the_old_codes_android_looks_up_and_read_them_back(files, tmp_path):
    """Android looks Indonesian, Hebrew and Yiddish up in values-in, values-iw, values-ji on every API level (its
    ResourcesImpl turns the device's id into in), so values-id would never be used; a user naming the language
    by either code gets that folder. Apple's folders keep today's codes."""
    source = load(files["strings.xml"])
    folders = [output_path(source, lang, tmp_path).parent.name for lang in ("id", "in", "id-ID", "he", "iw", "yi")]
    assert folders == ["values-in", "values-in", "values-in-rID", "values-iw", "values-iw", "values-ji"]
    apple = load(files["Localizable.strings"])
    assert [output_path(apple, lang, tmp_path).parent.name for lang in ("in", "iw")] == ["id.lproj", "he.lproj"]
    model = Echo()
    model.languages = [*Echo.languages, "id"]
    translate_file(files["strings.xml"], model, ["in"], tmp_path / "out", progress=False)
    assert parse(tmp_path / "out" / "values-in" / "strings.xml").find("string[@name='delete']").text == \
        "«id» Delete %1$s?"  # the model was asked for id, today's code for what the user called in


def test_each_format_states_the_confidence_where_it_has_a_place(files, tmp_path):
    """XLIFF a translator note, Qt a translator comment, TMX beside the draft mark, Android and Apple in the
    review comment; JSON has no place (the count still says how many were left empty)."""
    out = tmp_path / "out"
    stated = "interlingua confidence 0.90 (chance of chrF &gt;= 50: 70%)"  # as XML escapes it
    translate_file(files["app.xlf"], Sure(), ["fr"], out, progress=False)
    assert f'<note from="translator">{stated}</note>' in (out / "fr" / "app.xlf").read_text(encoding="utf-8")
    translate_file(files["app2.xlf"], Sure(), ["fr"], out, progress=False)
    assert "interlingua confidence" in (out / "fr" / "app2.xlf").read_text(encoding="utf-8")
    translate_file(files["app.ts"], Sure(), ["fr"], out, progress=False)
    assert "<translatorcomment>interlingua confidence" in (out / "fr" / "app.ts").read_text(encoding="utf-8")
    translate_file(files["strings.xml"], Sure(), ["fr"], out, progress=False)
    assert "needs review (interlingua confidence" in (out / "values-fr" / "strings.xml").read_text(encoding="utf-8")
    counts = translate_file(files["en.json"], Sure(), ["fr"], out, progress=False, min_confidence=0.5)
    assert "confidence" not in (out / "fr" / "en.json").read_text(encoding="utf-8")
    assert counts["filled"] == 1 and counts["left_empty_confidence"] == 1  # "Open the file" 0.9, "Delete {name}?" 0.3


def test_apple_and_json(files, tmp_path):
    translate_file(files["Localizable.strings"], Echo(), ["fr"], tmp_path / "out", progress=False)
    text = (tmp_path / "out" / "fr.lproj" / "Localizable.strings").read_text(encoding="utf-8")
    assert '"delete" = "«fr» Delete %@?";' in text and "needs review" in text and "/* Title */" in text
    translate_file(files["en.json"], Echo(), ["fr"], tmp_path / "out", progress=False)
    assert (tmp_path / "out" / "fr" / "en.json").read_text(encoding="utf-8") == \
        '{\n  "title": "«fr» Open the file",\n  "menu": {\n    "delete": "«fr» Delete {name}?"\n  }\n}\n'


def test_memory_first_then_the_model(files, tmp_path):
    memory = tmp_path / "memory.tmx"
    memory.write_text('''<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="en" segtype="sentence" datatype="plaintext" adminlang="en" o-tmf="t"
 creationtool="t" creationtoolversion="1"/><body>
<tu><tuv xml:lang="en"><seg>Open the file</seg></tuv><tuv xml:lang="fr"><seg>Ouvrir le fichier</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>Delete %s?</seg></tuv><tuv xml:lang="fr"><seg>Supprimer %d ?</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>Copy %1$s to %2$s.</seg></tuv><tuv xml:lang="fr"><seg>Copier %1$s vers %2$s.</seg></tuv></tu>
</body></tmx>
''', encoding="utf-8")
    model = Echo()
    counts = translate_file(files["app.po"], model, ["fr"], tmp_path / "out", memory=memory, progress=False)
    assert counts["from_memory"] == 2
    out = tmp_path / "out" / "fr" / "LC_MESSAGES" / "app.po"
    import polib
    po = {e.msgid: e for e in polib.pofile(str(out))}
    assert po["Open the file"].msgstr == "Ouvrir le fichier" and po["Open the file"].fuzzy
    assert "translation memory: exact match (memory.tmx)" in po["Open the file"].tcomment
    assert po["Copy %1$s to %2$s"].msgstr == "Copier %1$s vers %2$s." and "97% match" in po["Copy %1$s to %2$s"].tcomment
    assert po["Delete %s?"].msgstr == "«fr» Delete %s?"  # the memory's placeholders differ: the model's
    msgfmt_check(out)
    # the same memory for an XLIFF file: marked as leveraged from a memory
    translate_file(files["app.xlf"], Echo(), ["fr"], tmp_path / "out", memory=memory, progress=False)
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    tree = parse(tmp_path / "out" / "fr" / "app.xlf")
    target = tree.find(".//x:trans-unit[@id='2']/x:target", ns)
    assert target.text == "Ouvrir le fichier" and target.get("state-qualifier") == "leveraged-tm"
    assert "exact match" in tree.find(".//x:trans-unit[@id='2']/x:note[@from='translator']", ns).text


def msgfmt_check(path: Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt is not installed (apt-get install gettext)")
    result = subprocess.run(["msgfmt", "--check", "--use-fuzzy", "-o", "/dev/null", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, content, expected", [
    ("bad.xlf", b'<?xml version="1.0"?>\n<xliff version="1.2">\n<file><body><trans-unit>\n</xliff>\n', ":4: not valid XML"),
    ("bad.xlf", b'<?xml version="1.0"?>\n<html></html>\n', "not a XLIFF 1.2 file (root element <html>)"),
    ("bad.json", b'{\n  "a": "b",\n  "c": \n}\n', ":4: not valid JSON"),
    ("bad.json", b'["a", "b"]\n', "not a JSON i18n file"),
    ("bad.ts", b'<?xml version="1.0"?>\n<TS>\n<context>\n<message>caf\xe9</message></context></TS>\n', ":4: not valid UTF-8"),
    ("strings.xml", b'<?xml version="1.0"?>\n<resources>\n<string name="a">x</resources>\n', ":3: not valid XML"),
    ("app.mo", b"\x00", "cannot translate this kind of file"),
    ("none.xlf", None, "no such file"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InterlinguaError) as info:
        translate_file(path, Echo(), ["fr"], tmp_path / "out", progress=False)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_monolingual_memory_is_refused(files, tmp_path):
    with pytest.raises(InterlinguaError, match="holds one language"):
        translate_file(files["app.po"], Echo(), ["fr"], tmp_path / "out", memory=files["en.json"], progress=False)


def test_cli_tm_with_the_tiny_model(files, tiny_run, tmp_path):
    memory = tmp_path / "memory.po"
    memory.write_text('msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                      'msgid "Open the file"\nmsgstr "Ouvrir le fichier"\n', encoding="utf-8")
    out = tmp_path / "out"
    for name in FILES:
        result = run_cli("translate-file", str(files[name]), "--model", str(tiny_run), "--to", "fr", "--out", str(out),
                         "--tm", str(memory), "--quiet")
        assert result.returncode == 0, result.stderr.decode()
    tree = parse(out / "fr" / "app.xlf")  # an XLIFF parse with lxml: well-formed, the codes kept exactly
    for target in tree.iter("{urn:oasis:names:tc:xliff:document:1.2}target"):
        if target.getparent().get("id") == "1":
            assert [(c.tag.rsplit("}", 1)[1], dict(c.attrib)) for c in target] == [("x", {"id": "1"}), ("g", {"id": "2"})]
    msgfmt_check(out / "fr" / "LC_MESSAGES" / "app.po")
    assert_clean_error(run_cli("translate-file", str(files["app.po"]), "--model", str(tiny_run), "--to", "fr",
                               "--out", str(out), "--tm", str(tmp_path / "missing.tmx")), "missing.tmx", "no such file")
