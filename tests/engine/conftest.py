"""Engine fixtures: images the tests make from scikit-image's CC0 textures; no network, no MVTec."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from anomalygpt_engine import Engine, EngineConfig

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def texture_part(seed: int, size: int = 256, texture: str = "brick") -> np.ndarray:
    """A normal 'part': a random crop of a texture with mild lighting change and sensor noise."""
    rng = np.random.default_rng(seed)
    source = getattr(skdata, texture)()
    y, x = rng.integers(0, source.shape[0] - size, size=2)
    crop = source[y : y + size, x : x + size].astype(np.float32)
    crop = crop * rng.uniform(0.95, 1.05) + rng.normal(0, 2.0, crop.shape)
    gray = np.clip(crop, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.stack([gray] * 3, axis=2))


def with_defect(image: np.ndarray, center: tuple[int, int], radius: int = 18) -> np.ndarray:
    """A dark, rough blob: an unmistakable stain/pit at a known place (x, y)."""
    out = image.copy()
    cv2.circle(out, center, radius, (10, 10, 10), -1)
    cv2.circle(out, (center[0] + radius // 3, center[1]), radius // 3, (240, 240, 240), -1)
    return out


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(EngineConfig(device="cpu"))


@pytest.fixture(scope="session")
def normals() -> list[np.ndarray]:
    return [texture_part(seed) for seed in range(6)]


@pytest.fixture(scope="session")
def brick_refs(engine: Engine, normals: list[np.ndarray]):
    return engine.build_references(normals[:2], product="brick", description="a brick wall panel")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "mvtec15").is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (CI has it; a fresh clone does not)")
    return SHARED_DATA
