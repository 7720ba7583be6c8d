"""Train the defect-type classifier on license-clean synthetic defects, measured through the engine.

Sources: scikit-image's CC0 textures (brick, grass, gravel), BSData normal ball-screw images (CC BY-SA;
only `train/good`), and parts drawn by `synthetic_part`. For each source the engine builds a 1-shot
reference set; each training image is the source, slightly moved and relit, with one typed defect.
The region the station would measure is the defect mask as the engine's map draws it: dilated and
blurred to the map's resolution (its 8-16 px patches, sigma-4 smoothing), thresholded at a random
level, so the classifier learns on blobby regions like the station's (running the engine itself on
every sample cost ~2.5 s each on this 2-core machine: `--engine` does it, for a small set).

    python -m anomalygpt_engine.training.defect_type_train --bsdata ../shared/data/bsdata/ballscrew --out resources/defect_types
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from anomalygpt_engine.expert.attributes import FEATURE_NAMES, _foreground, measure_region, region_masks
from anomalygpt_engine.expert.type_synthesis import GENERATORS, synthetic_part

SIZE = 256


def _moved(image: np.ndarray, part: np.ndarray | None, rng: np.random.Generator):
    """The same part shot again: a small shift, rotation and lighting change."""
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), rng.uniform(-3, 3), rng.uniform(0.98, 1.02))
    matrix[:, 2] += rng.uniform(-0.02, 0.02, size=2) * SIZE
    out = cv2.warpAffine(image, matrix, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.95, 1.05) + rng.uniform(-6, 6), 0, 255).astype(np.uint8)
    if part is not None:
        part = cv2.warpAffine(part.astype(np.uint8), matrix, (SIZE, SIZE), flags=cv2.INTER_NEAREST) > 0
    return out, part


def sources(bsdata: Path | None, rng: np.random.Generator, n_parts: int = 16) -> list[tuple[np.ndarray, np.ndarray | None]]:
    from skimage import data

    found = []
    for name in ("brick", "grass", "gravel"):
        grey = getattr(data, name)()
        for y, x in ((0, 0), (grey.shape[0] // 2, grey.shape[1] // 2)):
            crop = grey[y:y + grey.shape[0] // 2, x:x + grey.shape[1] // 2]
            tint = rng.uniform(0.6, 1.2, size=3)
            rgb = np.clip(cv2.resize(crop, (SIZE, SIZE))[..., None] * tint, 0, 255).astype(np.uint8)
            found.append((rgb, None))
    if bsdata is not None:
        from anomalygpt_engine.imageio import load_image

        paths = sorted((bsdata / "train" / "good").glob("*.png"))[:: 8][:8]
        found += [(cv2.resize(load_image(p), (SIZE, SIZE), interpolation=cv2.INTER_AREA), None) for p in paths]
    found += [synthetic_part(rng, SIZE) for _ in range(n_parts)]
    return found


def map_like(truth: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(region mask, map) as the engine's calibrated map would outline a defect."""
    grow = int(rng.integers(3, 12))
    soft = cv2.GaussianBlur(cv2.dilate(truth.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(np.float32),
                            (0, 0), rng.uniform(4, 9))
    soft = soft / max(float(soft.max()), 1e-6)
    amap = soft * rng.uniform(0.6, 1.0)
    region = soft >= rng.uniform(0.15, 0.45)
    return (region if region.any() else truth), amap.astype(np.float32)


def collect(engine, per_type: int, bsdata: Path | None, seed: int = 0, log=print) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features, labels = [], []
    kinds = list(GENERATORS)
    srcs = sources(bsdata, rng)
    started = time.perf_counter()
    for n, (image, part) in enumerate(srcs):
        refs = engine.build_references([image], product=f"synthetic-{n}") if engine is not None else None
        foreground = _foreground(image)
        for kind in kinds:
            for _ in range(per_type):
                moved, moved_part = _moved(image, part, rng)
                defect, truth = GENERATORS[kind](moved, rng, moved_part)
                if truth.sum() < 8:
                    continue
                if refs is None:
                    mask, amap = map_like(truth, rng)
                else:
                    amap = engine.inspect(defect, refs).anomaly_map
                    masks = region_masks(amap, defect.shape[:2])
                    overlaps = [(m & truth).sum() for m in masks]
                    if not masks or max(overlaps) == 0:
                        continue
                    mask = masks[int(np.argmax(overlaps))]
                attrs = measure_region(0, mask, defect, image, amap, foreground)
                features.append(attrs.features)
                labels.append(kinds.index(kind))
        log(f"source {n + 1}/{len(srcs)}: {len(labels)} samples, {time.perf_counter() - started:.0f} s")
    return np.array(features, np.float32), np.array(labels, np.int64)


def fit(features: np.ndarray, labels: np.ndarray, seed: int = 0, hidden: int = 32):
    from sklearn.neural_network import MLPClassifier

    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = MLPClassifier((hidden,), alpha=1e-2, max_iter=800, random_state=seed, early_stopping=False)
    model.fit((features - mean) / std, labels)
    return model, mean, std


def export(model, mean, std, out: Path, threshold: float, extra: dict) -> Path:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        tensors[f"w{i}"], tensors[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
    meta = {"classes": json.dumps([k.value for k in GENERATORS]), "features": json.dumps(list(FEATURE_NAMES)),
            "threshold": str(threshold), "training": json.dumps(extra)}
    path = out / "defect_types.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bsdata", type=Path, help="BSData ballscrew folder (its train/good normals are used)")
    parser.add_argument("--per-type", type=int, default=8, help="defects of each type per source image")
    parser.add_argument("--out", type=Path, default=Path("resources/defect_types"))
    parser.add_argument("--cache", type=Path, help="npz of collected features (reused when present)")
    parser.add_argument("--threshold", type=float, default=0.45)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", action="store_true", help="outline defects with the engine's own map (slow)")
    args = parser.parse_args(argv)
    from anomalygpt_engine import Engine, EngineConfig

    if args.cache and args.cache.is_file():
        loaded = np.load(args.cache)
        features, labels = loaded["features"], loaded["labels"]
    else:
        engine = Engine(EngineConfig(llm="none", num_threads=args.threads)) if args.engine else None
        features, labels = collect(engine, args.per_type, args.bsdata)
        if args.cache:
            np.savez(args.cache, features=features, labels=labels)
    from sklearn.model_selection import cross_val_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cv = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier((32,), alpha=1e-2, max_iter=800, random_state=0)),
                         features, labels, cv=5)
    model, mean, std = fit(features, labels)
    counts = np.bincount(labels, minlength=len(GENERATORS)).tolist()
    extra = {"samples": int(len(labels)), "per_class": counts, "cv_accuracy": round(float(cv.mean()), 3)}
    path = export(model, mean, std, args.out, args.threshold, extra)
    print(json.dumps({"weights": str(path), **extra}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
