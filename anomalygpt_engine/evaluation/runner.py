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
METRIC_KEYS = ("image_auroc", "pixel_auroc", "aupro", "accuracy", "f1", "escape_rate", "false_call_rate",
               "review_rate")
PROTOCOLS = ("single", "lot", "stream")


@dataclass
class CategoryRun:
    """Raw outputs of one category at one seed, enough to compute every metric."""

    labels: list[bool] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    defective: list[bool] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def metrics(self, with_pixels: bool) -> dict[str, float]:
        accuracy, f1 = accuracy_f1(np.array(self.labels), np.array(self.defective))
        out = {"image_auroc": auroc(np.array(self.labels), np.array(self.scores)), "accuracy": accuracy, "f1": f1}
        out.update(verdict_rates(self.labels, self.verdicts))
        if with_pixels:
            out["pixel_auroc"] = auroc(np.concatenate([m.ravel() for m in self.masks]),
                                       np.concatenate([m.ravel() for m in self.maps]))
            out["aupro"] = aupro(self.masks, self.maps)
        else:
            out["pixel_auroc"] = out["aupro"] = float("nan")
        return out


def verdict_rates(labels: Sequence[bool], verdicts: Sequence[str]) -> dict[str, float]:
    """Escape rate (defective judged OK), false-call rate (good judged NG), review rate (all parts)."""
    labels = np.asarray(labels, bool)
    verdicts = np.asarray(verdicts)
    def share(mask: np.ndarray, verdict: str) -> float:
        return float((verdicts[mask] == verdict).mean()) if mask.any() else float("nan")
    return {"escape_rate": share(labels, "OK"), "false_call_rate": share(~labels, "NG"),
            "review_rate": float((verdicts == "REVIEW").mean()) if verdicts.size else float("nan")}


def _metric_size(array: np.ndarray, nearest: bool) -> np.ndarray:
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(array.astype(np.uint8 if nearest else np.float32), (METRIC_SIDE, METRIC_SIDE),
                      interpolation=interpolation)


def run_category(engine: Engine, category: Category, shots: int, seed: int, cache: dict,
                 protocol: str = "single", defect_rate: float | None = None) -> CategoryRun:
    """Build references for one draw and inspect the category's test images under `protocol`:
    one at a time, as one unlabeled lot, or as a seeded stream with the unused good train images."""
    def image(path):
        if path not in cache:
            cache[path] = load_image(path)
        return cache[path]

    refs = None  # zero-shot mode (and a 0-shot lot) inspect without references
    drawn = category.draw_references(shots, seed) if shots > 0 else []
    if engine.mode != "zeroshot" and drawn:
        refs = engine.build_references([image(p) for p in drawn], product=category.key)
    samples = list(category.test_samples)
    if protocol == "lot":
        results = lot_results(engine, [image(s.path) for s in samples], refs, category.key)
    elif protocol == "stream":
        samples, results = stream_results(engine, category, drawn, refs, seed, defect_rate, image)
    else:
        results = [engine.inspect(image(s.path), refs) for s in samples]
    run = CategoryRun()
    for sample, result in zip(samples, results):
        picture = image(sample.path)
        run.labels.append(sample.is_anomalous)
        run.scores.append(result.score)
        run.defective.append(result.verdict.is_defective)
        run.verdicts.append(result.verdict.value)
        run.latencies_ms.append(result.latency_ms)
        mask = sample.load_mask(picture.shape[:2])
        run.masks.append(_metric_size(mask, nearest=True).astype(bool))
        run.maps.append(_metric_size(result.anomaly_map, nearest=False))
    return run


def lot_results(engine: Engine, pictures: list[np.ndarray], refs, product: str) -> list:
    from anomalygpt_engine.lot import LotResult

    return [item.result for item in engine.inspect_lot(pictures, refs) if isinstance(item, LotResult)]


def stream_results(engine: Engine, category: Category, drawn: list, refs, seed: int, defect_rate: float | None,
                   image) -> tuple[list, list]:
    """The category's test images plus its unused good train images in a seeded order, inspected one at
    a time with stream evidence; with `defect_rate`, defective test images are subsampled to that share.
    Returns the test samples in stream order and their results (train images only feed the stream)."""
    from anomalygpt_engine.evaluation.datasets import TestSample
    from anomalygpt_engine.stream import StreamEvidence

    if refs is None:
        raise ValueError("the stream protocol needs references (shots >= 1)")
    rng = np.random.default_rng(seed)
    test = list(category.test_samples)
    extra = [TestSample(p, "good", None) for p in category.train_paths if p not in set(drawn)]
    good = [s for s in test if not s.is_anomalous] + extra
    bad = [s for s in test if s.is_anomalous]
    if defect_rate is not None:
        keep = int(round(defect_rate * len(good) / max(1e-9, 1 - defect_rate)))
        bad = [bad[i] for i in sorted(rng.choice(len(bad), size=min(len(bad), max(1, keep)), replace=False))]
    order = [*good, *bad]
    order = [order[i] for i in rng.permutation(len(order))]
    stream = StreamEvidence(refs.calibration, engine.config)
    measured = set(map(id, test))
    samples, results = [], []
    for sample in order:
        result = engine.inspect(image(sample.path), refs, stream=stream)
        if id(sample) in measured:
            samples.append(sample)
            results.append(result)
    return samples, results


def _mean_std(rows: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    mean, std = {}, {}
    for key in METRIC_KEYS:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        mean[key] = float(values.mean()) if values.size else float("nan")
        std[key] = float(values.std()) if values.size else float("nan")
    return mean, std


def evaluate(
    engine: Engine, categories: Sequence[Category], shots: Sequence[int], seeds: Sequence[int],
    protocol: str = "single", defect_rate: float | None = None,
) -> Generator[str, None, dict]:
    """Yield a progress line per (shots, seed, category); return the report dict (see cli eval)."""
    report: dict = {"shots": {}, "protocol": protocol, "defect_rate": defect_rate}
    cache: dict = {}
    for k in shots:
        per_seed_means = []
        per_category: dict[str, list[dict[str, float]]] = {c.key: [] for c in categories}
        latencies: list[float] = []
        for seed in seeds:
            seed_rows = []
            for category in categories:
                run = run_category(engine, category, k, seed, cache, protocol, defect_rate)
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
