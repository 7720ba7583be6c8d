"""Image sources: the camera driven by a video file through OpenCV, the hot folder, folder listing."""

from __future__ import annotations

import shutil
import threading

import cv2
import numpy as np
import pytest

from desktop_app.capture import CameraSource, HotFolderWatcher, list_images
from desktop_app.paths import demo_samples_dir
from tests.line import conftest as line_services

fake_camera = line_services.fake_camera  # the same fixture as tests/line (skips where Aravis is missing)


def write_video(path, frames: int = 12, size=(160, 120)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for index in range(frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:, :, 2] = 200  # red in BGR: the source must hand out RGB
        cv2.putText(frame, str(index), (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "line.avi"
    write_video(path)
    return path


def test_camera_delivers_rgb_frames_from_a_video_then_ends(qtbot, video):
    camera = CameraSource(interval_ms=5)
    frames = []
    camera.frameReady.connect(frames.append)
    try:
        with qtbot.waitSignal(camera.ended, timeout=10_000):
            camera.open(str(video))
        assert len(frames) >= 10
        assert frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
        assert frames[0][5, 5, 0] > 150 and frames[0][5, 5, 2] < 80  # red stays red (BGR -> RGB)
        captured = camera.capture()
        assert captured is not None and captured is not camera.latest_frame
        assert not camera.is_open
    finally:
        assert camera.stop()


class _RecordingCapture:
    """Wraps an OpenCV capture and records which thread releases it."""

    def __init__(self, inner) -> None:
        self.inner, self.released_in = inner, []

    def read(self):
        return self.inner.read()

    def release(self) -> None:
        self.released_in.append(threading.current_thread())
        self.inner.release()


def test_closing_the_camera_releases_it_in_the_reader_thread(qtbot, tmp_path):
    """A release from the GUI thread while the reader thread sits in read() deadlocked OpenCV (CI)."""
    path = tmp_path / "long.avi"
    write_video(path, frames=300)
    camera = CameraSource(interval_ms=5)
    try:
        with qtbot.waitSignal(camera.frameReady, timeout=10_000):
            camera.open(str(path))
        recording = _RecordingCapture(camera._reader._capture)
        camera._reader._capture = recording
        camera.close()
        assert not camera.is_open
        qtbot.waitUntil(lambda: bool(recording.released_in), timeout=5_000)
        assert recording.released_in[0] is not threading.main_thread()
    finally:
        assert camera.stop()


def test_unplugged_camera_is_a_message(qtbot, tmp_path):
    camera = CameraSource()
    try:
        with qtbot.waitSignal(camera.failed, timeout=10_000) as blocker:
            camera.open(str(tmp_path / "no-such-camera.avi"))
        assert "could not be opened" in blocker.args[0]
        assert camera.capture() is None and not camera.is_open
    finally:
        assert camera.stop()


def test_hot_folder_waits_for_a_file_to_be_complete(qtbot, tmp_path):
    source = sorted((demo_samples_dir() / "test").glob("*.jpg"))[0]
    (tmp_path / "already_there.jpg").write_bytes(source.read_bytes())
    watcher = HotFolderWatcher(interval_ms=60)
    ready = []
    watcher.fileReady.connect(ready.append)
    assert watcher.start(tmp_path)
    data = source.read_bytes()
    target = tmp_path / "new_part.jpg"
    chunks = [data[i : i + len(data) // 4] for i in range(0, len(data), len(data) // 4)]
    with target.open("wb") as handle:  # a writer that pauses longer than the poll interval
        for chunk in chunks[:-1]:
            handle.write(chunk)
            handle.flush()
            qtbot.wait(200)
            assert ready == [], "a partly written file was handed on"
        handle.write(chunks[-1])
    qtbot.waitUntil(lambda: ready == [target], timeout=5_000)
    assert target.read_bytes() == data
    qtbot.wait(300)
    assert ready == [target], "each file once; files present at start are ignored"
    watcher.stop()


def test_hot_folder_that_vanishes_or_never_existed(qtbot, tmp_path):
    watcher = HotFolderWatcher(interval_ms=50)
    messages = []
    watcher.failed.connect(messages.append)
    assert not watcher.start(tmp_path / "missing")
    folder = tmp_path / "hot"
    folder.mkdir()
    assert watcher.start(folder)
    old = folder / "before.png"
    old.write_bytes(b"\x89PNG old IEND")
    qtbot.wait(300)  # handed on before the folder goes
    ready, restored = [], []
    watcher.fileReady.connect(ready.append)
    watcher.restored.connect(restored.append)
    kept = tmp_path / "kept"
    shutil.copytree(folder, kept)
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=3_000)
    assert "no longer readable" in messages[1] and "waiting for it to come back" in messages[1]
    assert watcher.is_watching and watcher.waiting, "a vanished folder keeps the watcher armed"
    qtbot.wait(300)
    assert len(messages) == 2, "the loss is said once, not at every poll"
    shutil.copytree(kept, folder)  # the share is back with the file seen before and a new one
    new = folder / "new.png"
    new.write_bytes(b"\x89PNG new IEND")
    qtbot.waitUntil(lambda: bool(restored and ready), timeout=3_000)
    assert not watcher.waiting and "is back" in restored[0]
    qtbot.wait(300)
    assert ready == [new], "files seen before the loss are not inspected again; new ones are"
    watcher.stop()


def test_hot_folder_armed_while_missing_waits_for_it(qtbot, tmp_path):
    """Re-armed after a restart before its share is mounted: what is there when it appears is old."""
    watcher = HotFolderWatcher(interval_ms=50)
    messages, ready = [], []
    watcher.failed.connect(messages.append)
    watcher.fileReady.connect(ready.append)
    folder = tmp_path / "share"
    assert watcher.start(folder, wait_if_missing=True) and watcher.is_watching and watcher.waiting
    assert "not there yet" in messages[0]
    folder.mkdir()
    (folder / "old.png").write_bytes(b"\x89PNG IEND")
    qtbot.waitUntil(lambda: not watcher.waiting, timeout=3_000)
    fresh = folder / "fresh.png"
    fresh.write_bytes(b"\x89PNG IEND")
    qtbot.waitUntil(lambda: ready == [fresh], timeout=3_000)
    watcher.stop()
    assert not watcher.is_watching


def test_list_images_is_sorted_and_skips_other_files(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png"]
    assert list_images(tmp_path / "missing") == []


def test_gige_source_syntax():
    from desktop_app.capture.camera import parse_gige

    assert parse_gige("gige:127.0.0.1@127.0.0.1") == ("127.0.0.1", "127.0.0.1")
    assert parse_gige("GigE: Basler-21234567 ") == ("Basler-21234567", "")
    assert parse_gige(0) is None and parse_gige("rtsp://cam/stream") is None


def test_station_camera_can_be_a_gige_camera(qtbot, engine, calibrated_data_dir, fake_camera):
    """A `gige:` camera source: Aravis's simulated GigE Vision camera (real protocol, 127.0.0.1) is the
    station's camera for Space and continuous capture, and is let go when the camera stops."""
    from desktop_app.line.aravis_camera import GigECamera
    from desktop_app.settings import Settings
    from tests.app.conftest import make_station

    address = "127.0.0.1"
    source = f"gige:{address}@{address}"
    station = make_station(qtbot, engine, Settings(camera_source=source))
    controller = station.controller
    try:
        with qtbot.waitSignal(station.camera.frameReady, timeout=20_000):
            controller.toggle_camera()
        assert station.camera.is_open and station.camera.capture().shape == (512, 512, 3)
        with qtbot.waitSignal(controller.recordShown, timeout=60_000) as shown:
            controller.capture_or_next()  # Space
        record = shown.args[0]
        assert record.source == "camera" and record.image.shape == (512, 512, 3)
        from tests.app.test_screenshots import save

        save(station, "16_station_gige_camera")
        controller.toggle_camera()
        qtbot.waitUntil(lambda: not station.camera.is_open, timeout=5_000)
        qtbot.wait(300)  # the close runs in the camera thread
        again = GigECamera(address, address)  # the camera was let go: another client gets it
        again.close()
    finally:
        station.shutdown(save=False)


def test_a_gige_camera_that_is_not_there_is_a_message(qtbot):
    camera = CameraSource()
    try:
        with qtbot.waitSignal(camera.failed, timeout=30_000) as blocker:
            camera.open("gige:")
        assert "GigE camera" in blocker.args[0] and not camera.is_open
    finally:
        assert camera.stop()
