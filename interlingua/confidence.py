"""A draft's confidence, and the run's calibration of it (``RUN/calibration.json``).

The confidence of a draft is the model's own geometric-mean probability per token of what it wrote:
``exp(mean log-probability)`` (``search.py``'s ``with_scores``), in (0, 1]. It is what the model
thinks of its output, not a chance of being right: a calibration, fitted on held-out sentences by
``interlingua calibrate`` (``evaluate/calibration.py``), maps it to the chance that the draft's
sentence chrF is at least ``min_chrf``. The mapping is an isotonic (never decreasing) curve stored
as its breakpoints in plain JSON, read back without pickle, and applied by linear interpolation
between them (what scikit-learn's ``IsotonicRegression.predict`` does).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .files import read_json, write_json
from .errors import InterlinguaError

FILE = "calibration.json"
KIND = "interlingua confidence calibration"


def confidence(mean_logprob: float) -> float:
    """The confidence of a draft from its mean log-probability per token."""
    return math.exp(mean_logprob) if math.isfinite(mean_logprob) else 0.0


@dataclass
class Calibration:
    """confidence -> chance that the draft's sentence chrF >= ``min_chrf`` (on the data it was fitted on)."""
    min_chrf: float
    confidence: list[float]            # the isotonic curve's breakpoints, increasing
    chance: list[float]                # never decreasing, in [0, 1]
    measured: dict[str, Any] = field(default_factory=dict)   # how it was fitted and how well it held up

    def chance_of(self, value: float) -> float:
        """The calibrated chance for a confidence (flat beyond the fitted range)."""
        return float(np.interp(value, self.confidence, self.chance))

    @classmethod
    def fit(cls, confidences: list[float], good: list[bool], min_chrf: float,
            measured: dict[str, Any] | None = None) -> "Calibration":
        from sklearn.isotonic import IsotonicRegression
        if len(confidences) < 2 or len(set(good)) < 2:
            raise InterlinguaError(f"cannot calibrate on {len(confidences)} drafts of which "
                                   f"{sum(good)} reach chrF {min_chrf:g}: need both kinds")
        curve = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        curve.fit(np.asarray(confidences, dtype=float), np.asarray(good, dtype=float))
        return cls(min_chrf, [float(x) for x in curve.X_thresholds_], [float(y) for y in curve.y_thresholds_],
                   measured or {})

    def save(self, path: str | Path) -> None:
        write_json(path, {"kind": KIND, "version": 1, **asdict(self)})

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        data = read_json(path)
        try:
            if data.get("kind") != KIND:
                raise ValueError(f"not a calibration (kind {data.get('kind')!r})")
            xs, ys = [float(x) for x in data["confidence"]], [float(y) for y in data["chance"]]
            if not xs or len(xs) != len(ys) or any(b < a for a, b in zip(xs, xs[1:])):
                raise ValueError("confidence and chance must be lists of one length, confidence increasing")
            return cls(float(data["min_chrf"]), xs, ys, dict(data.get("measured", {})))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InterlinguaError(f"{path}: not a usable calibration ({exc})") from None

    @classmethod
    def of_run(cls, run: str | Path) -> "Calibration | None":
        """The run's calibration, or None where it has none (a run is usable uncalibrated)."""
        path = Path(run) / FILE
        return cls.load(path) if path.exists() else None
