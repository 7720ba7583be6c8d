"""Content-addressed file store for images and heatmaps, written so a crash never leaves half a file.

Files live at `<root>/<aa>/<sha256>.png`; the row keeps the relative path and the hash. A file is
written to a temporary name, fsynced and renamed into place, so readers see all of it or nothing.
Heatmaps are 16-bit greyscale PNGs of the calibrated map (value * 65535): lossless, so the map can
be re-rendered in any colour scheme and the 0.5 boundary recovered exactly to 1/65535.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from desktop_app.history.errors import HistoryError, StorageFullError

HEATMAP_SCALE = 65535.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    path: str  # relative to the store root, with forward slashes
    created: bool  # False when identical content was already there (deduplicated)


def encode_image_png(image_rgb: np.ndarray) -> bytes:
    """RGB uint8 -> PNG bytes; compression 1 trades a little size for record latency."""
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise HistoryError(f"expected an RGB uint8 image, got {image_rgb.dtype} {image_rgb.shape}")
    ok, buf = cv2.imencode(".png", image_rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise HistoryError("PNG encoding of the image failed")
    return buf.tobytes()


def encode_heatmap_png(anomaly_map: np.ndarray) -> bytes:
    """Calibrated float map in 0..1 -> 16-bit greyscale PNG."""
    scaled = np.clip(np.nan_to_num(anomaly_map.astype(np.float32)), 0.0, 1.0) * HEATMAP_SCALE
    ok, buf = cv2.imencode(".png", np.rint(scaled).astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise HistoryError("PNG encoding of the heatmap failed")
    return buf.tobytes()


def decode_image_png(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HistoryError("stored image is not a readable PNG")
    return np.ascontiguousarray(image[:, :, ::-1])


def decode_heatmap_png(data: bytes) -> np.ndarray:
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16:
        raise HistoryError("stored heatmap is not a 16-bit PNG")
    return raw.astype(np.float32) / HEATMAP_SCALE


def _translate_os_error(exc: OSError, what: str) -> HistoryError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(f"disk full while writing {what}: {exc}")
    return HistoryError(f"could not write {what}: {exc}")


class ContentStore:
    """Immutable blobs keyed by SHA-256; identical content is stored once."""

    def __init__(self, root: str | Path, durable: bool = True, recreate_root: bool = False) -> None:
        self.root = Path(root)
        self.durable = durable  # fsync before rename: survives power loss, costs ~1 ms
        # A station's own folder that was deleted is simply made again; a configured share that
        # vanished (unmounted) is an error, or the images would land on the local mount point.
        self.recreate_root = recreate_root
        self.root.mkdir(parents=True, exist_ok=True)

    def relpath(self, sha256: str) -> str:
        return f"{sha256[:2]}/{sha256}.png"

    def abspath(self, relpath: str) -> Path:
        return self.root / relpath

    def put(self, data: bytes) -> StoredFile:
        """Write `data` atomically unless it is already stored; raise StorageFullError on ENOSPC."""
        digest = hashlib.sha256(data).hexdigest()
        rel = self.relpath(digest)
        target = self.abspath(rel)
        if target.exists():
            return StoredFile(digest, rel, created=False)
        self.ensure_root()
        try:
            target.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    if self.durable:
                        handle.flush()
                        os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise _translate_os_error(exc, rel) from exc
        return StoredFile(digest, rel, created=True)

    def ensure_root(self) -> None:
        """The root folder must exist before a journal entry or a file is written into it."""
        if self.root.is_dir():
            return
        if not self.recreate_root:
            raise HistoryError(f"the image store folder {self.root} is missing (share not mounted?)")
        log.warning("image store folder %s was missing; created it again", self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _translate_os_error(exc, str(self.root)) from exc

    def read(self, relpath: str) -> bytes:
        return self.abspath(relpath).read_bytes()

    def delete(self, relpath: str) -> None:
        self.abspath(relpath).unlink(missing_ok=True)

    def iter_files(self) -> list[str]:
        """Relative paths of every stored blob (for orphan sweeps and tests)."""
        return sorted(
            f"{p.parent.name}/{p.name}" for p in self.root.glob("??/*.png") if not p.name.startswith(".")
        )
