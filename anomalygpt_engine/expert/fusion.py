"""Multi-mask fusion (after IAD-GPT): several anomaly maps of one image -> one sharper map.

Each map is first put on a common scale by its own statistics on normal images (the median and the
spread of its values there), so a map with larger raw numbers cannot drown the others; the fused map
is a weighted mean of the standardised maps, optionally multiplied by their agreement (a pixel that
only one map marks is damped). Measured by `benchmarks/fusion_study.py` (pixel AUROC / AUPRO); the
engine's scoring path is not changed by this module.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normal_stats(maps_on_normals: Sequence[np.ndarray]) -> tuple[float, float]:
    """(centre, spread) of one map kind on normal images: median and the 99th-percentile distance."""
    values = np.concatenate([np.asarray(m, np.float32).ravel() for m in maps_on_normals])
    centre = float(np.median(values))
    spread = float(np.percentile(values, 99) - centre)
    return centre, max(spread, 1e-6)


def standardise(amap: np.ndarray, stats: tuple[float, float]) -> np.ndarray:
    return (np.asarray(amap, np.float32) - stats[0]) / stats[1]


def fuse(maps: Sequence[np.ndarray], stats: Sequence[tuple[float, float]], weights: Sequence[float] | None = None,
         agreement: bool = False) -> np.ndarray:
    """The fused map of one image (all maps the same shape)."""
    if not maps:
        raise ValueError("nothing to fuse")
    weights = np.ones(len(maps), np.float32) if weights is None else np.asarray(weights, np.float32)
    weights = weights / weights.sum()
    standard = np.stack([standardise(m, s) for m, s in zip(maps, stats)])
    fused = np.tensordot(weights, standard, axes=1)
    if agreement and len(maps) > 1:
        fused = fused * (1.0 / (1.0 + np.exp(-standard.min(axis=0))))  # damped where any map disagrees
    return fused.astype(np.float32)
