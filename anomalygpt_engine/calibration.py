"""Per-product decision boundary learned from the reference set alone: no threshold to tune.

Normal evidence: references scored against a bank that does not contain them (leave-one-out, or
for a single reference, the bank of its other rotations plus light jitter). Defect evidence:
simulated anomalies on the references. The boundary sits between the two; raw scores map through
a logistic so that the boundary is 0.5 and a typical normal part lands near 0.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NORMAL_LEVEL = 0.1  # calibrated value given to the typical normal reference score


@dataclass(frozen=True)
class Calibration:
    boundary: float  # raw score that maps to 0.5
    scale: float  # raw units per logit unit
    normal_scores: tuple[float, ...] = field(default=(), repr=False)
    anomaly_scores: tuple[float, ...] = field(default=(), repr=False)
    method: str = "reference"

    def apply(self, raw: np.ndarray | float) -> np.ndarray | float:
        """Raw distance(s) to the calibrated 0..1 scale; works on scalars and maps alike."""
        logits = (np.asarray(raw, dtype=np.float32) - self.boundary) / self.scale
        calibrated = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        return float(calibrated) if np.ndim(raw) == 0 else calibrated.astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "boundary": self.boundary,
            "scale": self.scale,
            "normal_scores": list(self.normal_scores),
            "anomaly_scores": list(self.anomaly_scores),
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            boundary=float(data["boundary"]),
            scale=float(data["scale"]),
            normal_scores=tuple(data.get("normal_scores", ())),
            anomaly_scores=tuple(data.get("anomaly_scores", ())),
            method=str(data.get("method", "reference")),
        )


def fit_boundary(normal_scores: np.ndarray, anomaly_scores: np.ndarray, position: float = 0.5) -> Calibration:
    """Place the boundary `position` of the way from the normal tail to the simulated-defect bulk.

    The normal tail is the highest held-out reference score (what a good part can look like); the
    defect bulk is the median simulated-defect score (what a clear defect looks like). When the
    simulated defects do not score above the normal tail, the boundary falls back to a margin above
    the tail so good parts still pass.
    """
    normal = np.asarray(normal_scores, dtype=np.float64)
    anomaly = np.asarray(anomaly_scores, dtype=np.float64)
    if normal.size == 0:
        raise ValueError("calibration needs at least one normal score")
    normal_tail = float(normal.max())
    normal_typical = float(np.median(normal))
    spread = max(float(normal.std()), 0.05 * abs(normal_typical), 1e-4)
    if anomaly.size and float(np.median(anomaly)) > normal_tail:
        defect_bulk = float(np.median(anomaly))
        boundary = normal_tail + position * (defect_bulk - normal_tail)
        method = "reference+simulated"
    else:
        boundary = normal_tail + 2.0 * spread
        method = "reference-margin"
    # The typical normal score maps to NORMAL_LEVEL on the calibrated scale.
    scale = max((boundary - normal_typical) / math.log((1 - NORMAL_LEVEL) / NORMAL_LEVEL), 1e-4)
    return Calibration(
        boundary=boundary,
        scale=scale,
        normal_scores=tuple(float(v) for v in normal),
        anomaly_scores=tuple(float(v) for v in anomaly),
        method=method,
    )
