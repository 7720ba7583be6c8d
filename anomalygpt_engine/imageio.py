"""Turn whatever a station produces into RGB uint8, or fail with a typed, readable error.

Pillow decodes (it reads sizes from headers before decoding, so bombs are refused cheaply);
OpenCV is the fallback for what Pillow cannot read, such as 16-bit colour TIFFs.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from anomalygpt_engine.errors import ImageLoadError, ImageTooLargeError

DEFAULT_MAX_PIXELS = 120_000_000
MIN_SIDE = 8
SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

# Our own pixel budget replaces Pillow's global bomb check, which only warns below 2x its limit.
Image.MAX_IMAGE_PIXELS = None


class _DecodeFailedAfterSizeCheck(ImageLoadError):
    """Pillow approved the header's size but could not decode the pixels: OpenCV may try.

    Nothing else goes to OpenCV: it has no pixel budget of ours and allocates from the header
    (a 4 MB run-length Radiance .hdr decoded to 768 MB of float32 in 8 s; 30000 x 30000 would be
    10.8 GB), so it only sees files whose size Pillow approved, e.g. 16-bit colour TIFFs.
    """


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether a file name looks like an image we would try to load (used by folder scans)."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file into an H x W x 3 RGB uint8 array, EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path}: file is empty (0 bytes)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    return decode_image(data, max_pixels=max_pixels, name=str(path))


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (any supported format) into RGB uint8."""
    if not data:
        raise ImageLoadError(f"{name}: no data (0 bytes)")
    try:
        return _decode_with_pillow(data, max_pixels, name)
    except _DecodeFailedAfterSizeCheck as pillow_error:
        fallback = _decode_with_opencv(data, max_pixels, name)
        if fallback is None:
            raise ImageLoadError(str(pillow_error)) from None
        return fallback


def _decode_with_pillow(data: bytes, max_pixels: int, name: str) -> np.ndarray:
    size_checked = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            _check_size(image.size, max_pixels, name)
            size_checked = True
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except (ImageLoadError, ImageTooLargeError):
        raise
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name}: not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        error = _DecodeFailedAfterSizeCheck if size_checked else ImageLoadError
        raise error(f"{name}: corrupt or truncated image ({exc})") from exc
    return ensure_rgb_uint8(_pillow_to_array(image), name=name)


def _pillow_to_array(image: Image.Image) -> np.ndarray:
    """Pillow modes to an array whose channels ensure_rgb_uint8 understands."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    if image.mode == "F":
        return np.asarray(image, dtype=np.float32)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"))
    if image.mode in ("RGB", "L"):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _decode_with_opencv(data: bytes, max_pixels: int, name: str) -> np.ndarray | None:
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:
        return None
    if decoded is None or decoded.size == 0:
        return None
    if decoded.ndim == 3 and decoded.shape[2] == 3:
        decoded = decoded[:, :, ::-1]
    elif decoded.ndim == 3 and decoded.shape[2] == 4:
        decoded = decoded[:, :, [2, 1, 0, 3]]
    _check_size((decoded.shape[1], decoded.shape[0]), max_pixels, name)
    return ensure_rgb_uint8(np.ascontiguousarray(decoded), name=name)


def _check_size(size: tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageLoadError(f"{name}: image is {width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: image is {width}x{height} ({width * height / 1e6:.0f} MP); the limit is "
            f"{max_pixels / 1e6:.0f} MP"
        )


def ensure_rgb_uint8(array: np.ndarray, name: str = "<array>") -> np.ndarray:
    """Normalise an in-memory image (gray, RGB, RGBA; uint8, uint16, float) to RGB uint8.

    16-bit data is scaled by its full range (not per image) so that every frame of a camera keeps
    the same brightness scale; alpha is composited over black, where a transparent pixel shows no part.
    """
    if not isinstance(array, np.ndarray):
        raise ImageLoadError(f"{name}: expected a numpy array, got {type(array).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageLoadError(f"{name}: unsupported array shape {array.shape}")
    if min(array.shape[:2]) < MIN_SIDE:
        raise ImageLoadError(f"{name}: image is {array.shape[1]}x{array.shape[0]}; too small")
    array = _to_uint8(array, name)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if finite.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(finite * scale + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise ImageLoadError(f"{name}: unsupported pixel type {array.dtype}")
