"""Reference-set repository: products, their normal reference images and calibrated sets.

The GUI talks to `ReferenceRepository` only, so the history issue can move products into the
database by writing a second implementation; `FolderReferenceRepository` keeps them on disk:

    <data>/products/<slug>/product.json      name, description, reference file names, calibration stamp
    <data>/products/<slug>/references/*.png  the normal images as added (copied, never decoded here)
    <data>/products/<slug>/calibrated/       ReferenceSet.save() output, valid while the stamp matches
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from anomalygpt_engine import ReferenceSet, ReferenceSetError
from anomalygpt_engine.imageio import is_image_path
from desktop_app.paths import demo_samples_dir, user_data_dir

DEMO_PRODUCT = "Ball screw (demo)"
DEMO_DESCRIPTION = (
    "Ball-screw drive spindle, machined steel surface seen from above (BSData). "
    "Typical defect: pitting, small dark pits or flaking on the running surface."
)


@dataclass(frozen=True)
class ProductInfo:
    """What the reference manager shows; `calibrated_at` is None when (re)calibration is due."""

    name: str
    description: str
    reference_paths: tuple[Path, ...]
    calibrated_at: float | None

    @property
    def n_references(self) -> int:
        return len(self.reference_paths)

    @property
    def is_calibrated(self) -> bool:
        return self.calibrated_at is not None


class ReferenceRepository(Protocol):
    """The one small interface the station uses for reference sets."""

    def products(self) -> list[ProductInfo]: ...
    def product(self, name: str) -> ProductInfo: ...
    def create_product(self, name: str, description: str = "") -> ProductInfo: ...
    def rename_product(self, old: str, new: str) -> ProductInfo: ...
    def delete_product(self, name: str) -> None: ...
    def set_description(self, name: str, description: str) -> ProductInfo: ...
    def add_reference_files(self, name: str, paths: Sequence[Path]) -> list[Path]: ...
    def add_reference_image(self, name: str, image_rgb: np.ndarray) -> Path: ...
    def remove_reference(self, name: str, path: Path) -> None: ...
    def load_calibrated(self, name: str) -> ReferenceSet | None: ...
    def save_calibrated(self, name: str, refs: ReferenceSet) -> None: ...


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._") or "product"
    return slug[:60]


class FolderReferenceRepository:
    """Products as folders under `<data>/products`; every write is small and immediate."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else user_data_dir() / "products"
        self.root.mkdir(parents=True, exist_ok=True)

    # -- reading ---------------------------------------------------------------------------
    def _folders(self) -> dict[str, Path]:
        found = {}
        for meta in sorted(self.root.glob("*/product.json")):
            try:
                found[json.loads(meta.read_text(encoding="utf-8"))["name"]] = meta.parent
            except (OSError, ValueError, KeyError):
                continue  # a damaged product folder must not hide the others
        return found

    def knowledge(self, name: str):
        """The engineer's product knowledge (issue 14), or None when none is written."""
        from anomalygpt_engine.expert.knowledge import ProductKnowledge

        return ProductKnowledge.load(self._folder(name))

    def set_knowledge(self, name: str, knowledge) -> None:
        knowledge.save(self._folder(name))

    def _folder(self, name: str) -> Path:
        folder = self._folders().get(name)
        if folder is None:
            raise ReferenceSetError(f"no product named {name!r}")
        return folder

    @staticmethod
    def _meta(folder: Path) -> dict:
        return json.loads((folder / "product.json").read_text(encoding="utf-8"))

    @staticmethod
    def _write_meta(folder: Path, meta: dict) -> None:
        tmp = folder / "product.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.replace(folder / "product.json")

    def _info(self, folder: Path) -> ProductInfo:
        meta = self._meta(folder)
        files = tuple(folder / "references" / f for f in meta.get("references", []))
        stamp = meta.get("calibration") or {}
        valid = stamp.get("references") == meta.get("references") and (folder / "calibrated").is_dir()
        return ProductInfo(
            meta["name"], meta.get("description", ""), files, stamp.get("at") if valid else None
        )

    def products(self) -> list[ProductInfo]:
        return [self._info(folder) for folder in self._folders().values()]

    def product(self, name: str) -> ProductInfo:
        return self._info(self._folder(name))

    # -- products --------------------------------------------------------------------------
    def create_product(self, name: str, description: str = "") -> ProductInfo:
        name = name.strip()
        if not name:
            raise ReferenceSetError("a product needs a name")
        if name in self._folders():
            raise ReferenceSetError(f"a product named {name!r} already exists")
        folder = self.root / _slug(name)
        while folder.exists():
            folder = self.root / f"{_slug(name)}_{uuid.uuid4().hex[:6]}"
        (folder / "references").mkdir(parents=True)
        self._write_meta(folder, {"name": name, "description": description, "references": []})
        return self._info(folder)

    def rename_product(self, old: str, new: str) -> ProductInfo:
        new = new.strip()
        if not new or new in self._folders():
            raise ReferenceSetError(f"cannot rename to {new!r}: empty or already used")
        folder = self._folder(old)
        meta = self._meta(folder)
        meta["name"] = new
        self._write_meta(folder, meta)
        return self._info(folder)

    def delete_product(self, name: str) -> None:
        shutil.rmtree(self._folder(name))

    def set_description(self, name: str, description: str) -> ProductInfo:
        folder = self._folder(name)
        meta = self._meta(folder)
        if meta.get("description", "") != description:
            meta["description"] = description
            self._write_meta(folder, meta)
        return self._info(folder)

    # -- references ------------------------------------------------------------------------
    def _append(self, folder: Path, file_name: str) -> None:
        meta = self._meta(folder)
        meta["references"] = [*meta.get("references", []), file_name]
        self._write_meta(folder, meta)

    def add_reference_files(self, name: str, paths: Sequence[Path]) -> list[Path]:
        """Copy image files in as they are; decoding happens in the worker at calibration time."""
        folder = self._folder(name)
        added = []
        for path in map(Path, paths):
            if not path.is_file() or not is_image_path(path):
                raise ReferenceSetError(f"{path}: not an image file")
            target = folder / "references" / f"{uuid.uuid4().hex[:8]}_{path.name}"
            shutil.copyfile(path, target)
            self._append(folder, target.name)
            added.append(target)
        return added

    def add_reference_image(self, name: str, image_rgb: np.ndarray) -> Path:
        """Store an in-memory frame (camera, "mark as good") as a lossless PNG."""
        folder = self._folder(name)
        target = folder / "references" / f"{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}.png"
        if not cv2.imwrite(str(target), np.ascontiguousarray(image_rgb[:, :, ::-1])):
            raise ReferenceSetError(f"{target}: could not write the reference image")
        self._append(folder, target.name)
        return target

    def remove_reference(self, name: str, path: Path) -> None:
        folder = self._folder(name)
        meta = self._meta(folder)
        meta["references"] = [f for f in meta.get("references", []) if f != Path(path).name]
        self._write_meta(folder, meta)
        (folder / "references" / Path(path).name).unlink(missing_ok=True)

    # -- calibrated sets -------------------------------------------------------------------
    def load_calibrated(self, name: str) -> ReferenceSet | None:
        folder = self._folder(name)
        if not self._info(folder).is_calibrated:
            return None
        try:
            return ReferenceSet.load(folder / "calibrated")
        except ReferenceSetError:
            return None  # unreadable: the caller recalibrates

    def save_calibrated(self, name: str, refs: ReferenceSet) -> None:
        """Store the set with a stamp of the reference files it was built from."""
        folder = self._folder(name)
        shutil.rmtree(folder / "calibrated", ignore_errors=True)
        refs.save(folder / "calibrated")
        meta = self._meta(folder)
        meta["calibration"] = {"at": time.time(), "references": meta.get("references", [])}
        self._write_meta(folder, meta)


def ensure_demo_product(repo: ReferenceRepository, marker_dir: Path | None = None) -> str | None:
    """On first run (no products, never installed before) add the ball-screw demo product."""
    marker = (marker_dir or user_data_dir()) / ".demo_installed"
    if repo.products() or marker.exists():
        return None
    samples = sorted((demo_samples_dir() / "references").glob("*"))
    samples = [p for p in samples if is_image_path(p)]
    if not samples:
        return None
    repo.create_product(DEMO_PRODUCT, DEMO_DESCRIPTION)
    repo.add_reference_files(DEMO_PRODUCT, samples)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("installed\n")
    return DEMO_PRODUCT


def demo_test_images() -> list[Path]:
    return sorted(p for p in (demo_samples_dir() / "test").glob("*") if is_image_path(p))
