"""Placeholders that must survive translation: ``%s``, ``%(name)s``, ``{0}``, ``%1$s``, ``<b>``, ``&amp;``.

A translation that drops or invents one crashes the program that prints it (printf) or shows
garbage, so the check is strict: the translation must hold exactly the source's multiset.
"""
from __future__ import annotations

from ..corpus.clean import placeholders


def placeholder_counts(sources: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(kept, total): of the sources that contain placeholders, how many translations keep exactly them."""
    kept = total = 0
    for source, hypothesis in zip(sources, hypotheses, strict=True):
        wanted = placeholders(source)
        if wanted:
            total += 1
            kept += placeholders(hypothesis) == wanted
    return kept, total


def placeholder_kept(sources: list[str], hypotheses: list[str]) -> float | None:
    """Fraction of placeholder-bearing sources whose translation keeps them all; None when there are none."""
    kept, total = placeholder_counts(sources, hypotheses)
    return kept / total if total else None
