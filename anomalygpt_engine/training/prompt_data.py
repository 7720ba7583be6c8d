"""Training data for the prompt learner: engine outputs on license-clean normal and simulated images.

Sources: scikit-image's textures (CC0 / public domain), BSData ball-screw normals (CC BY-SA 4.0)
when present, and anomalies made by the simulator. Never MVTec: it is for evaluation only.
Each sample is what the dialogue sees at inference (global embedding + calibrated map) plus the
truth from the simulator (defective or not, mask location).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from anomalygpt_engine.regions import location_phrase
from anomalygpt_engine.synthesis import simulate

SKIMAGE_SOURCES = {  # name -> (skimage.data function, words for "what is in the image")
    "brick": ("brick", "a brick wall surface"),
    "grass": ("grass", "a grass texture"),
    "gravel": ("gravel", "a gravel surface"),
    "moon": ("moon", "a cratered grey surface"),
    "coins": ("coins", "coins on a tray"),
}
BSDATA_BALLSCREW = Path("bsdata") / "ballscrew" / "train" / "good"


@dataclass(frozen=True)
class PromptSample:
    embedding: np.ndarray  # the encoder's global embedding (D,)
    anomaly_map: np.ndarray  # calibrated map, map_size x map_size float32
    defective: bool
    location: str | None  # 3x3 words of the simulated mask's centroid
    product: str  # words for the product ("a brick wall surface")


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    images: list[np.ndarray]  # large normal images to crop parts from


def skimage_sources() -> list[Source]:
    from skimage import data as skdata

    sources = []
    for name, (function, description) in SKIMAGE_SOURCES.items():
        image = getattr(skdata, function)()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=2)
        sources.append(Source(name, description, [np.ascontiguousarray(image[:, :, :3])]))
    return sources


def bsdata_source(data_root: Path | None, limit: int = 30) -> list[Source]:
    folder = data_root / BSDATA_BALLSCREW if data_root else None
    if folder is None or not folder.is_dir():
        return []
    images = []
    for path in sorted(folder.glob("*.png"))[:limit]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            images.append(np.ascontiguousarray(image[:, :, ::-1]))
    return [Source("ballscrew", "a ball screw spindle", images)] if images else []


def part_from(source: Source, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A 'part': a random crop (or the whole small image) with mild lighting change and noise."""
    image = source.images[int(rng.integers(len(source.images)))]
    height, width = image.shape[:2]
    if min(height, width) > size * 1.2:
        y, x = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
        image = image[y : y + size, x : x + size]
    out = image.astype(np.float32) * rng.uniform(0.93, 1.07) + rng.normal(0, 2.0, image.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def mask_location(mask: np.ndarray) -> str:
    ys, xs = np.nonzero(mask)
    return location_phrase(float(xs.mean()), float(ys.mean()), mask.shape[1], mask.shape[0])


def generate_samples(
    engine, sources: list[Source], reference_sets: int, images_per_set: int, map_size: int, seed: int
) -> Iterator[PromptSample]:
    """For each source and reference set: 1-shot references, then half normal, half simulated parts."""
    rng = np.random.default_rng(seed)
    for source in sources:
        for _ in range(reference_sets):
            refs = engine.build_references([part_from(source, rng)], product=source.name)
            for index in range(images_per_set):
                part = part_from(source, rng)
                defective = index % 2 == 1
                location = None
                if defective:
                    simulated = simulate(part, rng)
                    part, location = simulated.image, mask_location(simulated.mask)
                result = engine.inspect(part, refs)
                small = cv2.resize(result.anomaly_map, (map_size, map_size), interpolation=cv2.INTER_AREA)
                yield PromptSample(result.global_embedding.astype(np.float32), small.astype(np.float32),
                                   defective, location, source.description)
