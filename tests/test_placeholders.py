"""Placeholders survive by construction: masked in training, masked and constrained in translation,
put back after; runs saved before masking existed translate as they did."""
import json
import random
from collections import Counter

import pytest
import torch

from interlingua.corpus.formats import ROW_ID
from interlingua.api import Translator
from interlingua.config import RunConfig, load_config
from interlingua.data import tokenise_rows
from interlingua.placeholders import MASKS, drop_invented, mask, target_order, tokens, unmask
from interlingua.search import MaskConstraint, beam_search, greedy

from conftest import one_thread, tiny_model

MESSAGES = [
    "Delete %(name)s from {count} folders?",
    "Copy %1$s to %2$s",
    "%s: %d files in %s",
    "Click <b>Save</b> to keep &amp; close",
    "100% done, %s left",          # "% d" running into a word is prose, not a directive
    "Use {} or {0}",
    '<a href="https://example.org">Help</a> (%.2f MB)',
]


@pytest.mark.parametrize("message", MESSAGES)
def test_mask_round_trip(message):
    masked, originals = mask(message)
    assert originals == tokens(message) and not tokens(masked)
    assert [m for m in MASKS if m in masked] == list(MASKS[:len(originals)])  # numbered by order of appearance
    assert unmask(masked, originals) == message


# C's length modifiers (l, ll, h, hh, j, z, t, L) and glibc's %m (strerror(errno), no argument)
C_DIRECTIVES = ["%lu", "%ld", "%lx", "%zu", "%zd", "%lld", "%llu", "%hhd", "%hu", "%jd", "%td", "%Lf", "%5lu",
                "%-8zu", "%1$lu", "%m"]


@pytest.mark.parametrize("directive", C_DIRECTIVES)
def test_c_length_modifiers_and_glibc_m_are_one_placeholder(directive):
    message = f"Read {directive} bytes: %s"
    assert tokens(message) == [directive, "%s"]
    masked, originals = mask(message)
    assert masked == "Read ⦅ph0⦆ bytes: ⦅ph1⦆" and originals == [directive, "%s"]
    assert unmask(masked, originals) == message


def test_prose_percent_is_not_masked():
    masked, originals = mask("100% done, %s left")
    assert masked == "100% done, ⦅ph0⦆ left" and originals == ["%s"]


def test_the_corpus_cleaner_reads_placeholders_as_their_owner_does():
    """"100% ok" is prose to placeholders.py; the cleaner once read "% o" as a printf octal directive,
    took the words away with it and dropped the message as format-only."""
    from interlingua.corpus.clean import is_text
    assert tokens("100% ok") == [] and is_text("100% ok")
    assert not is_text("%s: %d") and not is_text("100% %s")


@pytest.mark.parametrize("message, directive", [("Wrote %<PRIu64> bytes to %s", "%<PRIu64>"),
                                                ("Offset %08<PRIx64> of %s", "%08<PRIx64>"),
                                                ("%1$<PRId32> of %s", "%1$<PRId32>"),
                                                ("pointer %<PRIxPTR> of %s", "%<PRIxPTR>")])
def test_inttypes_macros_as_a_catalog_spells_them_are_one_placeholder(message, directive):
    """xgettext writes C's "%" PRIu64 as %<PRIu64>: the % and the macro are one directive, not a % and a tag."""
    assert tokens(message) == [directive, "%s"]
    masked, originals = mask(message)
    assert masked.count("⦅ph") == 2 and "%" not in masked and unmask(masked, originals) == message


def test_inttypes_macros_as_c_source_spells_them_are_text():
    """The source's spelling never reaches a catalog (xgettext rewrites it), so its quotes and macro are text."""
    assert tokens('Wrote %" PRIu64 " bytes') == []


def test_placeholders_a_masked_source_never_had_are_dropped():
    assert drop_invented("⦅ph0⦆ fichiers %3$s{count} ici", []) == "⦅ph0⦆ fichiers ici"
    assert drop_invented("a %s b %s", ["%s"]) == "a %s b"
    assert drop_invented("plain  text", []) == "plain  text"  # nothing dropped: untouched


def test_target_order_follows_the_source_even_when_the_target_reorders():
    assert target_order(["%(a)s", "{count}", "%1$s"], ["%1$s", "%(a)s", "{count}"]) == [2, 0, 1]
    # the k-th "%s" of the target takes the k-th "%s" of the source: printf order is kept
    assert target_order(["%s", "%d", "%s"], ["%s", "%s", "%d"]) == [0, 2, 1]
    assert target_order(["%s", "%s"], ["%s"]) is None        # a dropped one: the pair keeps its text
    assert target_order(["%s"], ["%d"]) is None


# ----------------------------------------------------------------------------- synthetic data and a tiny run

WORDS = {"open": "ouvrir", "close": "fermer", "file": "fichier", "folder": "dossier", "delete": "supprimer",
         "save": "enregistrer", "copy": "copier", "move": "déplacer", "user": "utilisateur", "disk": "disque",
         "new": "nouveau", "name": "nom", "size": "taille", "error": "erreur", "page": "page", "print": "imprimer"}
SLOTS = ["%s", "%d", "%(name)s", "{count}", "%1$s", "%2$s", "<b>", "</b>", "&amp;", "{0}", "%u"]


def synthetic_rows(n: int, seed: int) -> list[dict[str, str]]:
    """English-French pairs, word for word, with 0-3 placeholders at the same places on both sides."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = rng.sample(sorted(WORDS), rng.randint(2, 5))
        en, fr = list(words), [WORDS[w] for w in words]
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            at, slot = rng.randint(0, len(en)), rng.choice(SLOTS)
            en.insert(at, slot)
            fr.insert(at, slot)
        rows.append({ROW_ID: str(i), "en": " ".join(en), "fr": " ".join(fr)})
    return rows


def write_synthetic_corpus(folder, rows):
    from interlingua.corpus.formats import write_corpus
    from interlingua.corpus.split import split_rows, write_splits
    path = folder / "corpus.jsonl"
    write_corpus(rows, path, "jsonl")
    write_splits(path, split_rows(rows, dev=20, test=60, seed=1))
    return path


@pytest.fixture(scope="module")
def synthetic_corpus(tmp_path_factory):
    return write_synthetic_corpus(tmp_path_factory.mktemp("synthetic"), synthetic_rows(600, seed=0))


@pytest.fixture(scope="module")
def masked_run(synthetic_corpus, tmp_path_factory):
    """The tiny preset, 80 steps on the synthetic pairs: far too little to copy placeholders reliably."""
    from interlingua.train import train
    out = tmp_path_factory.mktemp("runs") / "masked"
    with one_thread():
        train(synthetic_corpus, out, load_config("tiny", ["max_steps=80", "eval_every=80", "languages=en,fr"]))
    return out


@pytest.fixture(scope="module")
def heldout(synthetic_corpus):
    from interlingua.corpus.split import load_split
    return [row for row in load_split(synthetic_corpus, "test") if tokens(row["en"])]


def test_training_pairs_are_masked_only_where_both_sides_match(masked_run):
    tokenizer = Translator.load(masked_run).tokenizer
    assert len(tokenizer.mask_ids) == len(MASKS)
    assert all(i in tokenizer.encode([f"a{m}b"])[0] for i, m in zip(tokenizer.mask_ids, MASKS))  # one piece each
    rows = [{"en": "Copy %(src)s to %(dst)s (%d files)", "fr": "Copier %d fichiers de %(src)s vers %(dst)s"},
            {"en": "Delete %s", "fr": "Supprimer"},
            {"en": "open file", "fr": "ouvrir fichier"}]
    tokenised = tokenise_rows(rows, tokenizer, ["en", "fr"], 64, mask_placeholders=True)
    decode = tokenizer.decode
    src, tgt = tokenised.pair(0, "en", "fr")
    assert decode([src.tolist(), tgt.tolist()]) == ["Copy ⦅ph0⦆ to ⦅ph1⦆ (⦅ph2⦆ files)",
                                                    "Copier ⦅ph2⦆ fichiers de ⦅ph0⦆ vers ⦅ph1⦆"]
    src, tgt = tokenised.pair(0, "fr", "en")  # numbered by the source of each direction
    assert decode([src.tolist(), tgt.tolist()]) == ["Copier ⦅ph0⦆ fichiers de ⦅ph1⦆ vers ⦅ph2⦆",
                                                    "Copy ⦅ph1⦆ to ⦅ph2⦆ (⦅ph0⦆ files)"]
    src, tgt = tokenised.pair(1, "en", "fr")  # the translation dropped the placeholder: text kept
    assert decode([src.tolist(), tgt.tolist()]) == ["Delete %s", "Supprimer"]
    src, tgt = tokenised.pair(2, "en", "fr")
    assert decode([src.tolist(), tgt.tolist()]) == ["open file", "ouvrir fichier"]
    unmasked = tokenise_rows(rows, tokenizer, ["en", "fr"], 64, mask_placeholders=False)
    assert decode([unmasked.pair(0, "en", "fr")[0].tolist()]) == [rows[0]["en"]]


@pytest.mark.parametrize("beam", [1, 3])
def test_a_tiny_model_keeps_every_placeholder_of_held_out_messages(masked_run, heldout, beam):
    translator = Translator.load(masked_run)
    sources = [row["en"] for row in heldout]
    assert len(sources) >= 30 and sum(len(tokens(s)) for s in sources) >= 50
    with one_thread():
        outputs = translator.translate(sources, to="fr", beam=beam)
    for source, output in zip(sources, outputs):
        assert Counter(tokens(output)) == Counter(tokens(source)), (source, output)
        assert "⦅" not in output


def test_length_modified_directives_and_m_come_through_translation(masked_run):
    """Directives the synthetic corpus never had: masked, they are the same masks as any other."""
    translator = Translator.load(masked_run)
    sources = ["open %lu file", "error %m: delete %lld folder %zu", "copy %lx"]
    assert [tokens(s) for s in sources] == [["%lu"], ["%m", "%lld", "%zu"], ["%lx"]]
    with one_thread():
        outputs = translator.translate(sources, to="fr")
    for source, output in zip(sources, outputs):
        assert Counter(tokens(output)) == Counter(tokens(source)), (source, output)
        assert all(output.count(p) == 1 for p in tokens(source)), (source, output)


def test_the_constraint_is_what_keeps_them(masked_run, heldout):
    """Without the constraint this model, 80 steps old, loses or repeats placeholders: the test above is not luck."""
    translator = Translator.load(masked_run)
    translator._constraint = lambda chunk, originals: None  # the search as it was before
    sources = [row["en"] for row in heldout]
    with one_thread():
        outputs = translator.translate(sources, to="fr")
    assert sum(Counter(tokens(o)) != Counter(tokens(s)) for s, o in zip(sources, outputs)) > 0


# ----------------------------------------------------------------------------- the constraint in search

def count_masks(seq, ids):
    return Counter(t for t in seq if t in ids)


@pytest.mark.parametrize("max_len", [4, 12])
@pytest.mark.parametrize("beam", [1, 2, 4])
def test_search_writes_each_required_mask_once_and_no_other(beam, max_len):
    model = tiny_model()
    torch.manual_seed(1)
    thought = model.encode(torch.randint(4, 50, (6, 8)))
    lang = model.language_ids(["fr", "de", "en"] * 2)
    ids = torch.arange(20, 26)  # six token ids of the 50 play the masks
    required = torch.zeros(6, 6, dtype=torch.bool)
    for row, n in enumerate([0, 1, 2, 3, 4, 1]):
        required[row, :n] = True
    out = beam_search(model, thought, lang, max_len, beam=beam, masks=MaskConstraint(ids, required))
    for row, seq in enumerate(out):
        assert count_masks(seq, ids.tolist()) == Counter(ids[required[row]].tolist()), (row, seq)
        assert len(seq) <= max_len


@pytest.mark.parametrize("beam", [1, 3])
def test_printf_masks_come_out_in_the_source_order(beam):
    model = tiny_model()
    torch.manual_seed(3)
    thought = model.encode(torch.randint(4, 50, (8, 8)))
    lang = model.language_ids(["fr", "de"] * 4)
    ids = torch.arange(20, 24)
    required = torch.ones(8, 4, dtype=torch.bool)
    ordered = torch.tensor([[True, False, True, True]] * 8)  # "%s %(name)s %d %s": %(name)s may move
    out = beam_search(model, thought, lang, 12, beam=beam, masks=MaskConstraint(ids, required, None, ordered))
    for seq in out:
        written = [t for t in seq if t in ids.tolist()]
        assert sorted(written) == ids.tolist() and [t for t in written if t != 21] == [20, 22, 23]


def test_search_without_placeholders_is_unchanged():
    """Masks forbidden, nothing required: the same outputs as the unconstrained search wherever that
    one wrote no mask token (the scores are the model's own log-probabilities either way)."""
    model = tiny_model()
    torch.manual_seed(2)
    thought = model.encode(torch.randint(4, 50, (16, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"] * 4)
    ids = torch.arange(20, 26)
    for beam in (1, 4):
        free = beam_search(model, thought, lang, 10, beam=beam)
        constrained = beam_search(model, thought, lang, 10, beam=beam,
                                  masks=MaskConstraint(ids, torch.zeros(16, 6, dtype=torch.bool)))
        clean = [i for i, seq in enumerate(free) if not count_masks(seq, ids.tolist())]
        assert len(clean) >= 4
        assert [constrained[i] for i in clean] == [free[i] for i in clean]
        assert all(not count_masks(seq, ids.tolist()) for seq in constrained)
    assert greedy(model, thought, lang, 10) == beam_search(model, thought, lang, 10, beam=1)


# ----------------------------------------------------------------------------- old runs, config, measure

def test_config_flag_defaults_true_for_new_runs_and_false_for_saved_ones_without_it():
    assert load_config("tiny").train.mask_placeholders is True
    assert RunConfig.from_dict({"model": {}, "train": {}}).train.mask_placeholders is False
    assert RunConfig.from_dict({"train": {"mask_placeholders": True}}).train.mask_placeholders is True
    assert RunConfig.from_dict({"train.mask_placeholders": True}).train.mask_placeholders is True
    saved = RunConfig.from_dict(json.loads(json.dumps(load_config("tiny").to_dict())))
    assert saved.train.mask_placeholders is True


def test_a_run_saved_before_masking_translates_as_before(synthetic_corpus, heldout, tmp_path):
    """A run trained without masks, its config.json without the key (as every older run's): no masks anywhere."""
    from interlingua.train import train
    out = tmp_path / "old"
    with one_thread():
        train(synthetic_corpus, out, load_config("tiny", ["max_steps=10", "eval_every=10", "languages=en,fr",
                                                          "mask_placeholders=false"]))
    translator = Translator.load(out)
    assert translator.tokenizer.mask_ids == [] and translator.mask_ids == []
    sources = [row["en"] for row in heldout[:10]]
    before = translator.translate(sources, to="fr", beam=2)
    config = json.loads((out / "config.json").read_text())
    del config["train"]["mask_placeholders"]
    (out / "config.json").write_text(json.dumps(config))
    old = Translator.load(out)
    assert old.config.train.mask_placeholders is False
    assert old.translate(sources, to="fr", beam=2) == before
    # the tokenizer of an unmasked run is the one older code trained: no mask pieces
    assert all(len(old.tokenizer.encode([f"a{m}b"])[0]) > 4 for m in MASKS[:2])


def test_resume_keeps_the_runs_own_masking(masked_run, synthetic_corpus, tmp_path):
    from interlingua.train import prepare_run
    config = load_config("tiny", ["mask_placeholders=false"])
    run = prepare_run(synthetic_corpus, masked_run, config, True, False, corpus=None)
    assert run.config.train.mask_placeholders is True


def test_evaluate_reports_both_placeholder_numbers(masked_run, synthetic_corpus):
    from interlingua.evaluate.run import format_summary, run_evaluation
    with one_thread():
        result = run_evaluation(masked_run, synthetic_corpus.with_name("corpus.test.jsonl"), progress=False)
    p = result["summary"]["placeholders"]
    assert p["placeholders"] >= 50 and p["kept"] == 1.0 and p["sentences_kept"] == 1.0
    file = p["translate_file"]
    assert file["entries"] >= 20 and file["left_empty_placeholders"] == 0
    assert file["left_empty_placeholders_share"] == 0.0 <= file["left_empty_share"] <= 1.0
    text = format_summary(result)
    assert "placeholders kept in the raw output: 100.0%" in text and "left empty for their placeholders" in text
