"""The whole station (window, controller, worker, sources) driven like an inspector would."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from desktop_app.paths import demo_samples_dir
from desktop_app.references import DEMO_PRODUCT
from desktop_app.settings import Settings, load_settings
from tests.app.conftest import make_station
from tests.app.test_capture import write_video

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def demo_tests() -> list[Path]:
    return sorted((demo_samples_dir() / "test").glob("*.jpg"))


def demo_lot(folder: Path, copies: int) -> Path:
    """A folder holding `copies` numbered copies of every demo test image: a batch to inspect."""
    folder.mkdir()
    for copy in range(copies):
        for path in demo_tests():
            shutil.copy(path, folder / f"{copy:02d}_{path.name}")
    return folder


def test_first_run_calibrates_the_demo_and_space_inspects(qtbot, engine, data_dir):
    station = make_station(qtbot, engine)  # fresh data folder: the demo product is added and calibrated
    try:
        assert station.controller.product == DEMO_PRODUCT and station.repo.product(DEMO_PRODUCT).is_calibrated
        with qtbot.waitSignal(station.controller.recordShown, timeout=30_000) as blocker:
            QTest.keyClick(station.window, Qt.Key.Key_Space)
        record = blocker.args[0]
        assert record.path == demo_tests()[0]
        assert station.window.banner.verdict_label.text() == record.result.verdict.value
        assert station.window.counters.values["total"].text() == "1"
    finally:
        station.shutdown(save=False)


def test_event_loop_stays_responsive_during_a_batch(qtbot, station, tmp_path):
    folder = demo_lot(tmp_path / "batch", copies=6)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    progress_seen = []
    station.client.worker.progress.connect(
        lambda *a: progress_seen.append(station.window.controls.progress.isVisible())
    )
    with qtbot.waitSignal(station.controller.batchDone, timeout=120_000) as blocker:
        last[0] = time.perf_counter()
        station.controller.inspect_folder(folder)
    timer.stop()
    assert blocker.args == [24, False]
    assert station.controller.counts.total == 24
    assert any(progress_seen) and not station.window.controls.progress.isVisible()
    worst_ms = max(gaps) * 1000
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gui_responsiveness.json").write_text(
        json.dumps(
            {
                "images": 24,
                "ticks": len(gaps),
                "max_gap_ms": round(worst_ms, 1),
                "mean_gap_ms": round(1000 * sum(gaps) / len(gaps), 1),
            },
            indent=2,
        )
    )
    assert worst_ms < 100, f"the GUI thread stalled for {worst_ms:.0f} ms during the batch"


def test_batch_can_be_cancelled_with_escape(qtbot, engine, calibrated_data_dir, tmp_path):
    """A one-by-one batch (lot evidence off: a lot's results come together at its end)."""
    station = make_station(qtbot, engine, Settings(lot_evidence=False))
    try:
        _cancel_a_batch(qtbot, station, tmp_path)
    finally:
        station.shutdown(save=False)


def _cancel_a_batch(qtbot, station, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for copy in range(15):
        shutil.copy(demo_tests()[0], folder / f"{copy:02d}.jpg")
    shown = []
    station.controller.recordShown.connect(shown.append)
    station.controller.inspect_folder(folder)
    qtbot.waitUntil(lambda: len(shown) >= 1, timeout=30_000)
    with qtbot.waitSignal(station.controller.batchDone, timeout=30_000) as blocker:
        QTest.keyClick(station.window, Qt.Key.Key_Escape)
    assert blocker.args[1] is True and blocker.args[0] < 15
    assert "cancelled" in station.window.status_message.text()


def test_hot_folder_inspects_new_files(qtbot, engine, calibrated_data_dir, tmp_path):
    hot = tmp_path / "hot"
    hot.mkdir()
    station = make_station(qtbot, engine, Settings(hot_folder=str(hot)))
    try:
        station.window.controls.hot_button.setChecked(True)
        assert station.hot_folder.is_watching
        with qtbot.waitSignal(station.controller.recordShown, timeout=30_000) as blocker:
            shutil.copy(demo_tests()[2], hot / "arrived.jpg")
        assert blocker.args[0].source == "hot folder" and blocker.args[0].path.name == "arrived.jpg"
    finally:
        station.shutdown(save=False)


def test_camera_capture_through_the_station(qtbot, engine, calibrated_data_dir, tmp_path):
    video = tmp_path / "camera.avi"
    write_video(video, frames=300, size=(320, 240))
    station = make_station(qtbot, engine, Settings(camera_source=str(video)))
    try:
        with qtbot.waitSignal(station.camera.frameReady, timeout=10_000):
            QTest.keyClick(station.window, Qt.Key.Key_F5)
        assert station.camera.is_open
        with qtbot.waitSignal(station.controller.recordShown, timeout=30_000) as blocker:
            QTest.keyClick(station.window, Qt.Key.Key_Space)
        assert blocker.args[0].source == "camera" and blocker.args[0].image.shape == (240, 320, 3)
        QTest.keyClick(station.window, Qt.Key.Key_F5)
        assert not station.camera.is_open
    finally:
        station.shutdown(save=False)


def test_error_paths_end_in_the_status_bar(qtbot, engine, calibrated_data_dir, tmp_path):
    station = make_station(qtbot, engine, Settings(camera_source=str(tmp_path / "unplugged.avi")))
    try:
        with qtbot.waitSignal(station.camera.failed, timeout=10_000):
            station.controller.toggle_camera()
        assert "could not be opened" in station.window.status_message.text()
        broken = tmp_path / "half.jpg"
        broken.write_bytes(demo_tests()[0].read_bytes()[:500])
        station.controller.set_images([broken])
        with qtbot.waitSignal(station.client.worker.error, timeout=10_000):
            station.controller.step(+1)
        qtbot.waitUntil(lambda: "half.jpg" in station.window.status_message.text(), timeout=5_000)
        station.controller.inspect_folder(tmp_path / "empty-folder")
        assert "No images" in station.window.status_message.text()
        assert station.controller.counts.total == 0
    finally:
        station.shutdown(save=False)


def test_chat_belongs_to_the_inspection_shown(qtbot, station):
    controller, chat = station.controller, station.window.chat
    controller.set_images(demo_tests())
    with qtbot.waitSignal(controller.recordShown, timeout=30_000):
        controller.step(+3)  # pitting_1
    first = controller.current.id
    for button in chat.quick_buttons[:2]:
        button.click()
        assert chat.streaming_id == first and not button.isEnabled()  # one answer at a time
        qtbot.waitUntil(lambda: chat.streaming_id is None, timeout=60_000)
    turns = chat.conversations[first]
    assert [t[0] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[-3][1] and "Where is it?" in chat.transcript.toPlainText()
    with qtbot.waitSignal(controller.recordShown, timeout=30_000):
        controller.step(-2)
    assert chat.inspection_id != first and "Where is it?" not in chat.transcript.toPlainText()


def test_mark_good_adds_a_reference_and_recalibrates(qtbot, station):
    with qtbot.waitSignal(station.controller.recordShown, timeout=30_000):
        station.controller.step(+1)
    with qtbot.waitSignal(station.controller.productReady, timeout=60_000):
        QTest.keySequence(station.window, "Ctrl+G")
    info = station.repo.product(DEMO_PRODUCT)
    assert info.n_references == 5 and info.is_calibrated and station.controller.refs.size == 5


def test_counters_reset_and_layout_is_remembered(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine)
    with qtbot.waitSignal(station.controller.recordShown, timeout=30_000):
        station.controller.step(+1)
    station.window.counters.reset_button.click()
    assert station.window.counters.values["total"].text() == "0"
    station.shutdown(save=True)
    saved = load_settings()
    assert saved.window_geometry and saved.window_state and saved.current_product == DEMO_PRODUCT


def test_inspections_are_recorded_and_shown_in_the_history_tab(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine, record_history=True)
    try:
        with qtbot.waitSignal(station.controller.recordShown, timeout=30_000):
            station.controller.step(+1)
        qtbot.waitUntil(lambda: station.history.recorded == 1, timeout=30_000)
        station.window.tabs.setCurrentWidget(station.history_tab)
        browser = station.history_tab.browser
        assert browser is not None
        qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=10_000)
    finally:
        station.shutdown(save=False)
