"""MVTec AD folder layout: <category>/train/good, <category>/test/<type>, <category>/ground_truth/<type>."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from anomalygpt_engine.imageio import is_image_path


@dataclass(frozen=True)
class TestSample:
    path: Path
    defect_type: str  # "good" for normal images
    mask_path: Path | None

    @property
    def is_anomalous(self) -> bool:
        return self.defect_type != "good"

    def load_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean ground truth of the given (height, width); all False for good or unmasked images."""
        if self.mask_path is None:
            return np.zeros(shape, bool)
        mask = cv2.imread(str(self.mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise ValueError(f"unreadable mask {self.mask_path}")
        if mask.shape != shape:
            mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        return mask > 127


@dataclass(frozen=True)
class Category:
    """One product of an MVTec-layout set; `key` is "<set>/<category>"."""

    root: Path

    @property
    def key(self) -> str:
        return f"{self.root.parent.name}/{self.root.name}"

    @cached_property
    def train_paths(self) -> list[Path]:
        return sorted(p for p in (self.root / "train" / "good").iterdir() if is_image_path(p))

    @cached_property
    def test_samples(self) -> list[TestSample]:
        samples = []
        for type_dir in sorted(p for p in (self.root / "test").iterdir() if p.is_dir()):
            for path in sorted(p for p in type_dir.iterdir() if is_image_path(p)):
                samples.append(TestSample(path, type_dir.name, self._mask_for(type_dir.name, path)))
        return samples

    def _mask_for(self, defect_type: str, path: Path) -> Path | None:
        if defect_type == "good":
            return None
        candidate = self.root / "ground_truth" / defect_type / f"{path.stem}_mask.png"
        return candidate if candidate.is_file() else None

    @property
    def has_masks(self) -> bool:
        return any(s.mask_path is not None for s in self.test_samples)

    def draw_references(self, shots: int, seed: int) -> list[Path]:
        """k normal references, reproducibly per seed and category; consecutive seeds take consecutive
        blocks of one shuffled order, so seeds differ wherever the folder has enough images (an
        independent draw per seed repeated 1-shot references: seeds 0, 2 and 3 all drew image 8)."""
        count = len(self.train_paths)
        if shots > count:
            raise ValueError(f"{self.key}: {shots} shots requested, {count} available")
        order = np.random.default_rng(zlib.crc32(self.root.name.encode())).permutation(count)
        picks = {int(order[(seed * shots + offset) % count]) for offset in range(shots)}
        return [self.train_paths[i] for i in sorted(picks)]


def is_category_dir(path: Path) -> bool:
    return (path / "train" / "good").is_dir() and (path / "test").is_dir()


def discover_categories(root: str | Path) -> list[Category]:
    """Every MVTec-layout category at or below `root` (a category, a set, or a folder of sets)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if is_category_dir(root):
        return [Category(root)]
    return [Category(p) for p in sorted(root.rglob("*")) if p.is_dir() and is_category_dir(p)]
