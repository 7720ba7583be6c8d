"""Prev/Next browse without counting twice; Re-inspect is the explicit, marked way to inspect again."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.app.test_station import demo_tests

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _press(qtbot, station, key) -> None:  # type: ignore[no-untyped-def]
    QTest.keyClick(station.window, key)
    qtbot.wait(20)


def _inspected(qtbot, station, key, before: int) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(station.controller.inspectionDone, timeout=30_000):
        _press(qtbot, station, key)
    assert station.controller.counts.total == before + 1


def test_browsing_shows_recorded_results_and_never_recounts(qtbot, station):
    controller, banner = station.controller, station.window.banner
    tests = demo_tests()
    controller.set_images(tests)
    done: list = []
    controller.inspectionDone.connect(done.append)
    for n in range(len(tests)):  # Right through the list: each image inspected once
        _inspected(qtbot, station, Qt.Key.Key_Right, n)
    assert [r.path for r in done] == tests
    verdicts = {r.path: r.result.verdict.value for r in done}
    counts = (controller.counts.ok, controller.counts.ng, controller.counts.review)
    for _ in range(len(tests) - 1):  # Left back to the first: recorded results, nothing inspected
        with qtbot.waitSignal(controller.recordShown, timeout=5_000) as shown:
            _press(qtbot, station, Qt.Key.Key_Left)
        record = shown.args[0]
        assert banner.verdict_label.text() == verdicts[record.path]
        assert "recorded result" in banner.detail_label.text()
    assert controller.index == 0 and len(done) == len(tests)
    _press(qtbot, station, Qt.Key.Key_Left)  # before the first: stays
    assert controller.index == 0 and "First image" in station.window.status_message.text()
    for _ in range(len(tests) - 1):
        _press(qtbot, station, Qt.Key.Key_Right)
    for _ in range(3):  # Space and Right after the last image: no wrap round, nothing counted
        _press(qtbot, station, Qt.Key.Key_Space)
        _press(qtbot, station, Qt.Key.Key_Right)
    qtbot.wait(300)
    assert len(done) == len(tests) and controller.index == len(tests) - 1
    assert (controller.counts.ok, controller.counts.ng, controller.counts.review) == counts
    assert controller.counts.total == len(tests)
    assert "End of the list" in station.window.status_message.text()


def test_reinspect_is_explicit_marked_and_replaces_the_count(qtbot, station):
    controller, banner = station.controller, station.window.banner
    controller.set_images(demo_tests())
    with qtbot.waitSignal(controller.inspectionDone, timeout=30_000):
        controller.step(+3)  # the pitting sample: NG
    first = controller.current
    assert first.result.verdict.value == "NG" and controller.counts.ng == 1
    with qtbot.waitSignal(controller.inspectionDone, timeout=30_000) as again:
        QTest.keySequence(station.window, "Ctrl+I")
    record = again.args[0]
    assert record.source == "re-inspection" and record.path == first.path and record.id != first.id
    assert controller.counts.ng == 1 and controller.counts.total == 1  # replaced, not added
    assert "re-inspection" in banner.detail_label.text()
    with qtbot.waitSignal(controller.inspectionDone, timeout=30_000):
        station.window.controls.reinspect_button.click()
    assert controller.counts.total == 1
    station.window.resize(1600, 1000)
    qtbot.wait(50)
    station.window.grab().save(str(SCREENSHOTS / "13_reinspection.png"), "PNG")


def test_a_reinspection_is_marked_in_the_history(qtbot, engine, calibrated_data_dir):
    from tests.app.conftest import make_station

    station = make_station(qtbot, engine, record_history=True)
    try:
        controller = station.controller
        controller.set_images(demo_tests())
        with qtbot.waitSignal(controller.inspectionDone, timeout=120_000):
            controller.step(+1)
        with qtbot.waitSignal(controller.inspectionDone, timeout=120_000):
            controller.reinspect()
        qtbot.waitUntil(lambda: station.history.recorded == 2, timeout=60_000)
        sources = [row.source for row in station.history.store.query(limit=10)]
        assert any(s.startswith("re-inspection: ") for s in sources), sources
        assert any(s == str(demo_tests()[0]) for s in sources), sources
    finally:
        station.shutdown(save=False)
