"""--glossary: TBX and CSV terms found whole-word and case-aware, carried through the model as sentinels, put
back as the target term; a draft that loses one is left empty and counted; bad files are one clean line."""
from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

from conftest import assert_clean_error, run_cli
from interlingua.errors import InterlinguaError
from interlingua.localize import format_counts, protect, restore, translate_file
from interlingua.localize.glossary import load_glossary, translate_lines
from interlingua.placeholders import MASKS
from test_localize import Echo

TBX = '''<?xml version="1.0" encoding="UTF-8"?>
<martif type="TBX" xml:lang="en">
<martifHeader><fileDesc><sourceDesc><p>test</p></sourceDesc></fileDesc></martifHeader>
<text><body>
<termEntry id="file">
  <langSet xml:lang="en"><tig><term>file</term></tig></langSet>
  <langSet xml:lang="fr"><tig><term>dossier</term><termNote type="administrativeStatus">deprecatedTerm-admn-sts</termNote></tig>
                         <tig><term>fichier</term></tig></langSet>
  <langSet xml:lang="de_DE"><tig><term>Datei</term></tig></langSet>
</termEntry>
<termEntry id="ff">
  <descrip type="Translation needed">no</descrip>
  <langSet xml:lang="en"><tig><term>Firefox</term></tig></langSet>
</termEntry>
<termEntry id="fr-only">
  <langSet xml:lang="fr"><tig><term>rien</term></tig></langSet>
</termEntry>
</body></text>
</martif>
'''

CSV = '''source,target,language
file,fichier,fr
file,Datei,de
file manager,gestionnaire de fichiers,fr
Firefox,,
save,enregistrer,pt_BR
'''

CATALOG = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Open the file"
msgstr ""

#, c-format
msgid "File %s not found in Firefox"
msgstr ""

msgid "Open the file manager"
msgstr ""

msgid "Two profiles, no files"
msgstr ""
'''


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def catalog(tmp_path) -> Path:
    return write(tmp_path / "app.pot", CATALOG)


def drafts(out: Path, lang: str) -> dict[str, str]:
    return {e.msgid: e.msgstr for e in polib.pofile(str(out / lang / "LC_MESSAGES" / "app.po")) if e.msgid}


# ----------------------------------------------------------------------------- reading

def test_csv_layout_languages_and_do_not_translate(tmp_path):
    glossary = load_glossary(write(tmp_path / "g.csv", CSV))
    assert glossary.terms("fr").targets == {"file": "fichier", "file manager": "gestionnaire de fichiers",
                                            "Firefox": "Firefox"}
    assert glossary.terms("de").targets == {"file": "Datei", "Firefox": "Firefox"}
    assert glossary.terms("pt-BR").targets == {"save": "enregistrer", "Firefox": "Firefox"}  # pt_BR read as pt-BR
    assert glossary.terms("fr-CA").targets["file"] == "fichier"  # a base language's row serves its regions
    assert glossary.terms("es").targets == {"Firefox": "Firefox"}


def test_tbx_preferred_target_regions_and_untranslatable(tmp_path):
    glossary = load_glossary(write(tmp_path / "g.tbx", TBX))
    assert glossary.terms("fr").targets == {"file": "fichier", "Firefox": "Firefox"}  # the deprecated term skipped
    assert glossary.terms("de").targets["file"] == "Datei"  # de_DE serves de when there is no closer row
    assert "rien" not in str(glossary.by_language)  # a concept with no English term has nothing to find


def test_terms_are_whole_words_case_aware_longest_first(tmp_path):
    terms = load_glossary(write(tmp_path / "g.csv", CSV)).terms("fr")
    text = "File and file manager, profile, files, firefox, --new-file file.txt /etc/file, Firefox's file."
    found = [(text[a:b], target) for a, b, target in terms.find(text)]
    assert found == [("File", "Fichier"), ("file manager", "gestionnaire de fichiers"), ("Firefox", "Firefox"),
                     ("file", "fichier")]


@pytest.mark.parametrize("name,content,needle", [
    ("g.csv", "file,fichier\nfile,dossier\n", "g.csv:2: two targets for 'file'"),
    ("g.csv", "a,b\nonly-one-column\n", "g.csv:2: 1 column(s)"),
    ("g.csv", "a,b,French\n", "g.csv:1: 'French' is not a language code"),
    ("g.csv", ",b\n", "g.csv:1: empty source term"),
    ("g.csv", 'a,"b\n', "g.csv:1: not valid CSV"),
    ("g.csv", "source,target\n\n", "g.csv: no terms"),
    ("g.tbx", "<martif><text><body>\n<termEntry>\n</martif>\n", "g.tbx:3: not valid XML"),
    ("g.tbx", "<html></html>", "g.tbx: not a TBX glossary file (root element <html>)"),
    ("g.txt", "a,b\n", "g.txt: cannot read this kind of glossary"),
])
def test_a_bad_glossary_is_one_line_naming_file_and_line(tmp_path, name, content, needle):
    path = write(tmp_path / name, content)
    with pytest.raises(InterlinguaError) as info:
        load_glossary(path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_non_utf8_and_missing_glossaries(tmp_path):
    (tmp_path / "latin.csv").write_bytes(b"file,fichier\ncaf\xe9,caf\xe9\n")
    with pytest.raises(InterlinguaError, match=r"latin.csv:2: not valid UTF-8"):
        load_glossary(tmp_path / "latin.csv")
    with pytest.raises(InterlinguaError, match=r"missing.tbx: no such file \(the --glossary\)"):
        load_glossary(tmp_path / "missing.tbx")


def test_a_tbx_is_no_file_to_translate(tmp_path):
    with pytest.raises(InterlinguaError, match="cannot translate this kind of file"):
        translate_file(write(tmp_path / "g.tbx", TBX), Echo(), ["fr"], tmp_path / "out", progress=False)


# ----------------------------------------------------------------------------- protection

def test_a_term_is_a_sentinel_the_line_does_not_use_and_comes_back_as_its_target(tmp_path):
    terms = load_glossary(write(tmp_path / "g.csv", CSV)).terms("fr")
    protected = protect("Save {0} to the file of %(user)s", terms=terms)
    assert protected.texts == ["Save {0} to the {2} of {1}"]  # {0} is the message's, {1} the named one's
    assert restore(protected, {protected.texts[0]: "Enregistrer {0} dans le {2} de {1}"}, "fr") == \
        "Enregistrer {0} dans le fichier de %(user)s"
    assert restore(protected, {protected.texts[0]: "Enregistrer {0} dans le de {1}"}, "fr") is None  # term lost
    assert restore(protected, {protected.texts[0]: "{2} {0} {2} de {1}"}, "fr") is None  # term written twice


def test_more_terms_than_masks_stay_text_and_are_checked_as_text(tmp_path):
    terms = load_glossary(write(tmp_path / "g.csv", CSV)).terms("fr")
    text = " ".join(f"%{i + 1}$s" for i in range(len(MASKS))) + " Firefox file"
    protected = protect(text, terms=terms)
    assert "Firefox file" in protected.texts[0]  # no mask left: the terms stay as they are
    line = protected.texts[0]
    assert restore(protected, {line: line.replace("file", "fichier")}, "fr") is not None
    assert restore(protected, {line: line}, "fr") is None  # 'file' untranslated: the target is not there


# ----------------------------------------------------------------------------- translate-file

def test_drafts_get_each_languages_term_and_keep_placeholders(catalog, tmp_path):
    out = tmp_path / "out"
    counts = translate_file(catalog, Echo(), ["fr", "de", "es"], out, progress=False,
                            glossary=write(tmp_path / "g.csv", CSV))
    fr, de, es = drafts(out, "fr"), drafts(out, "de"), drafts(out, "es")
    assert fr["Open the file"] == "«fr» Open the fichier" and de["Open the file"] == "«de» Open the Datei"
    assert es["Open the file"] == "«es» Open the file"  # no term for Spanish: the model's (here, a copy)
    assert fr["File %s not found in Firefox"] == "«fr» Fichier %s not found in Firefox"  # sentence-start capital
    assert fr["Open the file manager"] == "«fr» Open the gestionnaire de fichiers"
    assert fr["Two profiles, no files"] == "«fr» Two profiles, no files"  # not whole words: untouched
    assert counts["languages"]["fr"]["with_terms"] == 3 and counts["languages"]["es"]["with_terms"] == 1
    assert counts["left_empty_terms"] == 0 and counts["filled"] == 12
    assert "glossary: 7 drafts had terms" in format_counts(counts)


def test_a_draft_that_loses_a_term_is_left_empty_and_counted(catalog, tmp_path):
    out = tmp_path / "out"
    drop = Echo(lambda text, lang: f"«{lang}» " + re.sub(r"\{\d+\}", "", text) if lang == "fr" else text)
    glossary = write(tmp_path / "g.csv", "file,fichier\n")
    counts = translate_file(catalog, drop, ["fr", "de"], out, progress=False, glossary=glossary)
    fr = drafts(out, "fr")
    assert fr["Open the file"] == "" and fr["File %s not found in Firefox"] == ""
    assert fr["Two profiles, no files"] == "«fr» Two profiles, no files"
    assert counts["languages"]["fr"]["left_empty_terms"] == 3 and counts["languages"]["fr"]["left_empty_placeholders"] == 0
    assert counts["languages"]["de"]["left_empty_terms"] == 0 and drafts(out, "de")["Open the file"] == "Open the fichier"
    assert "fr: 1 filled (marked for review), 3 left empty (0 for placeholders, 3 for glossary terms" in format_counts(counts)


def test_the_tiny_model_writes_every_terms_sentinel_back_through_its_masks(tiny_run, tmp_path):
    from interlingua import Translator
    from interlingua.localize.protect import kept_terms
    translator = Translator.load(tiny_run)
    assert translator.mask_ids  # the fixture run is trained with masked placeholders
    terms = load_glossary(write(tmp_path / "g.tbx", TBX)).terms("fr")
    messages = ["Open the file", "File %s not found in Firefox", "Copy {0} {1} {2} to the file of %1 %2 %3",
                "Save the file, then close the file"]
    protected = [protect(m, terms=terms) for m in messages]
    assert "{3}" in protected[2].texts[0]  # past the atomic sentinels: a piece the model reads only as a mask
    texts = [t for p in protected for t in p.texts]
    for lang in ("fr", "de"):
        done = dict(zip(texts, translator.translate(texts, to=lang)))
        assert all(kept_terms(p, done) for p in protected), done  # search writes every mask once
        assert done[protected[3].texts[0]].count("{0}") == 2  # a term said twice comes back twice


class Sentences(Echo):
    """The stand-in with Translator.translate's pivot argument, which `interlingua translate` passes on."""
    def translate(self, sentences, to, beam=1, pivot=None):
        return super().translate(sentences, to, beam)


def test_translate_lines_keeps_terms_and_empties_a_line_that_lost_one(tmp_path):
    glossary = load_glossary(write(tmp_path / "g.csv", CSV))
    lines = ["Open the file in Firefox", "", "Delete %s?"]
    result, left_empty = translate_lines(Sentences(), lines, ["fr", "es"], glossary)
    assert result == {"fr": ["«fr» Open the fichier in Firefox", "", "«fr» Delete %s?"],
                      "es": ["«es» Open the file in Firefox", "", "«es» Delete %s?"]} and left_empty == 0
    lose = Sentences(lambda text, lang: re.sub(r"\{\d+\}", "", text))
    result, left_empty = translate_lines(lose, lines, ["fr"], glossary)
    assert result["fr"] == ["", "", "Delete %s?"] and left_empty == 1


# ----------------------------------------------------------------------------- the command line

@pytest.mark.slow  # CLI subprocesses
def test_cli_glossary(catalog, tiny_run, tmp_path):
    bad = write(tmp_path / "bad.csv", "file,fichier\nfile,fichier,fr,extra\n")
    result = run_cli("translate-file", str(catalog), "--model", str(tmp_path / "no-model"), "--to", "fr",
                     "--out", str(tmp_path / "o"), "--glossary", str(bad))
    assert_clean_error(result, f"{bad}:2", "4 column(s)")  # before the (missing) model is even looked at
    result = run_cli("translate-file", str(catalog), "--model", str(tiny_run), "--to", "fr", "--out",
                     str(tmp_path / "o"), "--glossary", str(write(tmp_path / "g.csv", CSV)), "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    assert "for glossary terms" in result.stdout.decode() and "glossary: 3 drafts had terms" in result.stdout.decode()
    result = run_cli("translate", "--model", str(tiny_run), "--to", "fr,de", "--glossary", str(tmp_path / "g.csv"),
                     "--tsv", "Open the file", "Delete the file manager")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()  # the tiny model often writes the masks alone: such a line is empty
    assert [line.split("\t")[0] for line in lines] == ["fr", "de", "fr", "de"]
    for line, term in zip(lines, ["fichier", "Datei", "gestionnaire de fichiers", "Datei"]):
        assert line.endswith("\t") or term in line, line
    assert ("left empty" in result.stderr.decode()) == any(line.endswith("\t") for line in lines)
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "fr", "--glossary", str(bad), "x"),
                       f"{bad}:2")
