"""translate-file's outputs pass the format's own checker (issue 17): PO `msgfmt --check`, XLIFF 1.2 and 2.0
the official OASIS schemas (tests/data/xliff, read offline).

The XLIFF inputs carry what the outputs add to or
must keep: inline codes of every kind, notes, a group, existing targets with review states, a unit not to
translate; the drafts come with a confidence note, a glossary and a translation memory.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from interlingua.localize import translate_file
from test_localize import CATALOG, Sure

SCHEMAS = Path(__file__).parent / "data" / "xliff"


class _Local(etree.Resolver):
    """Both schemas import xml.xsd (by URL in 1.2, by a relative path in 2.0): the copy beside them."""

    def resolve(self, url, pubid, context):
        if url.endswith("xml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xml.xsd"), context)
        return None


def schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Local())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def assert_valid(path: Path, name: str) -> None:
    checker = schema(name)
    if not checker.validate(etree.parse(str(path))):
        raise AssertionError(f"{path.name} fails {name}:\n" + "\n".join(
            f"  line {e.line}: {e.message}" for e in checker.error_log))


XLIFF12 = '''<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:1.2" version="1.2">
  <file original="app.c" source-language="en" datatype="plaintext">
    <header>
      <note>the product's strings</note>
    </header>
    <body>
      <!-- a comment -->
      <trans-unit id="1">
        <source>Delete <x id="1"/> from <g id="2">the list</g>?</source>
        <note from="developer">shown in a dialog</note>
      </trans-unit>
      <trans-unit id="2" resname="open">
        <source>Open the file %s</source>
      </trans-unit>
      <group id="g1" resname="menu">
        <trans-unit id="3">
          <source>Save <bx id="4"/>the file<ex id="5"/> to <ph id="6">%d</ph> folders</source>
        </trans-unit>
        <trans-unit id="4">
          <source>Close the window</source>
          <target state="translated">Fermer la fenêtre</target>
        </trans-unit>
      </group>
      <trans-unit id="5" translate="no">
        <source>interlingua</source>
      </trans-unit>
      <trans-unit id="6">
        <source>Quit</source>
      </trans-unit>
    </body>
  </file>
</xliff>
'''

XLIFF20 = '''<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en">
  <file id="f1" original="app.c">
    <notes>
      <note>the product's strings</note>
    </notes>
    <unit id="u1">
      <notes>
        <note category="developer">shown in a dialog</note>
      </notes>
      <segment>
        <source>Delete <ph id="1"/> from <pc id="2">the list</pc>?</source>
      </segment>
    </unit>
    <group id="g1">
      <unit id="u2">
        <segment>
          <source>Open the file %s</source>
        </segment>
      </unit>
      <unit id="u3">
        <segment>
          <source>Save <sc id="3"/>the file<ec startRef="3"/> to <ph id="4" disp="%d"/> folders</source>
        </segment>
      </unit>
    </group>
    <unit id="u4" translate="no">
      <segment>
        <source>interlingua</source>
      </segment>
    </unit>
    <unit id="u5">
      <segment state="final">
        <source>Close the window</source>
        <target>Fermer la fenêtre</target>
      </segment>
    </unit>
    <unit id="u6">
      <segment>
        <source>Quit</source>
      </segment>
    </unit>
  </file>
</xliff>
'''

CASES = [("app.xlf", XLIFF12, "xliff-core-1.2-strict.xsd"), ("app2.xlf", XLIFF20, "xliff-core-2.0.xsd")]


def test_po_drafts_pass_msgfmt_check(tmp_path):
    """The fixture catalog (plurals, c-format and python-format, msgctxt, fuzzy, obsolete) drafted with a
    glossary and confidence, some left empty, into languages of 1, 2, 3 and 6 plural forms."""
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt is not installed (apt-get install gettext)")
    source = tmp_path / "app.pot"
    source.write_text(CATALOG, encoding="utf-8")
    terms = tmp_path / "terms.csv"
    terms.write_text("source,target\nfile,FILE-TERM\n", encoding="utf-8")
    counts = translate_file(source, Sure(), ["fr", "ru", "ja", "ar"], tmp_path / "out", progress=False,
                            glossary=terms, min_confidence=0.5)
    assert counts["filled"] > 0 and counts["with_terms"] > 0 and counts["left_empty_confidence"] > 0
    for lang in ("fr", "ru", "ja", "ar"):
        path = tmp_path / "out" / lang / "LC_MESSAGES" / "app.po"
        # --use-fuzzy: every draft is fuzzy, and msgfmt skips fuzzy entries without it
        result = subprocess.run(["msgfmt", "--check", "--use-fuzzy", "-o", "/dev/null", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    (tmp_path / "in").mkdir()
    paths = {}
    for name, text, _ in CASES:
        paths[name] = tmp_path / "in" / name
        paths[name].write_text(text, encoding="utf-8")
    (tmp_path / "in" / "terms.csv").write_text("source,target,language\nfile,fichier,fr\nfile,Datei,de\n",
                                               encoding="utf-8")
    return paths


@pytest.mark.parametrize("name,text,xsd", CASES)
def test_the_fixtures_themselves_are_valid(inputs, name, text, xsd):
    assert_valid(inputs[name], xsd)  # so a failure below is the output's doing


@pytest.mark.parametrize("name,text,xsd", CASES)
def test_drafts_with_confidence_notes_and_a_glossary_validate(inputs, tmp_path, name, text, xsd):
    out = tmp_path / "out"
    counts = translate_file(inputs[name], Sure(), ["fr", "de"], out, progress=False,
                            glossary=tmp_path / "in" / "terms.csv")
    assert counts["filled"] >= 6 and counts["with_terms"] >= 2
    for lang in ("fr", "de"):
        written = out / lang / name
        assert "interlingua confidence" in written.read_text(encoding="utf-8")
        assert_valid(written, xsd)


@pytest.mark.parametrize("name,text,xsd", CASES)
def test_entries_left_empty_and_a_second_run_validate(inputs, tmp_path, name, text, xsd):
    out = tmp_path / "out"
    translate_file(inputs[name], Sure(), ["fr"], out, progress=False, min_confidence=0.5)  # some left empty
    assert_valid(out / "fr" / name, xsd)
    translate_file(inputs[name], Sure(), ["fr"], out, progress=False)  # merges the earlier output
    assert_valid(out / "fr" / name, xsd)
    translate_file(inputs[name], Sure(), ["fr"], out, progress=False, overwrite=True)
    assert_valid(out / "fr" / name, xsd)


@pytest.mark.parametrize("name,text,xsd", CASES)
def test_drafts_from_a_memory_validate(inputs, tmp_path, name, text, xsd):
    memory = tmp_path / "in" / "old.po"
    memory.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr\\n"\n\n'
                      'msgid "Quit"\nmsgstr "Quitter"\n', encoding="utf-8")
    translate_file(inputs[name], Sure(), ["fr"], tmp_path / "out", progress=False, memory=memory)
    written = tmp_path / "out" / "fr" / name
    assert "Quitter" in written.read_text(encoding="utf-8")
    assert_valid(written, xsd)
