"""Language codes have one resolver (corpus.langcodes.resolve_language): a spelling means the same everywhere."""
import pytest

from conftest import assert_clean_error, run_cli
from interlingua.corpus.langcodes import resolve_language, resolve_languages
from interlingua.errors import InterlinguaError

MODEL = ["en", "fr", "pt", "pt-BR", "zh-Hans", "sr-Latn", "ca-valencia"]


@pytest.mark.parametrize("spelling, code", [
    ("pt-BR", "pt-BR"), ("pt_BR", "pt-BR"), ("PT-br", "pt-BR"), ("pt_BR.UTF-8", "pt-BR"),
    ("pt", "pt"), ("pt_PT", "pt"), ("PT", "pt"),          # Portugal is the home of the corpus's bare pt
    ("en-US", "en"), ("EN_us", "en"), ("fr_FR", "fr"),      # a home region is the corpus's one column
    ("zh_CN", "zh-Hans"), ("zh-hans", "zh-Hans"), ("sr@latin", "sr-Latn"), ("ca@valencia", "ca-valencia"),
])
def test_every_spelling_of_a_language_names_the_model_code(spelling, code):
    assert resolve_language(spelling, MODEL) == code


@pytest.mark.parametrize("spelling", ["de", "en-GB", "fr-CA", "zh-Hant", "xx", "", "C", "en@quot"])
def test_a_language_the_model_lacks_is_none(spelling):
    assert resolve_language(spelling, MODEL) is None


def test_resolve_languages_drops_repeats_and_names_the_known_ones():
    assert resolve_languages("pt_BR, pt-BR,PT-br,fr", MODEL) == ["pt-BR", "fr"]
    with pytest.raises(InterlinguaError, match="unknown source language 'de'.*en, fr"):
        resolve_languages(["fr", "de"], MODEL, role="source")


def test_the_api_reads_any_spelling_and_answers_in_the_model_codes(made_up_run):
    from interlingua.api import Translator
    translator = Translator.load(made_up_run)
    expected = translator.translate(["open file"], to="fr")
    assert translator.translate(["open file"], to="FR") == expected
    assert translator.translate(["open file"], to="fr_FR", pivot="EN-us") == \
        translator.translate(["open file"], to="fr", pivot="en")
    assert translator.translate(["open file"], to=["FR", "de_DE", "fr"]) == \
        {"fr": expected, "de": translator.translate(["open file"], to="de")}
    with pytest.raises(InterlinguaError, match="unknown target language 'fr-CA'"):
        translator.translate(["open file"], to="fr-CA")


def test_the_cli_prints_the_model_codes_for_the_spellings_given(made_up_run):
    result = run_cli("translate", "--model", str(made_up_run), "--to", "FR,de_DE", "--tsv", "open file")
    assert result.returncode == 0, result.stderr.decode()
    assert [line.split("\t")[0] for line in result.stdout.decode().splitlines()] == ["fr", "de"]
    assert_clean_error(run_cli("translate", "--model", str(made_up_run), "--to", "fr-CA", "open"), "'fr-CA'", "de")


@pytest.mark.parametrize("spelling, code", [
    ("in", "id"), ("in_ID", "id"), ("in-ID.UTF-8", "id"), ("IN", "id"),  # Java's and Android's Indonesian
    ("iw", "he"), ("iw_IL", "he"), ("ji", "yi"),                         # ... Hebrew, Yiddish
    ("id", "id"), ("he_IL", "he"), ("yi", "yi"),                         # today's codes are unchanged
])
def test_withdrawn_iso_codes_read_as_todays(spelling, code):
    """Java's Locale (so Android's values-in, values-iw and Java locales in_ID, iw_IL) still writes the ISO 639
    codes withdrawn in 1989: a file named by them fills the same column as one named by today's codes."""
    from interlingua.corpus.langcodes import catalog_language
    assert catalog_language(spelling) == code
    assert resolve_language(spelling, ["en", "id", "he", "yi"]) == code


def test_a_users_corpus_in_old_codes_reads_as_todays_languages(tmp_path):
    from interlingua.corpus.formats import ROW_ID, read_corpus
    tsv = tmp_path / "c.tsv"
    tsv.write_text("en\tin\tiw\nOpen\tBuka\tפתח\n", encoding="utf-8")
    assert read_corpus(tsv) == [{ROW_ID: "2", "en": "Open", "id": "Buka", "he": "פתח"}]
    tmx = tmp_path / "m.tmx"
    tmx.write_text('<tmx version="1.4"><header srclang="en"/><body><tu tuid="1">'
                   '<tuv xml:lang="en"><seg>Open</seg></tuv><tuv xml:lang="ji"><seg>עפֿן</seg></tuv>'
                   '</tu></body></tmx>', encoding="utf-8")
    assert read_corpus(tmx) == [{ROW_ID: "1", "en": "Open", "yi": "עפֿן"}]


def test_java_language_writes_the_old_codes_android_looks_up():
    from interlingua.corpus.langcodes import java_language
    assert [java_language(tag) for tag in ("id", "id-ID", "he", "yi", "in", "fr", "pt-BR", "sr-Latn")] == \
        ["in", "in-ID", "iw", "ji", "in", "fr", "pt-BR", "sr-Latn"]
