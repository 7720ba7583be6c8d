"""The shift/lot PDF a quality engineer signs: header (product, station, operators, lot, period, who
generated it), NG, REVIEW and overridden parts with pictures, parts not inspected, a sign-off block,
the station's heatmap colours."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import numpy as np
import pytest
from history_helpers import at, record

from desktop_app.history import HistoryFilter, Sort
from desktop_app.history.export import export_pdf
from desktop_app.history.recording import build_failure
from desktop_app.history.rendering import colorize, overlay


@pytest.fixture
def shift(store):
    for i in range(24):
        verdict = "NG" if i % 6 == 0 else ("REVIEW" if i % 5 == 0 else "OK")
        record(store, verdict, score={"NG": 0.9, "REVIEW": 0.52, "OK": 0.1}[verdict], seed=i, time=at(i * 0.25),
               lot="L7", product="gear", operator=("ann", "bob")[i % 2], station="press-2",
               source=f"/line/in/part_{i:03d}.png")
    first_ng = store.query(HistoryFilter(verdicts=("NG",)), Sort("time", False), limit=1)[0].id
    store.override(first_ng, "OK", "false_alarm", "glare on the flank", operator="ivan")
    store.record_pending(build_failure("NO IMAGE", "file is empty (0 bytes)", product="gear", station="press-2",
                                       operator="ann", source="/line/in/empty.png", lot="L7", time=at(2)))
    return store


def test_heatmap_colours_are_the_stations_inferno():
    low, high = colorize(np.array([[0.0]], np.float32))[0, 0], colorize(np.array([[1.0]], np.float32))[0, 0]
    assert low.max() < 20  # inferno starts black (JET started dark blue)
    assert high[0] > 200 and high[1] > 200 and high[2] < 200  # ... and ends pale yellow
    image = np.full((4, 4, 3), 128, np.uint8)
    amap = np.array([[0.1] * 4, [0.3] * 4, [0.5] * 4, [0.9] * 4], np.float32)
    blended = overlay(image, amap)
    assert (blended[0] == 128).all()  # below 0.25: the part as it is
    assert not (blended[2] == 128).all()  # at the boundary: fully coloured, as on the station


def test_report_has_header_all_parts_to_review_and_a_sign_off(shift, tmp_path):
    out = tmp_path / "shift.pdf"
    for _ in export_pdf(shift, out, HistoryFilter(lot="L7"), title="Shift report", tz=dt.timezone.utc,
                        generated_by="erin"):
        pass
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext/pdfimages) not installed")
    text = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout.split())
    for expected in ("Product gear", "Station press-2", "Operators ann, bob", "Lot L7",
                     "Period 2025-03-03 06:00 to 2025-03-03 11:45", "by erin", "NG parts (3)", "REVIEW parts (4)",
                     "Overridden to OK (1)", "glare on the flank", "part_000.png", "Not inspected (1)",
                     "file is empty (0 bytes)", "Reviewed and released by", "Signature", "OK green, REVIEW amber"):
        assert expected in text, expected
    images = subprocess.run(["pdfimages", "-list", str(out)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert len(images) == 2 * 8  # image and heatmap of every NG, REVIEW and overridden part
