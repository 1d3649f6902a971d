"""Translator's contract beyond translation itself (what its callers read after a call)."""
from interlingua.api import Translator


def test_truncation_counts_the_users_input_not_the_english_between(tiny_run):
    """With a pivot, the second leg reads the English outputs; the warning (translator.truncated) must be about
    the lines the user gave, not about those texts: a long input is counted even when its English is short."""
    translator = Translator.load(tiny_run)
    translator.max_len = 12  # inputs of more than 12 pieces are cut
    long = [" ".join(["file"] * 30)]
    english = translator.translate(long, to="en", max_len=8)
    assert translator.truncated == 1
    translator.translate(english, to="fr")
    assert translator.truncated == 0  # the English between is within the limit: the second leg alone cuts nothing
    translator.translate(long, to="fr", pivot="en", max_len=8)
    assert translator.truncated == 1 and translator.input_cut == [True]
    translator.translate(["Open", ""], to="fr", pivot="en")
    assert translator.truncated == 0 and translator.input_cut == [False, False]
    translator.translate(long + ["", "   "], to="fr")
    assert translator.truncated == 1 and translator.input_cut == [True, False, False]
    translator.translate([""], to="fr")  # nothing to cut: not the count of the call before
    assert translator.truncated == 0 and translator.input_cut == [False]
