"""Detection and localisation metrics in numpy: AUROC (tie-aware) and AUPRO (MVTec's PRO curve)."""
from __future__ import annotations

import cv2
import numpy as np


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic; ties count one half."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    average = (starts + ends - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, ends - starts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def aupro(masks: list[np.ndarray], maps: list[np.ndarray], max_fpr: float = 0.3, bins: int = 400) -> float:
    """Normalised area under the per-region-overlap curve up to `max_fpr` (MVTec AD's AUPRO).

    Thresholds are `bins` quantiles of all scores; each connected ground-truth region counts
    equally however large it is, which is why PRO complements pixel AUROC.
    """
    all_scores = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
    normal = np.concatenate([(~k).ravel() for k in masks])
    if normal.all() or not normal.any():
        return float("nan")
    edges = np.unique(np.quantile(all_scores, np.linspace(0.0, 1.0, bins)))
    def above(values: np.ndarray) -> np.ndarray:
        # counts of values >= each edge, from a histogram over the same edges
        positions = np.searchsorted(edges, values, side="right") - 1
        counts = np.bincount(np.clip(positions, 0, len(edges) - 1), minlength=len(edges))
        return np.cumsum(counts[::-1])[::-1]
    fpr = above(all_scores[normal]) / float(normal.sum())
    pro_sum = np.zeros(len(edges))
    n_regions = 0
    for mask, score_map in zip(masks, maps):
        if not mask.any():
            continue
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        for label in range(1, count):
            region_scores = score_map[labels == label].astype(np.float64)
            pro_sum += above(region_scores) / float(region_scores.size)
            n_regions += 1
    if n_regions == 0:
        return float("nan")
    pro = pro_sum / n_regions
    order = np.argsort(fpr)
    fpr, pro = fpr[order], pro[order]
    keep = fpr <= max_fpr
    fpr_kept, pro_kept = fpr[keep], pro[keep]
    if fpr_kept.size == 0 or fpr_kept[-1] < max_fpr:  # close the curve at max_fpr by interpolation
        pro_at = float(np.interp(max_fpr, fpr, pro))
        fpr_kept, pro_kept = np.append(fpr_kept, max_fpr), np.append(pro_kept, pro_at)
    fpr_kept, pro_kept = np.insert(fpr_kept, 0, 0.0), np.insert(pro_kept, 0, pro_kept[0] if pro_kept.size else 0)
    return float(np.trapezoid(pro_kept, fpr_kept) / max_fpr)


def accuracy_f1(labels: np.ndarray, predictions: np.ndarray) -> tuple[float, float]:
    """Accuracy and F1 of binary decisions (positive = defective)."""
    labels = np.asarray(labels).astype(bool)
    predictions = np.asarray(predictions).astype(bool)
    accuracy = float((labels == predictions).mean()) if labels.size else float("nan")
    tp = float((labels & predictions).sum())
    fp = float((~labels & predictions).sum())
    fn = float((labels & ~predictions).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else 0.0
    return accuracy, f1
