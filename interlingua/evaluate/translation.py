"""The direction matrix: every ordered pair of test languages, translated directly and (zero-shot) through English.

Work is grouped by source language: the rows having that language are translated into all
targets in one call, so each source sentence is encoded once (``Translator.translate`` decodes
one thought into every target). A direction is then scored on the rows that also have its target.
The pivot reuses the direct source -> English output as its first leg, which is exactly what
``translate(..., pivot="en")`` computes, without decoding into English twice.
"""
from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from .metrics import bleu, chrf
from .placeholders import placeholder_counts
from .testset import Row, first_rows

PIVOT = "en"


@dataclass
class Direction:
    """One direction's test rows (positions in the test list) and outputs."""
    src: str
    tgt: str
    kind: str                       # "supervised" or "zero-shot"
    rows: list[int]
    sources: list[str]
    references: list[str]
    hypotheses: list[str]
    pivot: list[str] | None = None  # source -> en -> target, for zero-shot directions


def direction_kind(src: str, tgt: str, trained: set[str] | list[str]) -> str:
    return "supervised" if f"{src}>{tgt}" in trained else "zero-shot"


def translate_directions(translator, rows: list[Row], languages: list[str], trained: set[str] | list[str], *,
                         beam: int = 1, max_sentences: int | None = None, progress: bool = True) -> list[Direction]:
    """Translate the test rows along every direction between ``languages`` that has rows."""
    trained = set(trained)
    can_pivot = PIVOT in translator.languages
    directions = []
    for src in tqdm(languages, desc="translating", unit="source language", disable=not progress):
        others = [lang for lang in languages if lang != src]
        chosen = [i for i in first_rows(rows, [src]) if any(lang in rows[i] for lang in others)][:max_sentences]
        targets = [lang for lang in others if any(lang in rows[i] for i in chosen)]
        if not targets:
            continue
        kinds = {tgt: direction_kind(src, tgt, trained) for tgt in targets}
        via = [tgt for tgt in targets if kinds[tgt] == "zero-shot" and can_pivot and PIVOT not in (src, tgt)]
        sources = [rows[i][src] for i in chosen]
        decode_to = list(dict.fromkeys(targets + ([PIVOT] if via else [])))
        outputs = translator.translate(sources, to=decode_to, beam=beam)
        pivots = translator.translate(outputs[PIVOT], to=via, beam=beam) if via else {}
        for tgt in targets:
            keep = [j for j, i in enumerate(chosen) if tgt in rows[i]]
            directions.append(Direction(
                src, tgt, kinds[tgt], [chosen[j] for j in keep], [sources[j] for j in keep],
                [rows[chosen[j]][tgt] for j in keep], [outputs[tgt][j] for j in keep],
                [pivots[tgt][j] for j in keep] if tgt in pivots else None))
    return directions


def score_direction(d: Direction) -> dict:
    """The JSON entry of one direction: BLEU and chrF, the pivot's when there is one, placeholders kept."""
    entry = {"src": d.src, "tgt": d.tgt, "kind": d.kind, "sentences": len(d.rows),
             "bleu": bleu(d.hypotheses, d.references, d.tgt), "chrf": chrf(d.hypotheses, d.references)}
    if d.pivot is not None:
        entry["pivot_bleu"] = bleu(d.pivot, d.references, d.tgt)
        entry["pivot_chrf"] = chrf(d.pivot, d.references)
    kept, total = placeholder_counts(d.sources, d.hypotheses)
    entry["placeholder_sentences"] = total
    entry["placeholder_kept"] = kept / total if total else None
    return entry
