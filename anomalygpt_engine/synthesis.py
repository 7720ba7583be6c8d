"""Anomaly simulation on normal images: defects with known masks, seeded and reproducible.

Calibration uses these to learn where a product's "clearly defective" scores begin.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SimulatedAnomaly:
    image: np.ndarray  # RGB uint8, same size as the source
    mask: np.ndarray  # bool H x W, True where the defect is
    kind: str


def _random_box(rng: np.random.Generator, height: int, width: int, area_range=(0.005, 0.03)):
    area = rng.uniform(*area_range) * height * width
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    h = int(np.clip(np.sqrt(area / aspect), 4, height // 2))
    w = int(np.clip(np.sqrt(area * aspect), 4, width // 2))
    # Keep defects off the outer 10% so they land on the part rather than the background edge.
    y = int(rng.integers(height // 10, max(height // 10 + 1, height - height // 10 - h)))
    x = int(rng.integers(width // 10, max(width // 10 + 1, width - width // 10 - w)))
    return y, x, h, w


def cutpaste(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """Copy a patch of the image, jitter its colour, paste it elsewhere (CutPaste)."""
    height, width = image.shape[:2]
    y, x, h, w = _random_box(rng, height, width)
    sy = int(rng.integers(0, height - h))
    sx = int(rng.integers(0, width - w))
    patch = image[sy : sy + h, sx : sx + w].astype(np.float32)
    patch = patch * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40, size=3)
    if rng.random() < 0.5:
        patch = patch[::-1]
    out = image.copy()
    out[y : y + h, x : x + w] = np.clip(patch, 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[y : y + h, x : x + w] = True
    return SimulatedAnomaly(out, mask, "cutpaste")


def scratch(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """A thin dark or bright stroke: scratches and cracks."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    y0, x0 = int(rng.integers(height // 5, 4 * height // 5)), int(rng.integers(width // 5, 4 * width // 5))
    length = rng.uniform(0.1, 0.3) * min(height, width)
    angle = rng.uniform(0, np.pi)
    y1, x1 = int(y0 + length * np.sin(angle)), int(x0 + length * np.cos(angle))
    thickness = max(2, int(min(height, width) * rng.uniform(0.006, 0.015)))
    cv2.line(mask, (x0, y0), (x1, y1), 1, thickness)
    tone = np.array([20, 20, 20] if rng.random() < 0.5 else [235, 235, 235], np.float32)
    out = image.astype(np.float32)
    out[mask.astype(bool)] = 0.2 * out[mask.astype(bool)] + 0.8 * tone
    return SimulatedAnomaly(out.astype(np.uint8), mask.astype(bool), "scratch")


def blotch(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """An irregular stain of foreign colour: contamination and discolouration."""
    height, width = image.shape[:2]
    y, x, h, w = _random_box(rng, height, width)
    mask = np.zeros((height, width), np.uint8)
    center = (x + w // 2, y + h // 2)
    cv2.ellipse(mask, center, (max(2, w // 2), max(2, h // 2)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3)
    mask = mask.astype(bool) & (noise > np.quantile(noise, 0.3))
    colour = rng.uniform(0, 255, size=3).astype(np.float32)
    out = image.astype(np.float32)
    out[mask] = 0.3 * out[mask] + 0.7 * colour
    return SimulatedAnomaly(out.astype(np.uint8), mask, "blotch")


GENERATORS = (cutpaste, scratch, blotch)


def simulate(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """One simulated defect of a randomly chosen kind."""
    generator = GENERATORS[int(rng.integers(len(GENERATORS)))]
    return generator(image, rng)
