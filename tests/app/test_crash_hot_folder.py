"""Hostile files in the hot folder: never a crash, never a silent file; memory bounded over months."""

from __future__ import annotations

import shutil

from desktop_app.capture import HotFolderWatcher
from desktop_app.paths import demo_samples_dir
from desktop_app.settings import Settings
from tests.app.conftest import make_station

GOOD = sorted((demo_samples_dir() / "test").glob("*.jpg"))[0]


def _drop_hostile_files(folder) -> dict[str, bytes]:
    files = {
        "notes.txt": b"not an image",
        "empty.png": b"",
        "fake.jpg": b"lot 42 serial 7\n" * 20,  # never gets a JPEG end marker
        "truncated.png": GOOD.read_bytes()[:500],  # wrong content for its name, and cut short
        "bomb.bmp": b"BM" + b"\0" * 60,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    shutil.copy(GOOD, folder / "good.jpg")
    return files


def test_incomplete_looking_files_are_handed_on_after_the_grace_period(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(HotFolderWatcher, "GIVE_UP_S", 0.6)
    watcher = HotFolderWatcher(interval_ms=50)
    ready = []
    watcher.fileReady.connect(lambda path: ready.append(path.name))
    assert watcher.start(tmp_path)
    _drop_hostile_files(tmp_path)
    qtbot.waitUntil(lambda: len(ready) == 2, timeout=3_000)
    assert sorted(ready) == ["bomb.bmp", "good.jpg"], "complete-looking files first; the rest wait"
    qtbot.waitUntil(lambda: len(ready) == 5, timeout=5_000)
    assert sorted(ready) == ["bomb.bmp", "empty.png", "fake.jpg", "good.jpg", "truncated.png"]
    qtbot.wait(300)
    assert len(ready) == 5, "each file once; non-image names never"
    for name in ("fake.jpg", "good.jpg", "empty.png"):
        (tmp_path / name).unlink()
    qtbot.wait(200)
    assert watcher._seen == {"truncated.png", "bomb.bmp"}, "names of files moved away are forgotten"
    watcher.stop()


def test_hostile_hot_folder_files_end_as_status_lines(qtbot, engine, calibrated_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(HotFolderWatcher, "GIVE_UP_S", 0.5)
    hot = tmp_path / "hot"
    hot.mkdir()
    station = make_station(qtbot, engine, Settings(hot_folder=str(hot)))
    errors: list[str] = []
    shown: list[str] = []
    station.client.worker.error.connect(lambda _request, message: errors.append(message))
    station.controller.recordShown.connect(lambda record: shown.append(record.name))
    try:
        station.window.controls.hot_button.setChecked(True)
        _drop_hostile_files(hot)
        qtbot.waitUntil(lambda: len(errors) == 4 and shown == ["good.jpg"], timeout=60_000)
        joined = "\n".join(errors)
        for name in ("empty.png", "fake.jpg", "truncated.png", "bomb.bmp"):
            assert name in joined, joined
        assert "empty" in joined and station.window.status_message.text() in errors
        assert station.hot_folder.is_watching, "the station keeps watching after bad files"
    finally:
        station.shutdown(save=False)
