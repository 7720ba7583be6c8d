"""Is this the product at all? A part far from every reference in the global embedding.

A bottle inspected against the ball-screw product is not a ball screw with one huge defect: it is
the wrong part, or an empty fixture. The patch-level detector cannot say so (every patch is far
from the bank, so the whole image becomes one region); the global embedding can.

What counts as "far" is learned from the product's own references, with nothing set per product:
the anchors are the references and their rotations (the memory bank treats those as normal too);
the drift a good part may show is measured on normal variants of the references (small pose,
scale and lighting jitter, mirror images; and, with two or more references, each reference against
the others: real part-to-part variation) and on simulated defects (their median: how far a defect
moves the whole image). A part is the wrong product when its distance to the nearest anchor exceeds
`FACTOR` times that drift and most of its calibrated map is anomalous (a defect is at a place), or
exceeds `STRONG` times that. The constants are design constants, chosen once across products
(`benchmarks/product_match_study.py`), never per product.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from anomalygpt_engine.synthesis import jitter, simulate

FACTOR = 3.0  # this many times the product's own drift, with most of the map anomalous: another product
STRONG = 2.0  # twice that distance: another product whatever the map says (a wide, forgiving calibration)
AREA = 0.6  # share of the calibrated map above the boundary: a defect is at a place, a wrong part everywhere
FLOOR = 0.10  # cosine distance below which two images are never called different products
N_JITTER = 8
N_SIMULATED = 12  # simulated defects: how far a defective part of this product may move the embedding
ROTATIONS = (0, 1, 2, 3)  # quarter turns


@dataclass(frozen=True)
class ProductMatch:
    """Anchors (unit embeddings of the references and their rotations) and the learned threshold."""

    anchors: np.ndarray  # n x D, rows of unit length
    drift: float  # how far this product's own parts move (cosine distance to the nearest anchor)
    threshold: float
    normal_drift: float = 0.0  # largest distance of a normal variant (jitter, mirror, other reference)
    defect_drifts: tuple[float, ...] = ()  # distances of simulated defects on the references

    def distance(self, embedding: np.ndarray) -> float:
        vector = _unit(np.asarray(embedding, np.float32).reshape(1, -1))
        return float(1.0 - (self.anchors @ vector[0]).max())

    def similarity(self, embedding: np.ndarray) -> float:
        """1 - distance: cosine similarity to the nearest reference view."""
        return 1.0 - self.distance(embedding)

    def is_wrong_part(self, embedding: np.ndarray) -> bool:
        return self.distance(embedding) > self.threshold


@dataclass(frozen=True)
class MatchOutcome:
    similarity: float
    wrong_part: bool


def decide(distance: float, threshold: float, anomalous_fraction: float) -> bool:
    """Far from every reference view, and either anomalous almost everywhere or very far."""
    return distance > threshold and (anomalous_fraction >= AREA or distance > STRONG * threshold)


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def learn(images: Sequence[np.ndarray], embed: Callable[[list[np.ndarray]], np.ndarray],
          seed: int = 0) -> ProductMatch:
    """Anchors and threshold from the references alone; `embed` maps RGB images to embeddings (n x D)."""
    rng = np.random.default_rng(seed)
    views = [np.ascontiguousarray(np.rot90(image, k)) for image in images for k in ROTATIONS]
    anchors = _unit(np.asarray(embed(views)))
    per_ref = len(ROTATIONS)
    normal = [jitter(images[i % len(images)], rng) for i in range(N_JITTER)]
    normal += [np.ascontiguousarray(image[:, ::-1]) for image in images]
    normal += [np.ascontiguousarray(image[::-1, :]) for image in images]
    defective = [simulate(images[i % len(images)], rng).image for i in range(N_SIMULATED)]
    distances = 1.0 - (_unit(np.asarray(embed(normal + defective))) @ anchors.T).max(axis=1)
    drifts = list(distances[: len(normal)])
    if len(images) >= 2:  # leave one reference out: its distance to the others' views
        similarity = anchors[::per_ref] @ anchors.T
        for index in range(len(images)):
            others = np.delete(similarity[index], np.s_[index * per_ref:(index + 1) * per_ref])
            drifts.append(float(1.0 - others.max()))
    drift = float(max(max(drifts), np.median(distances[len(normal):])))
    return ProductMatch(anchors=anchors, drift=drift, threshold=max(FLOOR, FACTOR * drift),
                        normal_drift=float(max(drifts)), defect_drifts=tuple(float(d) for d in distances[len(normal):]))


# One ProductMatch per live ReferenceSet, learned at its first inspection (a few encoder passes).
_cache: dict[int, tuple[weakref.ref, ProductMatch]] = {}


def assess(engine, refs, embedding, anomaly_map: np.ndarray) -> MatchOutcome | None:  # type: ignore[no-untyped-def]
    """The hook for Engine._result (`anomaly_map` calibrated, 0.5 = boundary): None without references."""
    if refs is None or not getattr(refs, "images", None):
        return None
    vector = embedding.float().cpu().numpy() if hasattr(embedding, "cpu") else np.asarray(embedding)
    key = id(refs)
    cached = _cache.get(key)
    if cached is None or cached[0]() is not refs:
        match = learn(refs.images, lambda batch: engine.encode(batch).embedding.float().cpu().numpy())
        for stale in [k for k, (ref, _m) in _cache.items() if ref() is None]:
            del _cache[stale]
        _cache[key] = (weakref.ref(refs), match)
    else:
        match = cached[1]
    if match.anchors.shape[1] != vector.shape[-1]:
        return None
    distance = match.distance(vector)
    fraction = float((np.asarray(anomaly_map) >= 0.5).mean()) if np.size(anomaly_map) else 0.0
    return MatchOutcome(similarity=1.0 - distance, wrong_part=decide(distance, match.threshold, fraction))
