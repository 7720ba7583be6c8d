"""A product's normal references: images, their patch bank and calibration; saved with safetensors."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file

from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.memory_bank import PatchBank

FORMAT_VERSION = 1


@dataclass
class ReferenceSet:
    """Everything inspect() needs about one product; `fingerprint` ties it to the encoder config."""

    product: str
    images: list[np.ndarray]
    bank: PatchBank
    calibration: Calibration
    fingerprint: dict
    description: str = ""
    created_at: float = field(default_factory=time.time)

    @property
    def size(self) -> int:
        return len(self.images)

    def save(self, folder: str | Path) -> Path:
        """Write metadata JSON, tensors as safetensors and references as PNG into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"layer{i}": t.float().cpu().contiguous() for i, t in enumerate(self.bank.layers)}
        tensors["embeddings"] = self.bank.embeddings.float().cpu().contiguous()
        save_file(tensors, str(folder / "bank.safetensors"))
        for index, image in enumerate(self.images):
            cv2.imwrite(str(folder / f"ref_{index:03d}.png"), image[:, :, ::-1])
        meta = {
            "format_version": FORMAT_VERSION,
            "product": self.product,
            "description": self.description,
            "created_at": self.created_at,
            "fingerprint": self.fingerprint,
            "n_layers": len(self.bank.layers),
            "n_images": len(self.images),
            "calibration": self.calibration.to_dict(),
        }
        (folder / "reference_set.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ReferenceSet:
        folder = Path(folder)
        meta_file = folder / "reference_set.json"
        try:
            meta = json.loads(meta_file.read_text())
            tensors = load_file(str(folder / "bank.safetensors"))
        except Exception as exc:  # OSError, JSON errors, SafetensorError for corrupt tensors
            raise ReferenceSetError(f"{folder}: unreadable reference set ({exc})") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise ReferenceSetError(f"{folder}: unsupported format version {meta.get('format_version')}")
        try:
            layers = [tensors[f"layer{i}"] for i in range(int(meta["n_layers"]))]
            bank = PatchBank(layers=layers, embeddings=tensors["embeddings"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ReferenceSetError(f"{folder}: reference set is incomplete or tampered ({exc})") from exc
        images = []
        for index in range(int(meta["n_images"])):
            image = cv2.imread(str(folder / f"ref_{index:03d}.png"), cv2.IMREAD_COLOR)
            if image is None:
                raise ReferenceSetError(f"{folder}: reference image {index} is missing or corrupt")
            images.append(np.ascontiguousarray(image[:, :, ::-1]))
        return cls(
            product=meta["product"],
            images=images,
            bank=bank,
            calibration=Calibration.from_dict(meta["calibration"]),
            fingerprint=meta["fingerprint"],
            description=meta.get("description", ""),
            created_at=float(meta.get("created_at", 0.0)),
        )


def tensors_equal(a: PatchBank, b: PatchBank) -> bool:
    """Used by tests and consistency checks after a save/load round trip."""
    return len(a.layers) == len(b.layers) and all(
        torch.equal(x.float().cpu(), y.float().cpu()) for x, y in zip(a.layers, b.layers)
    )
