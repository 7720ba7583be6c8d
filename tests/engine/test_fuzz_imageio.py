"""Hostile files for the image loader: every case ends in an RGB image or an ImageLoadError, quickly.

Valid encodings of every supported format are mutated by hypothesis (truncated, bytes flipped,
junk inserted, headers overwritten, wrong extensions) and hand-made headers claim 0x0, 1x1,
30000x30000 and beyond. Anything else (another exception type, a crash, a case slower than
CASE_LIMIT_S) fails. `benchmarks/fuzz_inputs.py` runs the same checks with many more examples.
"""
from __future__ import annotations

import io
import signal
import struct
import time
import zlib
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from anomalygpt_engine.errors import ImageLoadError, ImageTooLargeError
from anomalygpt_engine.imageio import MIN_SIDE, SUPPORTED_SUFFIXES, decode_image, load_image

CASE_LIMIT_S = 10.0
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "PPM", "GIF")
SUITE = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class CaseTimeout(Exception):
    """A single decode ran past CASE_LIMIT_S: a hang as far as a station is concerned."""


@contextmanager
def time_limit(seconds: float):
    def _alarm(_signum, _frame):
        raise CaseTimeout(f"case still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@cache
def seed_files() -> dict[str, bytes]:
    """Small valid files: every format, plus 16-bit, alpha, palette, LZW-TIFF and EXIF variants."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    out: dict[str, bytes] = {}
    for fmt in FORMATS:
        buf = io.BytesIO()
        rgb.save(buf, fmt)
        out[fmt] = buf.getvalue()
    variants = {
        "PNG16": (Image.fromarray(rng.integers(0, 65535, (12, 16), dtype=np.uint16)), "PNG", {}),
        "PNG-RGBA": (rgb.convert("RGBA"), "PNG", {}),
        "PNG-P": (rgb.convert("P"), "PNG", {}),
        "TIFF-LZW": (rgb, "TIFF", {"compression": "tiff_lzw"}),
        "PGM": (rgb.convert("L"), "PPM", {}),
        "JPEG-EXIF": (rgb, "JPEG", {"exif": _exif_orientation(6)}),
    }
    for key, (image, fmt, options) in variants.items():
        buf = io.BytesIO()
        image.save(buf, fmt, **options)
        out[key] = buf.getvalue()
    return out


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def check_outcome(data: bytes, path: Path | None = None) -> str:
    """The contract: a well-formed RGB image or an ImageLoadError; returns which, for statistics."""
    with time_limit(CASE_LIMIT_S):
        try:
            if path is None:
                image = decode_image(data)
            else:
                path.write_bytes(data)
                image = load_image(path)
        except ImageTooLargeError:
            return "too large"
        except ImageLoadError as exc:
            assert str(exc), "errors must say what is wrong"
            return "refused"
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= MIN_SIDE
    assert image.flags.c_contiguous
    return "decoded"


@st.composite
def mutated_files(draw) -> bytes:
    """A valid seed file damaged in one to three ways."""
    data = bytearray(seed_files()[draw(st.sampled_from(sorted(seed_files())))])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "overwrite_header", "append", "zero_tail"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "overwrite_header":
            junk = draw(st.binary(min_size=1, max_size=16))
            start = draw(st.integers(0, min(len(data) - 1, 40)))
            data[start : start + len(junk)] = junk
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=256))
        else:
            data[at:] = bytes(len(data) - at)
    return bytes(data)


@SUITE
@given(data=mutated_files())
def test_damaged_files_of_every_format_decode_or_raise_image_load_error(data):
    check_outcome(data)


@SUITE
@given(data=mutated_files(), suffix=st.sampled_from(SUPPORTED_SUFFIXES + (".txt", ".raw", "")))
def test_damaged_files_through_load_image_with_any_extension(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("fuzz", numbered=True)
    check_outcome(data, folder / f"part{suffix}")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_refused_or_decoded(data):
    if not data:
        with pytest.raises(ImageLoadError):
            decode_image(data)
        return
    check_outcome(data)


# ---- hand-made headers --------------------------------------------------------------------
def png(width: int, height: int, bit_depth: int = 8, colour: int = 2, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def png_bomb(width: int, height: int) -> bytes:
    """1-bit grey, all zero: a few kB on disk, width x height pixels once decoded."""
    row = b"\0" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png(width, height, bit_depth=1, colour=0, idat=idat)


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 64, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 64, 2835, 2835, 0, 0)
    return header + info + b"\0" * 64


def tiff(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 8 + 4), (277, 3, 1, 1), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0" * 4
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0" * 64


def radiance_bomb(width: int, height: int) -> bytes:
    """Run-length .hdr that Pillow cannot identify and OpenCV would decode to float32 in full."""
    runs, left = b"", width
    while left > 0:
        n = min(127, left)
        runs += bytes([128 + n, 128])
        left -= n
    line = bytes([2, 2, width >> 8, width & 255]) + runs * 4
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (height, width) + line * height


HEADERS = {
    "png 0x0": (png(0, 0), ImageLoadError),
    "png 1x1": (png(1, 1), ImageLoadError),
    "png 30000x30000": (png(30000, 30000), ImageTooLargeError),
    "png 2^31-1 wide": (png(2**31 - 1, 8), ImageLoadError),
    "png bomb 20000x20000": (png_bomb(20000, 20000), ImageTooLargeError),
    "jpeg 1x1": (jpeg(1, 1), ImageLoadError),
    "jpeg 30000x30000": (jpeg(30000, 30000), ImageTooLargeError),
    "jpeg 65500x65500": (jpeg(65500, 65500), ImageTooLargeError),
    "bmp 1x1": (bmp(1, 1), ImageLoadError),
    "bmp 30000x30000": (bmp(30000, 30000), ImageTooLargeError),
    "bmp 30000x-30000 (top-down)": (bmp(30000, -30000), ImageTooLargeError),
    "tiff 1x1": (tiff(1, 1), ImageLoadError),
    "tiff 30000x30000": (tiff(30000, 30000), ImageTooLargeError),
    "pgm 30000x30000": (b"P5\n30000 30000\n255\n" + b"\0" * 64, ImageTooLargeError),
    "ppm 1x1": (b"P6\n1 1\n255\n\0\0\0", ImageLoadError),
    "hdr bomb 30000x30000 (header)": (radiance_bomb(30000, 1), ImageLoadError),
    "hdr bomb 4000x4000 (complete)": (radiance_bomb(4000, 4000), ImageLoadError),
    "zip file": (b"PK\x03\x04" + b"\0" * 100, ImageLoadError),
    "pdf file": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", ImageLoadError),
    "text": (b"lot 42, serial 0001\n" * 10, ImageLoadError),
}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_hostile_headers_are_refused_quickly_without_decoding(name):
    data, expected = HEADERS[name]
    started = time.perf_counter()
    with time_limit(CASE_LIMIT_S), pytest.raises(expected) as caught:
        decode_image(data, name=name)
    assert name in str(caught.value)
    assert time.perf_counter() - started < 3.0, "a refused header must not be decoded first"


def test_zero_byte_and_directory_and_missing_files(tmp_path):
    for suffix in SUPPORTED_SUFFIXES:
        (tmp_path / f"empty{suffix}").write_bytes(b"")
        with pytest.raises(ImageLoadError, match="empty"):
            load_image(tmp_path / f"empty{suffix}")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageLoadError):
        load_image(tmp_path / "folder.png")
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_every_seed_decodes_so_the_mutations_start_from_valid_files():
    for name, data in seed_files().items():
        assert check_outcome(data) == "decoded", name
