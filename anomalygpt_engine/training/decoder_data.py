"""Training data for the decoder: license-clean normal images in, simulated anomalies out.

Normals come from folders the user names (e.g. BSData train/good) plus, optionally, the built-in set:
scikit-image's CC0 textures and photos, and parts the project draws itself (objects on plain
backgrounds, lattices), so that the decoder sees both textures and objects without any MVTec image.
Every batch is a pure function of (seed, step): training is deterministic and resumable.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from anomalygpt_engine.synthesis import NO_ANOMALY, perlin_noise, simulate_training, synthetic_texture

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SKIMAGE_TEXTURES = ("brick", "grass", "gravel")
SKIMAGE_PHOTOS = ("camera", "coins", "coffee", "chelsea", "rocket", "moon", "page", "text", "hubble_deep_field",
                  "immunohistochemistry", "cell", "horse", "retina")


def _square(image: np.ndarray, size: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=2)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = (255 * (image.astype(np.float32) / max(float(image.max()), 1e-6))).astype(np.uint8)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def load_folder(folder: str | Path, size: int) -> list[np.ndarray]:
    """Every image of a folder (sorted by name, so runs are reproducible), RGB, size x size."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(_square(bgr[:, :, ::-1], size))
    return images


def skimage_images(names: Sequence[str], size: int) -> list[np.ndarray]:
    from skimage import data as skdata  # CC0 images inside the scikit-image wheel

    out = []
    for name in names:
        image = getattr(skdata, name)()
        side = min(image.shape[:2])
        out.append(_square(np.ascontiguousarray(image[:side, :side]), size))
    return out


def procedural_part(rng: np.random.Generator, size: int) -> np.ndarray:
    """A drawn 'part': a shaded disc, ring, rounded plate or lattice on a plain or mottled background."""
    background = rng.uniform(20, 235, size=3).astype(np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = background
    image += perlin_noise((size, size), (4, 4), rng)[..., None] * rng.uniform(0, 25)
    colour = rng.uniform(0, 255, size=3)
    kind = int(rng.integers(4))
    mask = np.zeros((size, size), np.uint8)
    offset_x, offset_y = (int(rng.integers(-size // 10, size // 10)) for _ in range(2))
    centre = (size // 2 + offset_x, size // 2 + offset_y)
    if kind == 0:
        cv2.circle(mask, centre, int(size * rng.uniform(0.25, 0.42)), 1, -1)
    elif kind == 1:
        cv2.circle(mask, centre, int(size * rng.uniform(0.3, 0.42)), 1, -1)
        cv2.circle(mask, centre, int(size * rng.uniform(0.1, 0.25)), 0, -1)
    elif kind == 2:
        half = (int(size * rng.uniform(0.2, 0.45)), int(size * rng.uniform(0.12, 0.4)))
        box = cv2.boxPoints((centre, (2 * half[0], 2 * half[1]), float(rng.uniform(0, 180)))).astype(np.int32)
        cv2.fillPoly(mask, [box], 1)
    else:
        step, width = int(rng.integers(10, 28)), int(rng.integers(2, 6))
        mask[:, :] = 0
        for offset in range(int(rng.integers(0, step)), size, step):
            mask[:, offset : offset + width] = 1
            mask[offset : offset + width, :] = 1
    shade = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(1.0, 1.4), size, dtype=np.float32)
    shading = shade[None, :, None] if rng.random() < 0.5 else shade[:, None, None]
    part = colour[None, None, :] * shading + perlin_noise((size, size), (8, 8), rng)[..., None] * rng.uniform(0, 20)
    image = np.where(mask[..., None] > 0, part, image)
    image = cv2.GaussianBlur(image, (0, 0), 0.8) + rng.normal(0, 2.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def augment(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop (50-100% of the side), flip, quarter turn and light change, resized to size."""
    side = image.shape[0]
    crop = int(side * rng.uniform(0.5, 1.0))
    y, x = (int(v) for v in rng.integers(0, side - crop + 1, size=2))
    out = cv2.resize(image[y : y + crop, x : x + crop], (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = np.rot90(out, int(rng.integers(4)))
    out = out.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12)
    return np.ascontiguousarray(np.clip(out, 0, 255).astype(np.uint8))


@dataclass
class Batch:
    images: list[np.ndarray]  # RGB uint8, size x size
    masks: np.ndarray  # B x size x size float32, 1 where the simulated defect is
    kinds: list[str]
    descriptions: list[str]  # AnomalyGPT-style answers


class DecoderData:
    """Normal images and the deterministic batch generator built on them."""

    def __init__(self, normals: Sequence[np.ndarray], textures: Sequence[np.ndarray], size: int = 224,
                 normal_fraction: float = 0.25) -> None:
        if len(normals) < 2:
            raise ValueError("decoder training needs at least two normal images")
        self.normals = list(normals)
        self.textures = list(textures)
        self.size = size
        self.normal_fraction = normal_fraction

    @classmethod
    def build(cls, folders: Sequence[str | Path], builtin: bool, size: int = 224, n_procedural: int = 64,
              seed: int = 0) -> DecoderData:
        """Folders' images + (if builtin) skimage textures and procedural parts; photos as foreign fills."""
        source_size = int(size * 1.25)
        normals = [img for folder in folders for img in load_folder(folder, source_size)]
        side = (source_size, source_size)
        textures = [synthetic_texture(side, np.random.default_rng([seed, 7, i])) for i in range(8)]
        if builtin:
            normals += skimage_images(SKIMAGE_TEXTURES, source_size)
            normals += [procedural_part(np.random.default_rng([seed, 11, i]), source_size) for i in range(n_procedural)]
            textures += skimage_images(SKIMAGE_PHOTOS, source_size)
        return cls(normals, textures, size)

    def batch(self, seed: int, step: int, batch_size: int) -> Batch:
        """The batch of `step`: a pure function of (seed, step), so resuming repeats nothing."""
        rng = np.random.default_rng([seed, step])
        images, masks, kinds, descriptions = [], [], [], []
        for _ in range(batch_size):
            index = int(rng.integers(len(self.normals)))
            image = augment(self.normals[index], rng, self.size)
            if rng.random() < self.normal_fraction:
                images.append(image)
                masks.append(np.zeros((self.size, self.size), np.float32))
                kinds.append("normal")
                descriptions.append(NO_ANOMALY)
                continue
            other = self.normals[(index + 1 + int(rng.integers(len(self.normals) - 1))) % len(self.normals)]
            sample = simulate_training(image, rng, sources=[augment(other, rng, self.size)], textures=self.textures)
            images.append(sample.image)
            masks.append(sample.mask.astype(np.float32))  # binary targets, as DRAEM and AnomalyGPT
            kinds.append(sample.kind)
            descriptions.append(sample.description)
        return Batch(images, np.stack(masks), kinds, descriptions)
