"""Unreadable images at the station: NO IMAGE on the banner, counted apart, never the last verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.settings import Settings
from tests.app.conftest import make_station
from tests.app.test_station import demo_tests

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZE = (1600, 1000)


def bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {
        "corrupt": folder / "corrupt.jpg",
        "text": folder / "notes.png",
        "tiny": folder / "tiny.png",
        "empty": folder / "empty.png",
    }
    files["corrupt"].write_bytes(demo_tests()[0].read_bytes()[:300])
    files["text"].write_text("this is a text file, not an image\n" * 20)
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(files["tiny"])
    files["empty"].write_bytes(b"")
    return files


def _inspect(qtbot, station, path: Path) -> None:
    controller = station.controller
    before = controller.counts.total + controller.counts.errors
    controller.inspect(path, "file")
    qtbot.waitUntil(lambda: controller.counts.total + controller.counts.errors == before + 1, timeout=30_000)


def test_unreadable_images_show_no_image_and_are_counted_apart(qtbot, engine, calibrated_data_dir, tmp_path):
    station = make_station(qtbot, engine)
    banner, controller = station.window.banner, station.controller
    try:
        _inspect(qtbot, station, demo_tests()[0])
        assert banner.verdict_label.text() == "OK" and controller.counts.ok == 1
        for kind, path in bad_files(tmp_path / "bad").items():
            _inspect(qtbot, station, path)
            assert banner.verdict_label.text() == "NO IMAGE", kind
            assert banner.property("verdict") == "NO IMAGE"
            assert path.name in banner.detail_label.text() and "Not inspected" in banner.detail_label.text()
            assert banner.score_label.text(), kind  # the reason, in plain words
            assert path.name in station.window.status_message.text()
            assert controller.current is None and station.window.view.result is None
        assert controller.counts.errors == 4 and controller.counts.total == 1 and controller.counts.ok == 1
        assert station.window.counters.values["errors"].text() == "4"
        assert station.window.counters.values["yield"].text() == "100.0 %"  # errors are not parts
        assert "0 bytes" in controller.failed[tmp_path / "bad" / "empty.png"]
        assert "at least" in controller.failed[tmp_path / "bad" / "tiny.png"]
        station.window.resize(*SIZE)
        qtbot.wait(50)
        station.window.grab().save(str(SCREENSHOTS / "13_no_image_banner.png"), "PNG")
        _inspect(qtbot, station, demo_tests()[2])
        assert banner.verdict_label.text() == "NG"
        status = station.window.status_message.text()
        assert "empty.png" not in status and demo_tests()[2].name in status  # the stale error line is gone
    finally:
        station.shutdown(save=False)


def test_hot_folder_garbage_shows_no_image(qtbot, engine, calibrated_data_dir, tmp_path):
    hot = tmp_path / "hot"
    hot.mkdir()
    station = make_station(qtbot, engine, Settings(hot_folder=str(hot)))
    try:
        station.window.controls.hot_button.setChecked(True)
        with qtbot.waitSignal(station.controller.recordShown, timeout=180_000):  # first inspection learns the match
            shutil.copy(demo_tests()[0], hot / "good.jpg")
        assert station.window.banner.verdict_label.text() == "OK"
        (hot / "label.png").write_text("PLC wrote a text file here\n" * 10)
        qtbot.waitUntil(lambda: station.controller.counts.errors == 1, timeout=30_000)
        assert station.window.banner.verdict_label.text() == "NO IMAGE"
        assert "label.png" in station.window.banner.detail_label.text()
    finally:
        station.shutdown(save=False)


def test_a_batch_with_unreadable_files_counts_them_apart(qtbot, station, tmp_path):
    folder = tmp_path / "lot"
    bad_files(folder)
    for path in demo_tests()[:2]:
        shutil.copy(path, folder / path.name)
    with qtbot.waitSignal(station.controller.batchDone, timeout=300_000):
        station.controller.inspect_folder(folder)
    counts = station.controller.counts
    assert counts.errors == 4 and counts.total == 2
    assert "4 not inspected" in station.window.status_message.text()


def test_a_wrong_part_says_so_on_the_banner(qtbot, station):
    """Another object (a brick texture) against the ball screw: WRONG PART, not a defect at a place."""
    import pytest

    skimage_data = pytest.importorskip("skimage.data")
    brick = np.ascontiguousarray(np.stack([skimage_data.brick()] * 3, axis=-1))
    with qtbot.waitSignal(station.controller.recordShown, timeout=300_000) as shown:  # learns the match first
        station.controller.inspect(brick, "camera")
    result = shown.args[0].result
    assert result.wrong_part and result.regions == ()
    banner = station.window.banner
    assert banner.verdict_label.text() == "WRONG PART"
    assert "wrong part or empty fixture" in banner.score_label.text()
    assert station.controller.counts.ng == 1  # a wrong part never passes
    station.window.resize(*SIZE)
    qtbot.wait(50)
    station.window.grab().save(str(SCREENSHOTS / "13_wrong_part.png"), "PNG")
