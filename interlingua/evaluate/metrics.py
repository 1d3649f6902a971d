"""Translation metrics through sacrebleu, so every figure carries a standard, reproducible signature."""
from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF


def chrf(hypotheses: list[str], references: list[str]) -> float:
    return CHRF().corpus_score(hypotheses, [references]).score


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """One sentence's chrF (what a draft's calibration is fitted to; noisier than the corpus figure)."""
    return CHRF().sentence_score(hypothesis, [reference]).score


def bleu(hypotheses: list[str], references: list[str], target_lang: str = "") -> float:
    return BLEU(tokenize=bleu_tokenizer(target_lang)).corpus_score(hypotheses, [references]).score


def bleu_tokenizer(target_lang: str) -> str:
    """Character-aware tokenisation where words are not separated by spaces (mecab is not installed here)."""
    return {"zh": "zh", "ja": "char", "ko": "char", "th": "char"}.get(target_lang.split("-")[0], "13a")


def signatures(target_lang: str = "") -> dict[str, str]:
    """sacrebleu signatures of the chrF and BLEU used here (sacrebleu knows the reference count only after a score)."""
    chrf_metric, bleu_metric = CHRF(), BLEU(tokenize=bleu_tokenizer(target_lang))
    for metric in (chrf_metric, bleu_metric):
        metric.corpus_score(["a"], [["a"]])
    return {"chrf": str(chrf_metric.get_signature()), "bleu": str(bleu_metric.get_signature())}
