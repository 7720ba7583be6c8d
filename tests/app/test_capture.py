"""Image sources: the camera driven by a video file through OpenCV, the hot folder, folder listing."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from desktop_app.capture import CameraSource, HotFolderWatcher, list_images
from desktop_app.paths import demo_samples_dir


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
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=3_000)
    assert not watcher.is_watching and "no longer readable" in messages[1]


def test_list_images_is_sorted_and_skips_other_files(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png"]
    assert list_images(tmp_path / "missing") == []
