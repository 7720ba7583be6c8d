from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from anomalygpt_engine.errors import ImageLoadError, ImageTooLargeError
from anomalygpt_engine.imageio import decode_image, ensure_rgb_uint8, load_image


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_round_trip(tmp_path, rgb, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(rgb).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (40, 60, 3)
    np.testing.assert_array_equal(loaded, rgb)


def test_jpeg_is_close(rgb):
    smooth = cv2.GaussianBlur(rgb, (0, 0), 3)
    loaded = decode_image(_encode(Image.fromarray(smooth), "JPEG", quality=95))
    assert np.abs(loaded.astype(int) - smooth.astype(int)).mean() < 4


def test_grayscale_becomes_three_equal_channels():
    gray = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
    loaded = decode_image(_encode(Image.fromarray(gray), "PNG"))
    assert loaded.shape == (32, 64, 3)
    assert (loaded[:, :, 0] == loaded[:, :, 2]).all() and (loaded[:, :, 0] == gray).all()


def test_sixteen_bit_grayscale_png_scales_full_range():
    values = np.array([[0, 65535, 257 * 100, 257 * 200] * 4] * 16, dtype=np.uint16)
    loaded = decode_image(_encode(Image.fromarray(values), "PNG"))
    assert loaded[0, :4, 0].tolist() == [0, 255, 100, 200]


def test_sixteen_bit_colour_tiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb16 = np.zeros((20, 30, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 2] = 257 * 50
    path = tmp_path / "colour16.tif"
    tifffile.imwrite(path, rgb16, photometric="rgb")
    loaded = load_image(path)
    assert loaded.shape == (20, 30, 3)
    assert loaded[0, 0].tolist() == [255, 0, 50]


def test_alpha_is_composited_over_black():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:8, :, 3] = 255  # top opaque, bottom transparent
    loaded = decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded[0, 0].tolist() == [200, 200, 200]
    assert loaded[15, 0].tolist() == [0, 0, 0]


def test_exif_orientation_is_applied():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = 255  # left half white
    pil = Image.fromarray(image)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 clockwise on display
    loaded = decode_image(_encode(pil, "JPEG", exif=exif, quality=100))
    assert loaded.shape == (40, 20, 3)
    assert loaded[:20].mean() > 200 and loaded[20:].mean() < 50  # white half now on top


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(empty)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_truncated_png_is_refused(rgb):
    data = _encode(Image.fromarray(rgb), "PNG")
    with pytest.raises(ImageLoadError):
        decode_image(data[: len(data) // 2])


def test_non_image_bytes_are_refused():
    with pytest.raises(ImageLoadError, match="not a recognised image"):
        decode_image(b"%PDF-1.4 definitely not an image" * 10)


def test_wrong_extension_still_loads(tmp_path, rgb):
    path = tmp_path / "actually_png.jpg"
    Image.fromarray(rgb).save(path, format="PNG")
    np.testing.assert_array_equal(load_image(path), rgb)


def test_huge_header_is_refused_before_decoding():
    header = _encode(Image.new("L", (3000, 3000)), "PNG")
    with pytest.raises(ImageTooLargeError, match="limit"):
        decode_image(header, max_pixels=1_000_000)


def test_tiny_image_is_refused():
    with pytest.raises(ImageLoadError, match="at least"):
        decode_image(_encode(Image.new("RGB", (1, 1)), "PNG"))


@pytest.mark.parametrize(
    "array,expected",
    [
        (np.full((10, 10), 0.5, np.float32), 128),
        (np.full((10, 10, 1), 7, np.uint8), 7),
        (np.full((10, 10, 3), 65535, np.uint16), 255),
        (np.ones((10, 10), bool), 255),
    ],
)
def test_ensure_rgb_uint8_arrays(array, expected):
    out = ensure_rgb_uint8(array)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8 and int(out[0, 0, 0]) == expected


def test_ensure_rgb_uint8_rejects_bad_shapes():
    with pytest.raises(ImageLoadError):
        ensure_rgb_uint8(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ImageLoadError):
        ensure_rgb_uint8("not an array")  # type: ignore[arg-type]
