"""Write a license-clean MVTec-layout evaluation set: scikit-image textures (CC0) with drawn defects.

A validation set the engine was never tuned on: parts are random crops of a texture under mild light
and pose changes; defects are drawn (scratches, stains, pits, missing chips), not made by the engine's
own anomaly simulation, so calibration cannot simply recognise its own training defects.

    python benchmarks/make_synthetic_set.py OUT_DIR [--train 10 --good 10 --bad 10 --seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

# Three textures (random crops) and one scene (coffee: the same view each time, like a fixtured object).
TEXTURES = {"brick": skdata.brick, "grass": skdata.grass, "gravel": skdata.gravel, "coffee": skdata.coffee}


def part(source: np.ndarray, rng: np.random.Generator, size: int = 256, fixtured: bool = False) -> np.ndarray:
    if fixtured:  # the same view each time, a few pixels off, as a part in a fixture
        y, x = (np.array(source.shape[:2]) - size) // 2 + rng.integers(-6, 7, size=2)
    else:
        y, x = rng.integers(0, min(source.shape[:2]) - size, size=2)
    crop = source[y : y + size, x : x + size].astype(np.float32)
    angle = rng.uniform(-4, 4)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, rng.uniform(0.97, 1.03))
    crop = cv2.warpAffine(crop, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
    crop = crop * rng.uniform(0.92, 1.08) + rng.normal(0, 2.5, crop.shape)
    pixels = np.clip(crop, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.stack([pixels] * 3, axis=2) if pixels.ndim == 2 else pixels[:, :, ::-1])


def defect(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """One drawn defect and its mask: scratch, stain, pit or chip."""
    out, mask = image.copy(), np.zeros(image.shape[:2], np.uint8)
    h, w = mask.shape
    kind = str(rng.choice(["scratch", "stain", "pit", "chip"]))
    cx, cy = int(rng.integers(40, w - 40)), int(rng.integers(40, h - 40))
    if kind == "scratch":
        length, theta = rng.uniform(30, 80), rng.uniform(0, np.pi)
        p1 = (int(cx - length * np.cos(theta) / 2), int(cy - length * np.sin(theta) / 2))
        p2 = (int(cx + length * np.cos(theta) / 2), int(cy + length * np.sin(theta) / 2))
        shade = int(rng.choice([20, 235]))
        cv2.line(out, p1, p2, (shade,) * 3, int(rng.integers(2, 4)))
        cv2.line(mask, p1, p2, 255, 5)
    elif kind == "stain":
        axes = (int(rng.integers(8, 22)), int(rng.integers(6, 16)))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        overlay = out.copy()
        cv2.ellipse(overlay, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        out = cv2.addWeighted(overlay, 0.6, out, 0.4, 0)
        cv2.ellipse(mask, (cx, cy), axes, 0, 0, 360, 255, -1)
    elif kind == "pit":
        radius = int(rng.integers(4, 9))
        cv2.circle(out, (cx, cy), radius, (15, 15, 15), -1)
        cv2.circle(mask, (cx, cy), radius + 1, 255, -1)
    else:
        side = int(rng.integers(12, 26))
        out[cy : cy + side, cx : cx + side] = int(rng.integers(90, 170))
        mask[cy : cy + side, cx : cx + side] = 255
    return out, mask, kind


def write_set(root: Path, train: int, good: int, bad: int, seed: int) -> None:
    for index, (name, loader) in enumerate(TEXTURES.items()):
        rng = np.random.default_rng(seed * 100 + index)
        source = loader()
        fixtured = source.ndim == 3
        folder = root / name
        for sub in ("train/good", "test/good", "test/defect", "ground_truth/defect"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(train):
            cv2.imwrite(str(folder / "train/good" / f"{i:03d}.png"), part(source, rng, fixtured=fixtured))
        for i in range(good):
            cv2.imwrite(str(folder / "test/good" / f"{i:03d}.png"), part(source, rng, fixtured=fixtured))
        for i in range(bad):
            image, mask, _ = defect(part(source, rng, fixtured=fixtured), rng)
            cv2.imwrite(str(folder / "test/defect" / f"{i:03d}.png"), image)
            cv2.imwrite(str(folder / "ground_truth/defect" / f"{i:03d}_mask.png"), mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=10)
    parser.add_argument("--good", type=int, default=10)
    parser.add_argument("--bad", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_set(args.out / "synthetic", args.train, args.good, args.bad, args.seed)
    print(f"wrote {args.out / 'synthetic'}")


if __name__ == "__main__":
    main()
