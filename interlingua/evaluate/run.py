"""``interlingua evaluate``: one call that measures a trained run on a test file, as a JSON-ready dict.

    result = run_evaluation("runs/base", "data/corpus.test.jsonl", baselines=True)
    print(format_summary(result))
    write_result(result, "runs/base/eval.json")

What each number means and how to read them together: docs/evaluation.md.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

from ..api import Translator
from ..checkpoint import checkpoint_label, resolve_checkpoint
from ..files import read_json, write_json
from ..corpus.formats import read_corpus
from ..corpus.split import run_split
from ..errors import InterlinguaError
from .metrics import bleu_tokenizer, signatures
from .placeholders import placeholder_summary
from .probes import PROBE_SENTENCES, evaluate_probes
from .retrieval import evaluate_retrieval
from .testset import Row, load_test_rows
from .translation import score_direction, translate_directions
from .vectors import LayerVectors, RemovedVectors

log = logging.getLogger("interlingua.evaluate")


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else None


def _training_rows(run: Path, record: dict, train_data: str | Path | None) -> list[dict[str, str]]:
    if train_data is not None:
        return read_corpus(train_data)
    found = run_split(run, "train")
    if found is None:
        raise InterlinguaError(f"{run / 'run.json'}: no training data recorded; pass the training corpus for the "
                               f"baselines")
    return found[0]


def language_removal_effect(translator, run: Path, vectors: LayerVectors, rows: list[Row], languages: list[str], *,
                            max_sentences: int | None, per_language: int, progress: bool) -> dict | None:
    """Retrieval and both probes on the pooled vectors after each language-removal method, on the same rows.

    The statistics are the run's ``language_removal.safetensors`` when it has one, else fitted here on the
    run's training meanings (and not written). None when there is neither.
    """
    from ..language_removal import FILE, fit_run
    removal, source = translator.language_removal, str(run / FILE)
    if removal is None:
        try:
            removal, source = fit_run(translator, run), "fitted for this evaluation on the run's training split"
        except InterlinguaError as exc:
            log.warning("no language removal measured: %s", exc)
            return None
    effect = {"source": source, "meanings": removal.meanings, "directions": int(removal.directions.shape[0]),
              "applied_by_embed": "project"}
    for method in ("center", "project"):
        removed = RemovedVectors(vectors, removal, method)
        retrieval, _, _ = evaluate_retrieval(removed, rows, languages, max_sentences=max_sentences, progress=False)
        effect[method] = {"xsim_error": _mean(r["xsim_error"] for r in retrieval.values()),
                          "xsim_error_margin": _mean(r["xsim_error_margin"] for r in retrieval.values())}
        for kind, key in (("linear", "langid_probe"), ("mlp", "langid_probe_mlp")):
            probe, _ = evaluate_probes(removed, rows, languages, per_language=per_language, progress=progress,
                                       kind=kind)
            effect[method][key] = probe.get("pooled")
    return effect


def _sacrebleu_signatures(languages: list[str]) -> dict[str, str]:
    """chrF's signature, BLEU's with the 13a tokenizer, and ``bleu:<lang>`` for targets tokenised otherwise."""
    out = signatures("")
    for lang in languages:
        if bleu_tokenizer(lang) != bleu_tokenizer(""):
            out[f"bleu:{lang}"] = signatures(lang)["bleu"]
    return out


def run_evaluation(run: str | Path, data: str | Path | None = None, *, beam: int = 1, baselines: bool = False,
                   train_data: str | Path | None = None, max_sentences: int | None = None,
                   checkpoint: str = "best", progress: bool = True, translation: bool = True) -> dict:
    """Translate, retrieve and probe the test rows of ``data`` with the run's model; the result as a dict.

    ``data``: a test file in any corpus format; None: the test split of the corpus the run was trained on.

    ``max_sentences`` caps the test rows per source language (the first ones in id order);
    ``baselines`` adds the translation-memory and character-n-gram baselines, built from
    ``train_data`` or else from the training split of the corpus the run was trained on.
    ``translation=False`` measures only the vectors (retrieval, probes, language removal): seconds, not minutes.
    """
    if beam < 1:
        raise InterlinguaError(f"beam must be at least 1 (got {beam})")
    if max_sentences is not None and max_sentences < 1:
        raise InterlinguaError(f"max_sentences must be at least 1 (got {max_sentences})")
    run = Path(run)
    translator = Translator.load(run, checkpoint)
    record = read_json(run / "run.json")
    trained = set(record.get("trained_directions", []))
    rows, languages, data = load_test_rows(data, translator.languages, run)

    directions = translate_directions(translator, rows, languages, trained, beam=beam,
                                      max_sentences=max_sentences, progress=progress) if translation else []
    entries = [score_direction(d) for d in directions]

    vectors = LayerVectors(translator)
    retrieval, by_layer, retrieval_used = evaluate_retrieval(vectors, rows, languages, max_sentences=max_sentences,
                                                             progress=progress)
    per_language = min(max_sentences or PROBE_SENTENCES, PROBE_SENTENCES)
    probe, chance = evaluate_probes(vectors, rows, languages, progress=progress, per_language=per_language)
    probe_mlp, _ = evaluate_probes(vectors, rows, languages, progress=progress, per_language=per_language, kind="mlp")
    removal = language_removal_effect(translator, run, vectors, rows, languages, max_sentences=max_sentences,
                                      per_language=per_language, progress=progress) if retrieval else None

    if baselines:
        from ..memory import TranslationMemory
        from .baselines import CharNgramRetrieval, by_match_band, outputs_chrf, translation_memory_outputs
        train_rows = _training_rows(run, record, train_data)
        tm = translation_memory_outputs(TranslationMemory(train_rows), directions, progress=progress)
        tm_chrf = outputs_chrf(directions, tm)
        for entry in entries:
            entry["tm_chrf"] = tm_chrf.get((entry["src"], entry["tgt"]))
        match_bands = by_match_band(directions, tm)
        if retrieval:
            features = CharNgramRetrieval(train_rows, languages)
            for lang, chosen in retrieval_used.items():
                retrieval[lang]["xsim_error_baseline"] = features.xsim_error(
                    lang, [rows[i][lang] for i in chosen], [rows[i]["en"] for i in chosen])

    placeholders = (placeholder_summary(directions, rows, trained, translator, beam=beam, max_sentences=max_sentences)
                    if translation else {"sentences": 0, "sentences_kept": None})
    of_kind = {kind: [e for e in entries if e["kind"] == kind] for kind in ("supervised", "zero-shot")}
    summary = {
        "supervised_chrf": _mean(e["chrf"] for e in of_kind["supervised"]),
        "supervised_bleu": _mean(e["bleu"] for e in of_kind["supervised"]),
        "zero_shot_chrf": _mean(e["chrf"] for e in of_kind["zero-shot"]),
        "zero_shot_bleu": _mean(e["bleu"] for e in of_kind["zero-shot"]),
        "pivot_chrf": _mean(e.get("pivot_chrf") for e in of_kind["zero-shot"]),
        "pivot_bleu": _mean(e.get("pivot_bleu") for e in of_kind["zero-shot"]),
        "xsim_error": _mean(r["xsim_error"] for r in retrieval.values()),
        "xsim_error_reverse": _mean(r["xsim_error_reverse"] for r in retrieval.values()),
        "xsim_error_margin": _mean(r["xsim_error_margin"] for r in retrieval.values()),
        "langid_probe": probe,
        "langid_probe_mlp": probe_mlp,
        "langid_chance": chance,
        "language_removal": removal,
        "retrieval_by_layer": by_layer,
        "placeholder_kept": placeholders["sentences_kept"],
        "placeholder_sentences": placeholders["sentences"],
        "placeholders": placeholders,
    }
    if baselines:
        summary["tm_chrf"] = _mean(e["tm_chrf"] for e in entries)
        summary["by_match"] = match_bands
        summary["xsim_error_baseline"] = _mean(r.get("xsim_error_baseline") for r in retrieval.values())
    return {"model": str(run), "data": str(data), "checkpoint": checkpoint,
            "step": resolve_checkpoint(run, checkpoint), "beam": beam, "max_sentences": max_sentences,
            "languages": languages, "sacrebleu": _sacrebleu_signatures(languages),
            "directions": entries, "retrieval": retrieval, "summary": summary}


def write_result(result: dict, path: str | Path) -> None:
    """Write the result as indented JSON, atomically (a reader never sees half a file)."""
    write_json(path, result)


# ----------------------------------------------------------------------------- the human-readable report

def _num(value, scale: float = 1.0, width: int = 6, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value * scale:>{width}.{digits}f}"


def format_summary(result: dict) -> str:
    """Tables for the terminal: the chrF direction matrix, the means, retrieval and the layer probes."""
    s = result["summary"]
    label = checkpoint_label(result["model"], result["step"]) if "step" in result else "step ?"
    lines = [f"model {result['model']} (checkpoint {result['checkpoint']}: {label}), "
             f"data {result['data']}, beam {result['beam']}"]
    entries = result["directions"]
    langs = [lang for lang in result.get("languages", [])
             if any(lang in (e["src"], e["tgt"]) for e in entries)]
    if entries:
        by_pair = {(e["src"], e["tgt"]): e for e in entries}
        width = max(7, *(len(lang) + 2 for lang in langs))
        lines += ["", "chrF by direction (row: source, column: target; * trained, others zero-shot)",
                  " " * width + "".join(f"{lang:>{width}}" for lang in langs)]
        for src in langs:
            cells = []
            for tgt in langs:
                e = by_pair.get((src, tgt))
                cells.append(f"{'':>{width}}" if e is None else
                             f"{e['chrf']:>{width - 1}.1f}{'*' if e['kind'] == 'supervised' else ' '}")
            lines.append(f"{src:<{width}}" + "".join(cells))
    n_kind = {k: sum(e["kind"] == k for e in entries) for k in ("supervised", "zero-shot")}
    rows = [("supervised", s.get("supervised_chrf"), s.get("supervised_bleu"), n_kind["supervised"]),
            ("zero-shot", s.get("zero_shot_chrf"), s.get("zero_shot_bleu"), n_kind["zero-shot"]),
            ("zero-shot through en", s.get("pivot_chrf"), s.get("pivot_bleu"),
             sum("pivot_chrf" in e for e in entries))]
    if "tm_chrf" in s:
        rows.append(("translation memory", s["tm_chrf"], None, sum(e.get("tm_chrf") is not None for e in entries)))
    lines += ["", f"{'mean over directions':<24}{'chrF':>7}{'BLEU':>7}{'directions':>12}"]
    lines += [f"{name:<24}{_num(c, width=7)}{_num(b, width=7)}{n:>12}" for name, c, b, n in rows]
    for kind, bands in (s.get("by_match") or {}).items():
        lines += ["", f"{kind} chrF by how close the memory's best match is (fuzzy %)",
                  f"{'match':<10}{'model':>8}{'memory':>8}{'sentences':>11}"]
        lines += [f"{band:<10}{_num(b['chrf'], width=8)}{_num(b['tm_chrf'], width=8)}{b['sentences']:>11}"
                  for band, b in bands.items()]

    retrieval = result["retrieval"]
    if retrieval:
        base = "xsim_error_baseline" in s
        lines += ["", "retrieval: xsim error % (lower is better; chance is about 100)",
                  f"{'language':<10}{'X->en':>8}{'en->X':>8}{'margin':>8}" + (f"{'n-gram':>8}" if base else "")
                  + f"{'sentences':>11}"]
        items = list(retrieval.items()) + [("mean", {"xsim_error": s["xsim_error"],
                                                     "xsim_error_reverse": s.get("xsim_error_reverse"),
                                                     "xsim_error_margin": s["xsim_error_margin"],
                                                     "xsim_error_baseline": s.get("xsim_error_baseline")})]
        for lang, r in items:
            lines.append(f"{lang:<10}{_num(r['xsim_error'], 100, 8)}{_num(r.get('xsim_error_reverse'), 100, 8)}"
                         f"{_num(r['xsim_error_margin'], 100, 8)}"
                         + (_num(r.get("xsim_error_baseline"), 100, 8) if base else "")
                         + (f"{r['sentences']:>11}" if "sentences" in r else ""))
    probe, by_layer = s.get("langid_probe") or {}, s.get("retrieval_by_layer") or {}
    probe_mlp = s.get("langid_probe_mlp") or {}
    layers = list(dict.fromkeys([*probe, *by_layer]))
    if layers:
        lines += ["", f"by depth: language-ID probe accuracy on held-out meanings, linear and MLP (chance "
                      f"{_num(s.get('langid_chance'), 100, 0).strip()}%; lower = more language-free) and retrieval "
                      f"accuracy X->en (higher = more shared)",
                  f"{'layer':<10}{'lang-ID %':>11}{'MLP %':>8}{'retrieval %':>13}"]
        lines += [f"{layer:<10}{_num(probe.get(layer), 100, 11)}{_num(probe_mlp.get(layer), 100, 8)}"
                  f"{_num(by_layer.get(layer), 100, 13)}" for layer in layers]
    removal = s.get("language_removal")
    if removal:
        lines += ["", f"language removal on the pooled vectors ({removal['source']}; {removal['meanings']} training "
                      f"meanings per language; `embed` applies {removal['applied_by_embed']})",
                  f"{'vectors':<28}{'xsim %':>8}{'margin %':>10}{'lang-ID %':>11}{'MLP %':>8}"]
        before = {"xsim_error": s.get("xsim_error"), "xsim_error_margin": s.get("xsim_error_margin"),
                  "langid_probe": probe.get("pooled"), "langid_probe_mlp": probe_mlp.get("pooled")}
        names = {"center": "minus language mean", "project": f"{removal['directions']} directions projected out"}
        for name, r in [("as the model makes them", before)] + [(names[m], removal[m]) for m in names]:
            lines.append(f"{name:<28}{_num(r['xsim_error'], 100, 8)}{_num(r['xsim_error_margin'], 100, 10)}"
                         f"{_num(r['langid_probe'], 100, 11)}{_num(r['langid_probe_mlp'], 100, 8)}")
    if s.get("placeholder_sentences"):
        lines += ["", f"placeholders kept exactly: {_num(s['placeholder_kept'], 100, 0).strip()}% of "
                      f"{s['placeholder_sentences']} translations whose source has them"]
    p = s.get("placeholders") or {}
    if p.get("placeholders"):
        lines.append(f"placeholders kept in the raw output: {_num(p['kept'], 100, 0, 1).strip()}% of "
                     f"{p['placeholders']}")
    file = p.get("translate_file") or {}
    if file.get("entries"):
        lines.append(f"translate-file on the {file['entries']} held-out entries with placeholders: "
                     f"{_num(file['left_empty_placeholders_share'], 100, 0, 1).strip()}% left empty for their "
                     f"placeholders ({_num(file['left_empty_share'], 100, 0, 1).strip()}% left empty in all)")
    lines += ["", "sacrebleu: " + "; ".join(f"{k} {v}" for k, v in result["sacrebleu"].items())]
    return "\n".join(lines)
