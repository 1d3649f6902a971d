"""Placeholders that must survive translation: ``%s``, ``%(name)s``, ``{0}``, ``%1$s``, ``<b>``, ``&amp;``.

A translation that drops or invents one crashes the program that prints it (printf) or shows
garbage, so the check is strict: the translation must hold exactly the source's multiset.
Two numbers say how well a model does (issue 12 sets ≥ 99% and ≤ 5% as goals):

* **kept in the raw output**: of the placeholders of test sources that have any, the share the
  model's own translation holds (each placeholder counted as often as the source has it), and the
  share of such sentences whose translation holds exactly their multiset;
* **left empty by translate-file**: the test's English messages that have placeholders, written
  as a POT and drafted by ``translate-file`` into each language the model learned from English:
  the share of entries left empty because the draft's placeholders differ (``left_empty_placeholders``).
"""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from ..placeholders import tokens


def placeholder_counts(sources: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(kept, total): of the sources that contain placeholders, how many translations keep exactly them."""
    kept = total = 0
    for source, hypothesis in zip(sources, hypotheses, strict=True):
        wanted = Counter(tokens(source))
        if wanted:
            total += 1
            kept += Counter(tokens(hypothesis)) == wanted
    return kept, total


def placeholder_kept(sources: list[str], hypotheses: list[str]) -> float | None:
    """Fraction of placeholder-bearing sources whose translation keeps them all; None when there are none."""
    kept, total = placeholder_counts(sources, hypotheses)
    return kept / total if total else None


def placeholder_tokens(sources: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(kept, total) placeholders: each placeholder of a source counts once per occurrence, kept as often
    as the translation holds it (an invented extra one is caught by :func:`placeholder_counts`)."""
    kept = total = 0
    for source, hypothesis in zip(sources, hypotheses, strict=True):
        wanted, got = Counter(tokens(source)), Counter(tokens(hypothesis))
        total += sum(wanted.values())
        kept += sum((wanted & got).values())
    return kept, total


def translate_file_empty(translator, messages: list[str], targets: list[str], beam: int = 1) -> dict:
    """Draft ``messages`` (English, as POT entries) into ``targets`` with translate-file; its counts.

    Returns ``entries`` (messages × targets), ``left_empty`` and ``left_empty_placeholders`` (entries
    and shares), the same numbers a user's ``translate-file`` run reports.
    """
    import polib

    from ..localize import translate_file
    messages = list(dict.fromkeys(messages))
    entries = len(messages) * len(targets)
    out = {"entries": entries, "left_empty": 0, "left_empty_placeholders": 0,
           "left_empty_share": None, "left_empty_placeholders_share": None}
    if not entries:
        return out
    with tempfile.TemporaryDirectory() as folder:
        pot = polib.POFile()
        pot.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
        for message in messages:
            pot.append(polib.POEntry(msgid=message, msgstr=""))
        path = Path(folder) / "heldout.pot"
        pot.save(str(path))
        counts = translate_file(path, translator, targets, Path(folder) / "out", beam=beam, progress=False)
    out["left_empty"], out["left_empty_placeholders"] = counts["left_empty"], counts["left_empty_placeholders"]
    out["left_empty_share"] = counts["left_empty"] / entries
    out["left_empty_placeholders_share"] = counts["left_empty_placeholders"] / entries
    return out


def placeholder_summary(directions, rows: list[dict[str, str]], trained: set[str], translator, *,
                        beam: int = 1, max_sentences: int | None = None) -> dict:
    """Both numbers of the module docstring for an evaluation's translated ``directions`` and test ``rows``."""
    sentences = kept_sentences = kept = total = 0
    for d in directions:
        k, t = placeholder_counts(d.sources, d.hypotheses)
        kept_sentences, sentences = kept_sentences + k, sentences + t
        k, t = placeholder_tokens(d.sources, d.hypotheses)
        kept, total = kept + k, total + t
    messages = [row["en"] for row in rows if "en" in row and tokens(row["en"])][:max_sentences]
    targets = [lang for lang in translator.languages if f"en>{lang}" in trained]
    return {"placeholders": total, "kept": kept / total if total else None,
            "sentences": sentences, "sentences_kept": kept_sentences / sentences if sentences else None,
            "translate_file": translate_file_empty(translator, messages, targets, beam)}
