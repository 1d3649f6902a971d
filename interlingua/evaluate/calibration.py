"""``interlingua calibrate``: what a draft's confidence is worth, measured on held-out sentences.

    calibration, points = calibrate("runs/base", "data/corpus.test.jsonl", max_sentences=100)
    calibration.save("runs/base/calibration.json")      # Translator.load and translate-file read it

The first ``max_sentences`` test rows (in id order) of every direction source -> X are drafted with
the run's model (``Translator.drafts``), each draft is scored by its sentence chrF against the
human reference, and an isotonic curve is fitted from confidence to "chrF >= min_chrf"
(``confidence.Calibration``). How well it holds up is measured before the final fit, by two-fold
cross-validation (fit on the even rows, predict the odd ones, and back): the Brier score against
always predicting the base rate, the expected calibration error in ten equal-count bins, and the
AUC of the raw confidence (how well it ranks good drafts above bad ones, whatever the mapping).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..api import Translator
from ..confidence import Calibration
from ..corpus.formats import ROW_ID
from ..insight.report import _figure
from ..files import atomic_write_bytes
from .metrics import sentence_chrf
from .testset import first_rows, load_test_rows

log = logging.getLogger("interlingua.evaluate")

MIN_CHRF = 50.0
BINS = 10


def collect(translator: Translator, rows: list[dict[str, str]], targets: list[str], *, source: str = "en",
            max_sentences: int | None = 100, beam: int = 1, progress: bool = True) -> list[dict]:
    """One point per draft: direction, confidence and sentence chrF, for the first rows of each source -> target."""
    points = []
    for tgt in tqdm(targets, desc="drafting", unit="direction", disable=not progress):
        chosen = first_rows(rows, [source, tgt], max_sentences)
        drafts = translator.drafts([rows[i][source] for i in chosen], to=tgt, beam=beam)
        for i, draft in zip(chosen, drafts):
            points.append({"src": source, "tgt": tgt, "id": rows[i][ROW_ID], "confidence": draft.confidence,
                           "chrf": sentence_chrf(draft.text, rows[i][tgt])})
    return points


def _ece(predicted: np.ndarray, observed: np.ndarray) -> float:
    """Expected calibration error over equal-count bins: the mean gap between predicted and observed, weighted."""
    order = np.argsort(predicted)
    gaps = [abs(p.mean() - o.mean()) * len(p)
            for p, o in zip(np.array_split(predicted[order], BINS), np.array_split(observed[order], BINS)) if len(p)]
    return float(sum(gaps) / len(predicted))


def _auc(scores: np.ndarray, good: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(good, scores)) if 0 < good.sum() < len(good) else None


def held_out(points: list[dict], min_chrf: float = MIN_CHRF) -> tuple[dict, np.ndarray]:
    """Two-fold cross-validated measures of the calibration, and each point's held-out predicted chance."""
    conf = np.array([p["confidence"] for p in points])
    good = np.array([p["chrf"] >= min_chrf for p in points], dtype=float)
    predicted, base = np.zeros(len(points)), np.zeros(len(points))
    for fold in (0, 1):
        fit, test = np.arange(len(points)) % 2 != fold, np.arange(len(points)) % 2 == fold
        curve = Calibration.fit(conf[fit].tolist(), (good[fit] > 0).tolist(), min_chrf)
        predicted[test] = [curve.chance_of(c) for c in conf[test]]
        base[test] = good[fit].mean()
    by_direction = {}
    for tgt in dict.fromkeys(p["tgt"] for p in points):
        at = np.array([p["tgt"] == tgt for p in points])
        by_direction[f"{points[int(np.argmax(at))]['src']}>{tgt}"] = {
            "drafts": int(at.sum()), "mean_confidence": float(conf[at].mean()),
            "mean_chrf": float(np.mean([p["chrf"] for p, a in zip(points, at) if a])),
            "share_good": float(good[at].mean()), "mean_predicted": float(predicted[at].mean()),
            "auc": _auc(conf[at], good[at])}
    measured = {"drafts": len(points), "min_chrf": min_chrf, "share_good": float(good.mean()),
                "brier": float(np.mean((predicted - good) ** 2)), "brier_base_rate": float(np.mean((base - good) ** 2)),
                "ece": _ece(predicted, good), "auc": _auc(conf, good), "directions": by_direction,
                "how": "two-fold cross-validation: fit on even rows, predict odd ones, and back"}
    return measured, predicted


def calibrate(run: str | Path, data: str | Path | None, *, min_chrf: float = MIN_CHRF, max_sentences: int | None = 100,
              source: str = "en", beam: int = 1, checkpoint: str = "best",
              progress: bool = True) -> tuple[Calibration, list[dict]]:
    """Draft the held-out rows of ``data`` (None: the test split of the run's corpus) from ``source`` into
    every other language of the run, and fit.

    Returns the calibration (fitted on every point, with the cross-validated measures under ``measured``)
    and the points, each with its held-out ``predicted`` chance.
    """
    translator = Translator.load(run, checkpoint)
    rows, languages, _ = load_test_rows(data, translator.languages, run)
    targets = [lang for lang in languages if lang != source and first_rows(rows, [source, lang], 1)]
    points = collect(translator, rows, targets, source=source, max_sentences=max_sentences, beam=beam,
                     progress=progress)
    measured, predicted = held_out(points, min_chrf)
    for point, chance in zip(points, predicted):
        point["predicted"] = float(chance)
    measured.update({"data": str(data), "beam": beam, "max_sentences": max_sentences, "checkpoint": checkpoint})
    calibration = Calibration.fit([p["confidence"] for p in points], [p["chrf"] >= min_chrf for p in points],
                                  min_chrf, measured)
    return calibration, points


def plot(calibration: Calibration, points: list[dict], path: str | Path) -> None:
    """Three panels: sentence chrF against confidence, the fitted curve over binned shares, held-out reliability."""
    conf = np.array([p["confidence"] for p in points])
    chrf_ = np.array([p["chrf"] for p in points])
    good = chrf_ >= calibration.min_chrf
    predicted = np.array([p["predicted"] for p in points])
    fig = _figure(13, 4)
    scatter, curve, reliability = fig.subplots(1, 3)
    for tgt in dict.fromkeys(p["tgt"] for p in points):
        at = np.array([p["tgt"] == tgt for p in points])
        scatter.scatter(conf[at], chrf_[at], s=6, alpha=0.6, label=f"en→{tgt}")
    scatter.axhline(calibration.min_chrf, color="grey", lw=0.8, ls="--")
    scatter.set(xlabel="confidence (geometric-mean token probability)", ylabel="sentence chrF",
                title="each draft")
    scatter.legend(fontsize=7, markerscale=2)
    order = np.argsort(conf)
    bins = [(conf[i].mean(), good[i].mean(), len(i)) for i in np.array_split(order, BINS) if len(i)]
    curve.plot([b[0] for b in bins], [b[1] for b in bins], "o", label=f"share ≥ {calibration.min_chrf:g}, "
               f"{BINS} equal-count bins")
    curve.plot(calibration.confidence, calibration.chance, "-", label="isotonic fit (calibration.json)")
    curve.set(xlabel="confidence", ylabel=f"chance of chrF ≥ {calibration.min_chrf:g}", ylim=(-0.02, 1.02),
              title="the mapping")
    curve.legend(fontsize=7)
    order = np.argsort(predicted)
    bins = [(predicted[i].mean(), good[i].mean()) for i in np.array_split(order, BINS) if len(i)]
    reliability.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    reliability.plot([b[0] for b in bins], [b[1] for b in bins], "o-")
    m = calibration.measured
    reliability.set(xlabel="predicted chance (held out)", ylabel="observed share", xlim=(0, 1), ylim=(0, 1),
                    title=f"held out: ECE {m.get('ece', float('nan')):.3f}, Brier {m.get('brier', float('nan')):.3f} "
                    f"(base rate {m.get('brier_base_rate', float('nan')):.3f}), AUC {m.get('auc') or float('nan'):.2f}")
    reliability.title.set_fontsize(8)
    import io
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())


def format_summary(calibration: Calibration) -> str:
    m = calibration.measured
    lines = [f"{m['drafts']} drafts, {100 * m['share_good']:.0f}% with sentence chrF >= {m['min_chrf']:g}; held out "
             f"({m['how']}): Brier {m['brier']:.3f} (always the base rate: {m['brier_base_rate']:.3f}), "
             f"ECE {m['ece']:.3f}, AUC of the raw confidence {m['auc'] or float('nan'):.2f}"]
    for name, d in m["directions"].items():
        lines.append(f"  {name}: {d['drafts']} drafts, mean confidence {d['mean_confidence']:.2f}, mean chrF "
                     f"{d['mean_chrf']:.1f}, good {100 * d['share_good']:.0f}%, predicted {100 * d['mean_predicted']:.0f}%, "
                     f"AUC {d['auc'] if d['auc'] is not None else float('nan'):.2f}")
    points = [(c, p) for c, p in zip(calibration.confidence, calibration.chance)]
    lines.append("mapping: " + ", ".join(f"{c:.2f}->{p:.2f}" for c, p in points[:: max(1, len(points) // 8)]))
    return "\n".join(lines)
