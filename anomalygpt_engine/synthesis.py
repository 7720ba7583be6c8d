"""Anomaly simulation on normal images: defects with known masks, seeded and reproducible.

Calibration uses `simulate` to learn where a product's "clearly defective" scores begin; the
decoder trains on `simulate_training`, which adds the generators of the literature: NSA-style
Poisson blending of a patch from another normal image, CutPaste (and its thin "scar"), and DRAEM's
Perlin-noise masks filled with a foreign texture. Every sample carries an AnomalyGPT-style answer.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from anomalygpt_engine.regions import location_phrase

NO_ANOMALY = "No, there is no anomaly in the image."


@dataclass(frozen=True)
class SimulatedAnomaly:
    image: np.ndarray  # RGB uint8, same size as the source
    mask: np.ndarray  # bool H x W, True where the defect is
    kind: str
    description: str = ""  # AnomalyGPT-style answer; see describe()
    soft_mask: np.ndarray | None = None  # float32 H x W in 0..1 where the blend is partial


def describe(mask: np.ndarray) -> str:
    """The answer AnomalyGPT is trained on, with the 3x3 location word of the mask's centroid."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return NO_ANOMALY
    where = location_phrase(float(xs.mean()), float(ys.mean()), mask.shape[1], mask.shape[0])
    return f"Yes, there is an anomaly in the image, at the {where} of the image."


def _described(sample: SimulatedAnomaly) -> SimulatedAnomaly:
    return SimulatedAnomaly(sample.image, sample.mask, sample.kind, describe(sample.mask), sample.soft_mask)


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
    return _described(SimulatedAnomaly(out, mask, "cutpaste"))


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
    return _described(SimulatedAnomaly(out.astype(np.uint8), mask.astype(bool), "scratch"))


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
    return _described(SimulatedAnomaly(out.astype(np.uint8), mask, "blotch"))


GENERATORS = (cutpaste, scratch, blotch)


def simulate(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """One simulated defect of a randomly chosen kind (the calibration set; its draws stay fixed)."""
    generator = GENERATORS[int(rng.integers(len(GENERATORS)))]
    return generator(image, rng)


# -- training generators (NSA, CutPaste scar, DRAEM Perlin) -------------------------------------
def poisson_patch(image: np.ndarray, rng: np.random.Generator, source: np.ndarray | None = None) -> SimulatedAnomaly:
    """NSA: Poisson-blend a patch of another normal image; the mask is where the blend changed pixels.

    Patch sides 10-40% of the image as in NSA; mixed or normal gradients; the mask keeps only pixels
    the blend visibly altered, since seamless cloning can make a patch (partly) invisible.
    """
    height, width = image.shape[:2]
    source = image if source is None else cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)
    h = int(rng.uniform(0.1, 0.4) * height)
    w = int(np.clip(h * np.exp(rng.uniform(-0.7, 0.7)), 0.06 * width, 0.5 * width))
    sy, sx = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    patch = source[sy : sy + h, sx : sx + w].astype(np.float32) * rng.uniform(0.75, 1.25)
    patch = np.clip(patch + rng.uniform(-25, 25, size=3), 0, 255).astype(np.uint8)
    cy = int(rng.integers(h // 2 + 1, height - (h - h // 2)))
    cx = int(rng.integers(w // 2 + 1, width - (w - w // 2)))
    shape = np.zeros((h, w), np.uint8)
    cv2.ellipse(shape, (w // 2, h // 2), (max(1, w // 2 - 1), max(1, h // 2 - 1)), 0, 0, 360, 255, -1)
    if rng.random() < 0.5:
        shape[1:-1, 1:-1] = 255
    flag = cv2.MIXED_CLONE if rng.random() < 0.5 else cv2.NORMAL_CLONE
    out = cv2.seamlessClone(patch, image, shape, (cx, cy), flag)
    diff = np.abs(out.astype(np.float32) - image.astype(np.float32)).mean(axis=2)
    soft = np.clip(cv2.GaussianBlur(diff, (0, 0), 1.5) / 40.0, 0.0, 1.0)
    placed = np.zeros((height, width), bool)
    y0, x0 = cy - h // 2, cx - w // 2
    placed[max(0, y0) : y0 + h, max(0, x0) : x0 + w] = shape[max(0, -y0) :, max(0, -x0) :] > 0
    soft = np.where(placed, soft, 0.0).astype(np.float32)
    return _described(SimulatedAnomaly(out, soft > 0.15, "poisson", soft_mask=soft))


def cutpaste_scar(image: np.ndarray, rng: np.random.Generator) -> SimulatedAnomaly:
    """CutPaste-Scar: a thin rotated strip (2-16 x 10-25 px at 256 px) cut, colour-jittered, pasted."""
    height, width = image.shape[:2]
    unit = min(height, width) / 256.0
    length = rng.uniform(10, 25) * unit * rng.uniform(1.0, 2.5)
    thick = max(2.0, rng.uniform(2, 16) * unit)
    angle = rng.uniform(-45, 45) + (90 if rng.random() < 0.5 else 0)
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    box = cv2.boxPoints(((cx, cy), (length, thick), angle)).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [box], 1)
    shift = np.float32([[1, 0, rng.uniform(-0.4, 0.4) * width], [0, 1, rng.uniform(-0.4, 0.4) * height]])
    moved = cv2.warpAffine(image, shift, (width, height), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    moved = moved * rng.uniform(0.6, 1.4) + rng.uniform(-50, 50, size=3)
    out = np.where(mask[..., None] > 0, np.clip(moved, 0, 255), image).astype(np.uint8)
    return _described(SimulatedAnomaly(out, mask.astype(bool), "scar"))


def perlin_noise(shape: tuple[int, int], res: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """2-D gradient (Perlin) noise with res[0] x res[1] lattice cells, about -1..1 (DRAEM's scaling)."""
    # Perlin noise is smooth within a cell: compute on <= 8 samples per cell, then resize (5-10x faster).
    height, width = min(shape[0], 8 * res[0]), min(shape[1], 8 * res[1])
    angles = rng.uniform(0, 2 * np.pi, size=(res[0] + 1, res[1] + 1))
    grads = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    ys, xs = np.meshgrid(np.linspace(0, res[0], height, endpoint=False),
                         np.linspace(0, res[1], width, endpoint=False), indexing="ij")
    yi, xi = ys.astype(int), xs.astype(int)
    fy, fx = ys - yi, xs - xi

    def dot(dy: int, dx: int) -> np.ndarray:
        g = grads[yi + dy, xi + dx]
        return g[..., 0] * (fy - dy) + g[..., 1] * (fx - dx)

    def fade(t: np.ndarray) -> np.ndarray:
        return 6 * t**5 - 15 * t**4 + 10 * t**3

    uy, ux = fade(fy), fade(fx)
    top = dot(0, 0) * (1 - ux) + dot(0, 1) * ux
    bottom = dot(1, 0) * (1 - ux) + dot(1, 1) * ux
    noise = (np.sqrt(2.0) * (top * (1 - uy) + bottom * uy)).astype(np.float32)
    return cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def synthetic_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A foreign texture the project makes itself: coloured multi-scale noise (no dataset needed)."""
    height, width = shape
    layers = [perlin_noise(shape, (2**k, 2**k), rng) * 0.5**i for i, k in enumerate(rng.integers(1, 6, size=3))]
    base = (sum(layers) - min(m.min() for m in layers)) if layers else np.zeros(shape, np.float32)
    base = (base - base.min()) / max(float(np.ptp(base)), 1e-6)
    colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    return (colours[0] * base[..., None] + colours[1] * (1 - base[..., None])).reshape(height, width, 3)


def perlin_texture(
    image: np.ndarray, rng: np.random.Generator, texture: np.ndarray | None = None
) -> SimulatedAnomaly:
    """DRAEM: threshold Perlin noise into a mask, fill it with a foreign texture.

    DRAEM draws lattice scales 2^0..2^6; we stop at 2^4 and keep masks under 20% of the image,
    since the finest scales scatter specks over the whole image, unlike a local defect. The texture
    shows through with opacity 1 - beta, beta ~ U(0, 0.8) as in DRAEM.
    """
    height, width = image.shape[:2]
    for _ in range(8):
        res = (2 ** int(rng.integers(0, 5)), 2 ** int(rng.integers(0, 5)))
        noise = perlin_noise((height, width), res, rng)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(-90, 90)), 1.0)
        noise = cv2.warpAffine(noise, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
        mask = noise > 0.5 * max(float(noise.max()), 1e-6) if rng.random() < 0.3 else noise > 0.5
        if 0.002 * height * width < mask.sum() < 0.2 * height * width:
            break
    else:
        return cutpaste(image, rng)
    if texture is None:
        fill = synthetic_texture((height, width), rng)
    else:
        fill = cv2.resize(texture, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
        fill = fill * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30, size=3)
    beta = rng.uniform(0.0, 0.8)
    out = image.astype(np.float32)
    out[mask] = beta * out[mask] + (1 - beta) * np.clip(fill[mask], 0, 255)
    return _described(SimulatedAnomaly(out.astype(np.uint8), mask, "perlin", soft_mask=mask * (1 - beta)))


TRAINING_KINDS = ("poisson", "cutpaste", "scar", "perlin", "scratch", "blotch")
TRAINING_WEIGHTS = (0.3, 0.15, 0.15, 0.25, 0.08, 0.07)


def simulate_training(
    image: np.ndarray,
    rng: np.random.Generator,
    sources: Sequence[np.ndarray] = (),
    textures: Sequence[np.ndarray] = (),
) -> SimulatedAnomaly:
    """One training anomaly; `sources` are other normal images (NSA), `textures` foreign fills (DRAEM).

    A draw whose blend left no visible change is redrawn; CutPaste is the last resort (never empty).
    """
    for _ in range(4):
        sample = _draw_training(image, rng, sources, textures)
        if sample.mask.any():
            return sample
    return cutpaste(image, rng)


def _draw_training(image, rng, sources, textures) -> SimulatedAnomaly:
    kind = TRAINING_KINDS[int(rng.choice(len(TRAINING_KINDS), p=TRAINING_WEIGHTS))]
    if kind == "poisson":
        source = sources[int(rng.integers(len(sources)))] if len(sources) else None
        return poisson_patch(image, rng, source)
    if kind == "perlin":
        texture = textures[int(rng.integers(len(textures)))] if len(textures) and rng.random() < 0.7 else None
        return perlin_texture(image, rng, texture)
    return {"cutpaste": cutpaste, "scar": cutpaste_scar, "scratch": scratch, "blotch": blotch}[kind](image, rng)


def jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible *normal* variant: small pose, scale and lighting changes, as between two good parts.

    Calibration scores these against the full bank to learn how far a good part may drift.
    """
    height, width = image.shape[:2]
    angle = rng.uniform(-8.0, 8.0)
    scale = rng.uniform(0.94, 1.06)
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, scale)
    matrix[:, 2] += rng.uniform(-0.03, 0.03, size=2) * (width, height)
    warped = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    lit = warped.astype(np.float32) * rng.uniform(0.9, 1.1) + rng.uniform(-10.0, 10.0)
    return np.clip(lit, 0, 255).astype(np.uint8)
