"""Few-shot evaluation protocol: per category and seed, draw k references, inspect every test image.

Pixel metrics are computed at METRIC_SIDE x METRIC_SIDE (maps and masks resized) so that large
sets stay fast; image metrics use the calibrated image score; REVIEW counts as NG for accuracy.
"""
from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from anomalygpt_engine.evaluation.datasets import Category
from anomalygpt_engine.evaluation.metrics import accuracy_f1, aupro, auroc
from anomalygpt_engine.imageio import load_image
from anomalygpt_engine.pipeline import Engine

METRIC_SIDE = 256
METRIC_KEYS = ("image_auroc", "pixel_auroc", "aupro", "accuracy", "f1")


@dataclass
class CategoryRun:
    """Raw outputs of one category at one seed, enough to compute every metric."""

    labels: list[bool] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    defective: list[bool] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def metrics(self, with_pixels: bool) -> dict[str, float]:
        accuracy, f1 = accuracy_f1(np.array(self.labels), np.array(self.defective))
        out = {"image_auroc": auroc(np.array(self.labels), np.array(self.scores)), "accuracy": accuracy, "f1": f1}
        if with_pixels:
            out["pixel_auroc"] = auroc(np.concatenate([m.ravel() for m in self.masks]),
                                       np.concatenate([m.ravel() for m in self.maps]))
            out["aupro"] = aupro(self.masks, self.maps)
        else:
            out["pixel_auroc"] = out["aupro"] = float("nan")
        return out


def _metric_size(array: np.ndarray, nearest: bool) -> np.ndarray:
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(array.astype(np.uint8 if nearest else np.float32), (METRIC_SIDE, METRIC_SIDE),
                      interpolation=interpolation)


def run_category(engine: Engine, category: Category, shots: int, seed: int, cache: dict) -> CategoryRun:
    """Build references for one draw and inspect every test image of the category."""
    def image(path):
        if path not in cache:
            cache[path] = load_image(path)
        return cache[path]

    refs = None  # zero-shot mode inspects with the decoder alone: no references are drawn
    if engine.mode != "zeroshot":
        references = [image(p) for p in category.draw_references(shots, seed)]
        refs = engine.build_references(references, product=category.key)
    run = CategoryRun()
    for sample in category.test_samples:
        picture = image(sample.path)
        result = engine.inspect(picture, refs)
        run.labels.append(sample.is_anomalous)
        run.scores.append(result.score)
        run.defective.append(result.verdict.is_defective)
        run.latencies_ms.append(result.latency_ms)
        mask = sample.load_mask(picture.shape[:2])
        run.masks.append(_metric_size(mask, nearest=True).astype(bool))
        run.maps.append(_metric_size(result.anomaly_map, nearest=False))
    return run


def _mean_std(rows: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    mean, std = {}, {}
    for key in METRIC_KEYS:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        mean[key] = float(values.mean()) if values.size else float("nan")
        std[key] = float(values.std()) if values.size else float("nan")
    return mean, std


def evaluate(
    engine: Engine, categories: Sequence[Category], shots: Sequence[int], seeds: Sequence[int]
) -> Generator[str, None, dict]:
    """Yield a progress line per (shots, seed, category); return the report dict (see cli eval)."""
    report: dict = {"shots": {}}
    cache: dict = {}
    for k in shots:
        per_seed_means = []
        per_category: dict[str, list[dict[str, float]]] = {c.key: [] for c in categories}
        latencies: list[float] = []
        for seed in seeds:
            seed_rows = []
            for category in categories:
                run = run_category(engine, category, k, seed, cache)
                row = run.metrics(with_pixels=category.has_masks)
                per_category[category.key].append(row)
                seed_rows.append(row)
                latencies.extend(run.latencies_ms)
                yield (f"k={k} seed={seed} {category.key}: image AUROC {row['image_auroc']:.3f} "
                       f"pixel AUROC {row['pixel_auroc']:.3f} accuracy {row['accuracy']:.3f}")
            per_seed_means.append(_mean_std(seed_rows)[0])
        mean, std = _mean_std(per_seed_means)
        report["shots"][str(k)] = {
            "mean": mean,
            "std": std,
            "categories": {key: _mean_std(rows)[0] for key, rows in per_category.items()},
            "seeds": list(seeds),
            "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        }
    return report
