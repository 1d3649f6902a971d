"""The evaluation library: known answers for every metric, then one whole evaluation of the tiny run."""
import json
import logging
import math

import numpy as np
import pytest

from conftest import one_thread
from interlingua.corpus.formats import ROW_ID, read_corpus, write_corpus
from interlingua.errors import InterlinguaError
from interlingua.evaluate.baselines import by_match_band, translation_memory_chrf, translation_memory_outputs
from interlingua.evaluate.metrics import chrf
from interlingua.evaluate.placeholders import placeholder_counts, placeholder_kept
from interlingua.evaluate.probes import probe_accuracy, split_by_meaning
from interlingua.evaluate.retrieval import ratio_margin, xsim_error
from interlingua.evaluate.testset import sort_by_id
from interlingua.evaluate.translation import Direction
from interlingua.memory import TranslationMemory


# ----------------------------------------------------------------------------- known answers

def test_xsim_of_identical_vectors_is_zero_and_of_random_vectors_is_chance():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(200, 32))
    assert xsim_error(vecs, vecs) == 0.0
    assert xsim_error(vecs, vecs * 3.0, margin=True) == 0.0  # cosine: scale does not matter
    other = rng.normal(size=(200, 32))
    chance = 1 - 1 / 200
    assert xsim_error(vecs, other) == pytest.approx(chance, abs=0.03)
    assert xsim_error(vecs, other, margin=True) == pytest.approx(chance, abs=0.03)


def test_margin_discounts_a_hub():
    # target 0 is a hub: near every source. Cosine sends every source to it; the margin does not.
    rng = np.random.default_rng(1)
    src = rng.normal(size=(50, 64))
    tgt = src + 0.8 * rng.normal(size=src.shape)
    tgt[0] = src.mean(axis=0) * 8 + src[0]
    assert xsim_error(src, tgt, margin=True) <= xsim_error(src, tgt)
    assert ratio_margin(np.eye(3), k=10).shape == (3, 3)  # k capped by n - 1


def test_xsim_needs_aligned_rows():
    with pytest.raises(ValueError):
        xsim_error(np.zeros((3, 2)), np.zeros((4, 2)))


def _probe_data(encode_language: bool):
    rng = np.random.default_rng(0)
    langs, meanings = ["en", "fr", "de", "es"], 120
    labels = np.repeat(langs, meanings)
    groups = np.tile(np.arange(meanings), len(langs))
    vecs = rng.normal(size=(len(labels), 24))
    if encode_language:
        onehot = (labels[:, None] == np.array(langs)[None, :]).astype(float)
        vecs = np.hstack([onehot * 3, vecs[:, :20]])
    return vecs, labels, split_by_meaning(groups), groups


def test_probe_is_at_chance_on_random_vectors_and_perfect_when_the_language_is_encoded():
    vecs, labels, train, groups = _probe_data(False)
    assert not set(groups[train]) & set(groups[~train])  # no meaning in both halves
    assert abs(train.mean() - 0.5) < 0.01
    assert probe_accuracy(vecs, labels, train) == pytest.approx(0.25, abs=0.1)
    vecs, labels, train, _ = _probe_data(True)
    assert probe_accuracy(vecs, labels, train) >= 0.99


def test_mlp_probe_reads_what_a_linear_one_cannot():
    # the language is the vector's length (shells around one centre): every language has the same mean, so no
    # linear boundary separates them, but a small MLP does: "a linear probe fails" is not "no probe succeeds"
    rng = np.random.default_rng(0)
    langs, meanings = ["en", "fr", "de"], 200
    labels = np.repeat(langs, meanings)
    direction = rng.normal(size=(len(labels), 2))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = np.repeat([1.0, 2.0, 3.0], meanings)[:, None]
    vecs = np.hstack([direction * radius + 0.05 * rng.normal(size=direction.shape), rng.normal(size=(len(labels), 4))])
    train = split_by_meaning(np.tile(np.arange(meanings), len(langs)))
    assert probe_accuracy(vecs, labels, train, kind="linear") < 0.55
    assert probe_accuracy(vecs, labels, train, kind="mlp") > 0.9
    vecs, labels, train, _ = _probe_data(False)
    assert probe_accuracy(vecs, labels, train, kind="mlp") == pytest.approx(0.25, abs=0.1)
    with pytest.raises(ValueError, match="unknown probe"):
        probe_accuracy(vecs, labels, train, kind="forest")


def test_probe_halves_are_disjoint_in_meaning_and_balanced_in_language():
    from interlingua.evaluate.probes import balanced_items
    rows = []
    for i in range(60):  # languages with gaps of different sizes: balance has to be enforced, not found
        row = {ROW_ID: str(i), "en": f"e{i}", "fr": f"f{i}", "de": f"d{i}"}
        if i % 3 == 0:
            del row["fr"]
        if i % 5 == 0:
            del row["de"]
        rows.append(row)
    items = balanced_items(rows, ["en", "fr", "de"], per_language=1000)
    train_rows = {i for _, i, is_train in items if is_train}
    test_rows = {i for _, i, is_train in items if not is_train}
    assert train_rows and test_rows and not train_rows & test_rows  # no meaning on both sides
    for is_train in (True, False):
        counts = {lang: sum(1 for l, _, t in items if l == lang and t == is_train) for lang in ("en", "fr", "de")}
        assert len(set(counts.values())) == 1 and counts["en"] > 0, counts
    assert len(set(items)) == len(items)


def test_placeholders_must_be_kept_exactly():
    sources = ["Open %s", "Delete {0} of %(count)d files", "<b>Bold</b> &amp; more", "No placeholders"]
    hypotheses = ["Ouvrir %s", "Supprimer {0} fichiers", "<b>Gras</b> &amp; plus", "anything %s"]
    assert placeholder_counts(sources, hypotheses) == (2, 3)
    assert placeholder_kept(["%1$s and %2$s"], ["%2$s et %1$s"]) == 1.0  # order may change
    assert placeholder_kept(["%s %s"], ["%s"]) == 0.0                    # a multiset: both are needed
    assert placeholder_kept(["plain"], ["plain"]) is None


def test_chrf_of_perfect_output_is_100():
    refs = ["Ouvrir le fichier", "Fermer la fenêtre"]
    assert chrf(refs, refs) == pytest.approx(100.0)


def test_rows_sort_by_id():
    ids = lambda rows: [row[ROW_ID] for row in sort_by_id([{ROW_ID: i} for i in rows])]  # noqa: E731
    assert ids(["10", "2", "1"]) == ["1", "2", "10"]
    assert ids(["b", "10", "2"]) == ["10", "2", "b"]


def test_translation_memory_on_its_own_training_set_finds_every_exact_match(corpus_path):
    rows = read_corpus(corpus_path.with_name("corpus.train.jsonl"))
    seen: dict[str, set] = {}
    unique = []  # a source text stored twice with two translations would make the exact match ambiguous
    for row in rows:
        if all(row[lang] not in seen.setdefault(lang, set()) for lang in ("en", "fr", "de")):
            for lang in ("en", "fr", "de"):
                seen[lang].add(row[lang])
            unique.append(row)
    test = unique[:40]
    directions = [Direction(s, t, "zero-shot", list(range(len(test))), [r[s] for r in test], [r[t] for r in test], [])
                  for s, t in (("en", "fr"), ("fr", "de"), ("de", "en"))]
    scores = translation_memory_chrf(TranslationMemory(unique), directions, progress=False)
    assert scores == {("en", "fr"): pytest.approx(100.0), ("fr", "de"): pytest.approx(100.0),
                      ("de", "en"): pytest.approx(100.0)}
    # and a near miss finds the near neighbour
    found = TranslationMemory(unique).best_in_language("en", [test[0]["en"] + "!"], ["fr"])
    assert [m.translation for m in found["fr"]] == [test[0]["fr"]]


def test_rows_fall_in_the_band_of_their_best_memory_match():
    memory = TranslationMemory([{"en": "Open the file", "fr": "Ouvrir le fichier"},
                                {"en": "Save all documents now", "fr": "Enregistrer tous les documents"}])
    sources = ["Open the file", "Open the files", "Save the documents", "Quit"]
    references = ["Ouvrir le fichier", "Ouvrir les fichiers", "Enregistrer les documents", "Quitter"]
    hypotheses = ["Ouvrir le fichier", "Ouvrir les fichiers", "xx", "Quitter"]  # the model is wrong in one row only
    d = Direction("en", "fr", "supervised", list(range(4)), sources, references, hypotheses)
    outputs = translation_memory_outputs(memory, [d], progress=False)
    texts, scores = outputs[("en", "fr")]
    assert texts[:2] == ["Ouvrir le fichier"] * 2 and scores[0] == 100.0 and 90 <= scores[1] < 100
    assert 50 <= scores[2] < 90 and scores[3] < 50
    bands = by_match_band([d], outputs)["supervised"]
    assert [bands[b]["sentences"] for b in ("90-100", "50-89", "0-49")] == [2, 1, 1]
    assert bands["0-49"]["chrf"] == pytest.approx(100.0) and bands["0-49"]["tm_chrf"] < 20
    assert bands["50-89"]["chrf"] < bands["50-89"]["tm_chrf"]


class Oracle:
    """A perfect "model": translates by looking sentences up in the rows; its vectors say the meaning
    (``pooled``) or the language (``layer0``), so every metric has a known answer."""
    languages = ["en", "fr", "de"]

    def __init__(self, rows):
        self.rows = rows
        self.where = {text: (n, lang) for n, row in enumerate(rows) for lang, text in row.items() if lang != ROW_ID}
        self.translated = 0

    def translate(self, sentences, to, beam=1, pivot=None):
        assert pivot is None  # the pivot is built from the direct output into English
        self.translated += len(sentences)
        targets = [to] if isinstance(to, str) else to
        out = {t: [self.rows[self.where[s][0]].get(t, "?") for s in sentences] for t in targets}
        return out[to] if isinstance(to, str) else out

    def layer_vectors(self, sentences):
        rng = np.random.default_rng(len(sentences))
        meaning = np.eye(len(self.rows))[[self.where[s][0] for s in sentences]]
        language = np.eye(3)[[self.languages.index(self.where[s][1]) for s in sentences]]
        return {"layer0": language + 0.1 * rng.normal(size=language.shape), "pooled": meaning}


def oracle_rows(n=40):
    rows = []
    for i in range(n):
        row = {ROW_ID: str(i), "en": f"Open file number {i} %s", "fr": f"Ouvrir le fichier {i} %s",
               "de": f"Die Datei {i} jetzt öffnen"}
        if i % 4 == 0:
            del row["fr"]  # rows with gaps: each direction is scored on its own rows
        rows.append(row)
    return rows


def test_directions_retrieval_and_probe_of_a_perfect_model():
    from interlingua.evaluate.probes import evaluate_probes
    from interlingua.evaluate.retrieval import evaluate_retrieval
    from interlingua.evaluate.translation import score_direction, translate_directions
    from interlingua.evaluate.vectors import LayerVectors
    rows = oracle_rows()
    oracle = Oracle(rows)
    directions = translate_directions(oracle, rows, oracle.languages, {"en>fr", "fr>en", "en>de", "de>en"},
                                      max_sentences=20, progress=False)
    entries = {(e["src"], e["tgt"]): e for e in map(score_direction, directions)}
    assert len(entries) == 6
    assert all(e["chrf"] == pytest.approx(100) and e["bleu"] == pytest.approx(100) for e in entries.values())
    assert entries[("fr", "de")]["kind"] == "zero-shot" and entries[("fr", "de")]["pivot_chrf"] == pytest.approx(100)
    assert "pivot_chrf" not in entries[("en", "fr")]
    assert entries[("en", "fr")]["sentences"] == 15      # the first 20 rows with English, 5 lack French
    assert entries[("fr", "de")]["sentences"] == 20      # the first 20 rows with French
    assert entries[("en", "de")]["placeholder_kept"] == 0.0 and entries[("en", "fr")]["placeholder_kept"] == 1.0
    assert oracle.translated == 20 * 3 + 20 * 2  # each source once, plus the second leg of fr>en>de and de>en>fr
    vectors = LayerVectors(oracle)
    retrieval, by_layer, used = evaluate_retrieval(vectors, rows, oracle.languages, progress=False)
    assert retrieval["fr"]["xsim_error"] == 0 and retrieval["de"]["xsim_error_margin"] == 0
    assert retrieval["fr"]["sentences"] == 30 and len(used["de"]) == 40
    assert by_layer["pooled"] == 1.0 and by_layer["layer0"] < 0.2
    probe, chance = evaluate_probes(vectors, rows, oracle.languages, progress=False)
    assert chance == pytest.approx(1 / 3)
    assert probe["layer0"] == 1.0 and probe["pooled"] == pytest.approx(chance, abs=0.1)


# ----------------------------------------------------------------------------- the whole evaluation

@pytest.fixture(scope="module")
def evaluation(tiny_run, corpus_path):
    from interlingua.evaluate.run import run_evaluation
    with one_thread():
        return run_evaluation(tiny_run, corpus_path.with_name("corpus.test.jsonl"), baselines=True,
                              max_sentences=20, progress=False)


def _finite(value):
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_every_direction_once_with_its_kind(evaluation, tiny_run):
    langs = ["en", "fr", "de", "es"]
    pairs = [(e["src"], e["tgt"]) for e in evaluation["directions"]]
    assert sorted(pairs) == sorted((s, t) for s in langs for t in langs if s != t)
    trained = set(json.loads((tiny_run / "run.json").read_text())["trained_directions"])
    for e in evaluation["directions"]:
        assert e["kind"] == ("supervised" if f"{e['src']}>{e['tgt']}" in trained else "zero-shot")
        assert 0 < e["sentences"] <= 20
        assert _finite({k: e[k] for k in ("bleu", "chrf", "tm_chrf")})
        assert ("pivot_chrf" in e) == (e["kind"] == "zero-shot" and "en" not in (e["src"], e["tgt"]))
    by_pair = {(e["src"], e["tgt"]): e for e in evaluation["directions"]}
    assert by_pair[("en", "fr")]["kind"] == "supervised"
    assert by_pair[("fr", "de")]["kind"] == "zero-shot" and _finite(by_pair[("fr", "de")]["pivot_chrf"])


def test_schema_of_the_result(evaluation):
    assert set(evaluation["sacrebleu"]) >= {"chrf", "bleu"}
    assert evaluation["beam"] == 1 and evaluation["checkpoint"] == "best"
    assert set(evaluation["retrieval"]) == {"fr", "de", "es"}
    for r in evaluation["retrieval"].values():
        assert _finite({k: r[k] for k in ("xsim_error", "xsim_error_reverse", "xsim_error_margin",
                                          "xsim_error_baseline")})
        assert all(0 <= r[k] <= 1 for k in ("xsim_error", "xsim_error_margin", "xsim_error_baseline"))
    s = evaluation["summary"]
    for key in ("supervised_chrf", "zero_shot_chrf", "pivot_chrf", "tm_chrf", "xsim_error", "xsim_error_margin",
                "xsim_error_baseline", "langid_probe", "langid_chance", "retrieval_by_layer"):
        assert _finite(s[key]), key
    assert "placeholder_kept" in s and (s["placeholder_kept"] is None or 0 <= s["placeholder_kept"] <= 1)
    layers = ["layer0", "layer1", "thought", "pooled"]  # the tiny model has one encoder layer
    assert list(s["langid_probe"]) == layers and list(s["retrieval_by_layer"]) == layers
    assert list(s["langid_probe_mlp"]) == layers and _finite(s["langid_probe_mlp"])
    removal = s["language_removal"]  # fitted on the run's training split: the tiny run has one
    assert removal["applied_by_embed"] == "project" and removal["directions"] == 3  # 4 languages span 3
    for method in ("center", "project"):
        assert _finite(removal[method]), removal
    assert s["langid_chance"] == pytest.approx(0.25)
    assert s["retrieval_by_layer"]["pooled"] == pytest.approx(1 - s["xsim_error"])
    assert json.loads(json.dumps(evaluation)) == evaluation  # JSON-ready as it is


def test_summary_reads_and_result_writes(evaluation, tmp_path):
    from interlingua.evaluate.run import format_summary, write_result
    text = format_summary(evaluation)
    for needle in ("chrF by direction", "zero-shot through en", "translation memory", "xsim", "layer0", "sacrebleu"):
        assert needle in text
    write_result(evaluation, tmp_path / "eval.json")
    assert json.loads((tmp_path / "eval.json").read_text()) == evaluation
    assert not list(tmp_path.glob("*.tmp"))


def test_pooled_layer_vectors_are_the_embeddings(tiny_run):
    from interlingua.api import Translator
    translator = Translator.load(tiny_run)
    sentences = ["Open file", "Ouvrir le fichier", "Datei öffnen schnell"]
    assert np.allclose(translator.layer_vectors(sentences)["pooled"], translator.embed(sentences), atol=1e-5)


def test_unknown_language_is_a_warning_not_an_error(tiny_run, corpus_path, tmp_path, caplog):
    from interlingua.evaluate.run import run_evaluation
    rows = read_corpus(corpus_path.with_name("corpus.test.jsonl"))[:8]
    write_corpus([{**row, "xx": "blah " + row["en"]} for row in rows], tmp_path / "test.jsonl")
    with caplog.at_level(logging.WARNING), one_thread():
        result = run_evaluation(tiny_run, tmp_path / "test.jsonl", max_sentences=4, progress=False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "xx" in r.getMessage()]
    assert len(warnings) == 1
    assert all("xx" not in (e["src"], e["tgt"]) for e in result["directions"])
    assert "xx" not in result["retrieval"] and "tm_chrf" not in result["summary"]


def test_bad_inputs_are_one_line_errors(tiny_run, tmp_path):
    from interlingua.evaluate.run import run_evaluation
    with pytest.raises(InterlinguaError, match="no such file"):
        run_evaluation(tiny_run, tmp_path / "missing.jsonl", progress=False)
    with pytest.raises(InterlinguaError, match="no such run folder"):
        run_evaluation(tmp_path / "no-run", tmp_path / "missing.jsonl", progress=False)
    write_corpus([{ROW_ID: "1", "en": "Hello", "xx": "Hallo"}], tmp_path / "other.jsonl")
    with pytest.raises(InterlinguaError, match="two languages this model knows"):
        run_evaluation(tiny_run, tmp_path / "other.jsonl", progress=False)


def test_cli_json_to_stdout_and_plots(tiny_run, corpus_path, tmp_path):
    import matplotlib.image
    from conftest import run_cli
    result = run_cli("evaluate", "--model", str(tiny_run), "--data", str(corpus_path.with_name("corpus.test.jsonl")),
                     "--max-sentences", "6", "--json", "-", "--plot", str(tmp_path / "plots"), "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)  # stdout is the JSON alone...
    assert {"model", "data", "sacrebleu", "directions", "summary"} <= set(data)
    assert "chrF by direction" in result.stderr.decode()  # ...and the tables went to stderr
    for name in ("directions.png", "depth.png"):
        png = tmp_path / "plots" / name
        assert png.read_bytes().startswith(b"\x89PNG")
        assert matplotlib.image.imread(png).ndim == 3
    assert not (tiny_run / "eval.json.tmp").exists()


def test_cli_rejects_empty_and_one_language_test_files(tiny_run, tmp_path):
    from conftest import assert_clean_error, run_cli
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert_clean_error(run_cli("evaluate", "--model", str(tiny_run), "--data", str(empty)), str(empty), "no usable rows")
    one = tmp_path / "english.jsonl"
    write_corpus([{ROW_ID: str(i), "en": f"Open file {i}"} for i in range(5)], one)
    # One language: nothing to translate, retrieve or probe. An error, not an empty result.
    assert_clean_error(run_cli("evaluate", "--model", str(tiny_run), "--data", str(one)), str(one))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "en": "a", "fr": "b"}\n{"id": "2", "en": \n')
    assert_clean_error(run_cli("evaluate", "--model", str(tiny_run), "--data", str(bad)), f"{bad}:2")
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    assert_clean_error(run_cli("evaluate", "--model", str(tiny_run), "--data", str(bad), "--plot", str(not_dir)),
                       "not a directory")


def test_evaluate_without_data_reads_the_run_test_split_and_writes_nothing_beside_the_corpus(made_up_run,
                                                                                              made_up_corpus, tmp_path):
    """The test split of the run's corpus is found by corpus.split.run_split; where the corpus has no saved
    split it is made again in memory (evaluate once wrote corpus.test.jsonl into the user's folder)."""
    import shutil
    from interlingua.files import read_json, write_json
    from interlingua.cli import main
    from interlingua.corpus.split import load_split
    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(made_up_run, run)
    data.mkdir()
    shutil.copy(made_up_corpus, data / "corpus.jsonl")  # no splits beside it
    record = read_json(run / "run.json")
    write_json(run / "run.json", {**record, "data": str(data / "corpus.jsonl")})
    with one_thread():
        assert main(["evaluate", "--model", str(run), "--max-sentences", "2", "--json", str(tmp_path / "e.json"),
                     "--quiet"]) == 0
    assert sorted(p.name for p in data.iterdir()) == ["corpus.jsonl"]
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["data"] == f"{data / 'corpus.jsonl'} (test split)"
    assert load_split(data / "corpus.jsonl", "test")  # there was a test split to evaluate
    # with the saved split beside it, that file is named
    with one_thread():
        assert main(["evaluate", "--model", str(made_up_run), "--max-sentences", "2", "--json",
                     str(tmp_path / "f.json"), "--quiet"]) == 0
    assert json.loads((tmp_path / "f.json").read_text())["data"] == str(made_up_corpus.with_name("corpus.test.jsonl"))
