"""Per-product decision boundary learned from the reference set alone: no threshold to tune.

Normal evidence: references scored against a bank that does not contain them (leave-one-out, or
for a single reference, the bank of its other rotations) and jittered copies of the references
(pose, scale, light). Defect evidence: simulated anomalies on the references. The boundary sits
above the normal tail by a safety factor, or halfway to clearly separated simulated defects; raw
scores map through a logistic so that the boundary is 0.5 and a typical normal part lands near 0.1.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

NORMAL_LEVEL = 0.1  # calibrated value given to the typical normal reference score
DEFECT_POSITION = 0.5  # boundary position between the normal tail and the simulated-defect median
SINGLE_REFERENCE_POSITION = 0.2  # the same with one reference (see tail_rule)
MULTI_REFERENCE_POSITION = 0.35  # the same with several references (see tail_rule)
# A lot's own scores (lot.py): the boundary sits this many robust sigmas above the median of the lot's
# lower half, kept within LOT_BOUNDS x the reference boundary (README, "Verdicts").
LOT_SPREAD = 3.0
LOT_BOUNDS = (0.7, 1.3)
SOFT_LOGIT = 8.0  # beyond +-8 logits (0.9997) the calibrated scale compresses instead of saturating


@dataclass(frozen=True)
class TailRule:
    """How the normal tail is read off the normal scores, and the safety factor above it."""

    quantile: float
    factor: float
    # With held-out references and good variants both present: the tail is the geometric mean of the
    # variants' quantile and the held-out references' quantile, this much weight on the latter.
    held_out_weight: float = 0.0


def tail_rule(n_references: int) -> TailRule:
    """Several references: the median of their leave-one-out scores x 1.1, or 0.35 of the way to the
    simulated defects (MULTI_REFERENCE_POSITION), chosen at 4 shots by leave-one-dataset-out over
    mvtec15, bsdata and a synthetic set (benchmarks/calibration_study.py --shots 4, 2 seeds): held-out
    accuracy 84.2 / 78.1 / 74.4 against 83.3 / 58.7 / 70.0 for the earlier rule (maximum x 1.1, 0.5),
    which let most of bsdata's pits through. At 10 shots (same study) it holds: 85.0 / 75.6 / 81.2 against
    80.0 / 58.1 / 76.2.
    One reference gives two kinds of normal evidence: its unrotated view against its other rotations
    (pessimistic for parts whose pose matters, about right for the others) and jittered copies
    (optimistic: they are the same part). The tail sits between them, geometrically, 3/4 of the way to
    the held-out view, and the boundary a fifth of the way from there to the simulated defects
    (SINGLE_REFERENCE_POSITION). Chosen by leave-one-dataset-out over the same three sets
    (benchmarks/calibration_study.py), with subspace-bounded distances: accuracy on the held-out set
    77.2 / 64.6 / 72.9 (mvtec15 / bsdata / synthetic, REVIEW = NG) against 68.9 / 55.4 / 70.8 for the
    earlier rule (0.75, x1.0, 0.2, no held-out weight) on plain nearest-neighbour distances."""
    if n_references > 1:
        return TailRule(quantile=0.5, factor=1.1)
    return TailRule(quantile=0.75, factor=1.0, held_out_weight=0.75)


def normal_tail(normal: np.ndarray, rule: TailRule, held_out: int = 0) -> float:
    """The high end of the normal evidence; the first `held_out` scores are held-out references."""
    held, variants = normal[:held_out], normal[held_out:]
    if rule.held_out_weight <= 0 or held.size == 0 or variants.size == 0:
        return float(np.quantile(normal, rule.quantile))
    low = max(float(np.quantile(variants, rule.quantile)), 1e-9)
    high = max(float(np.quantile(held, rule.quantile)), 1e-9)
    weight = rule.held_out_weight
    return float(np.exp((1 - weight) * np.log(low) + weight * np.log(high)))


def defect_position(n_references: int) -> float:
    """Where between the normal tail and the simulated-defect median the boundary may sit."""
    return MULTI_REFERENCE_POSITION if n_references > 1 else SINGLE_REFERENCE_POSITION


@dataclass(frozen=True)
class Calibration:
    boundary: float  # raw score that maps to 0.5
    scale: float  # raw units per logit unit
    normal_scores: tuple[float, ...] = field(default=(), repr=False)
    anomaly_scores: tuple[float, ...] = field(default=(), repr=False)
    method: str = "reference"
    held_out: int = 0  # how many of normal_scores came from held-out references (the rest: good variants)

    def apply(self, raw: np.ndarray | float) -> np.ndarray | float:
        """Raw distance(s) to the calibrated 0..1 scale; works on scalars and maps alike.

        Far from the boundary the logits grow only logarithmically, so that clearly defective parts
        (and pixels) still rank by how defective they are instead of all reading exactly 1.0 in
        float32: sorting the history by score, and AUROC, keep their order."""
        logits = (np.asarray(raw, dtype=np.float32) - self.boundary) / self.scale
        excess = np.abs(logits) - SOFT_LOGIT
        logits = np.where(excess > 0, np.sign(logits) * (SOFT_LOGIT + np.log1p(np.maximum(excess, 0.0))), logits)
        calibrated = 1.0 / (1.0 + np.exp(-logits))
        return float(calibrated) if np.ndim(raw) == 0 else calibrated.astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "boundary": self.boundary,
            "scale": self.scale,
            "normal_scores": list(self.normal_scores),
            "anomaly_scores": list(self.anomaly_scores),
            "method": self.method,
            "held_out": self.held_out,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            boundary=float(data["boundary"]),
            scale=float(data["scale"]),
            normal_scores=tuple(data.get("normal_scores", ())),
            anomaly_scores=tuple(data.get("anomaly_scores", ())),
            method=str(data.get("method", "reference")),
            held_out=int(data.get("held_out", 0)),
        )


def fit_boundary(
    normal_scores: np.ndarray,
    anomaly_scores: np.ndarray,
    rule: TailRule = TailRule(quantile=1.0, factor=1.1),
    position: float = DEFECT_POSITION,
    held_out: int = 0,
) -> Calibration:
    """Boundary from the normal tail (a high quantile of the normal scores) and simulated defects.

    The boundary is `rule.factor` x the normal tail, or, where simulated defects stand out so
    clearly that `position` of the way from the tail to their median lies further, that point: such
    products get a wider safety zone for good parts. The first `held_out` normal scores come from
    held-out references, the rest from good variants (see `normal_tail`).
    """
    normal = np.asarray(normal_scores, dtype=np.float64)
    anomaly = np.asarray(anomaly_scores, dtype=np.float64)
    if normal.size == 0:
        raise ValueError("calibration needs at least one normal score")
    tail = normal_tail(normal, rule, held_out)
    normal_typical = float(np.median(normal))
    margin_boundary = rule.factor * tail
    defect_bulk = float(np.median(anomaly)) if anomaly.size else -np.inf
    defect_boundary = tail + position * (defect_bulk - tail)
    if defect_boundary > margin_boundary:
        boundary, method = defect_boundary, "reference+simulated"
    else:
        boundary, method = margin_boundary, "reference-margin"
    # The typical normal score maps to NORMAL_LEVEL on the calibrated scale.
    scale = logit_scale(boundary, normal_typical)
    return Calibration(
        boundary=boundary,
        scale=scale,
        normal_scores=tuple(float(v) for v in normal),
        anomaly_scores=tuple(float(v) for v in anomaly),
        method=method,
        held_out=held_out,
    )


def good_spread_boundary(good: Sequence[float], reference_boundary: float, spread: float,
                         bounds: tuple[float, float]) -> tuple[float, float, float]:
    """(boundary, median, robust sigma) from scores of parts taken as good: `spread` robust sigmas
    (1.4826 x MAD) above their median, kept within `bounds` x the reference boundary. The one rule
    behind both unlabeled sources of evidence: a lot's good half and the stream's parts judged OK."""
    values = np.asarray(good, dtype=np.float64)
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    low, high = bounds[0] * reference_boundary, bounds[1] * reference_boundary
    return min(max(median + spread * sigma, low), high), median, sigma


def lot_boundary(scores: Sequence[float], reference: Calibration, spread: float = LOT_SPREAD,
                 bounds: tuple[float, float] = LOT_BOUNDS) -> Calibration:
    """The reference calibration moved to the good parts' spread as the lot itself shows it.

    One reference says little about how much good parts vary; a lot of parts says it directly, on the
    assumption (the same as a lot without references) that at most half of the lot is defective: the
    lower half of the lot's scores are good parts (see good_spread_boundary), and the boundary stays
    within `bounds` x the reference boundary, so a lot that breaks the assumption cannot move it far.
    Chosen by leave-one-dataset-out over mvtec15, bsdata and a synthetic set, lots simulated at 0-50%
    defective (README, "Verdicts")."""
    values = np.sort(np.asarray(scores, dtype=np.float64))
    if values.size < 3:
        return reference
    lower = values[: max(2, math.ceil(values.size / 2))]
    boundary, median, _ = good_spread_boundary(lower, reference.boundary, spread, bounds)
    return replace(reference, boundary=boundary, scale=logit_scale(boundary, median), method=f"{reference.method}+lot")


def logit_scale(boundary: float, typical: float) -> float:
    """Raw units per logit such that `typical` (a typical good part) maps to NORMAL_LEVEL."""
    return max((boundary - min(typical, boundary - 1e-6)) / math.log((1 - NORMAL_LEVEL) / NORMAL_LEVEL), 1e-4)
