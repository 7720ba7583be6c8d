"""Issue 13, item 7 and a whole failed lot, through the real Station window: calibrations that can be
cancelled and never leave a stale 'calibrated', references of another product calibrated in the
background, a first chat answer that says the language model is loading, a hot folder that is
re-armed after a restart and after its folder comes back."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from anomalygpt_engine import EngineError
from desktop_app import worker as worker_module
from desktop_app.paths import demo_samples_dir
from desktop_app.references import DEMO_PRODUCT
from desktop_app.settings import Settings, load_settings
from desktop_app.worker import EngineWorker
from tests.app.conftest import make_station
from tests.app.test_station import demo_lot, demo_tests

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZE = (1600, 1000)


def _shot(station, name: str) -> None:  # type: ignore[no-untyped-def]
    station.window.resize(*SIZE)
    for _ in range(3):
        QApplication.processEvents()
    assert station.window.grab().save(str(SCREENSHOTS / f"{name}.png"), "PNG")


def _references() -> list[Path]:
    return sorted((demo_samples_dir() / "references").glob("*.jpg"))


def test_a_whole_failed_lot_is_an_error_row_and_count_per_part(qtbot, engine, calibrated_data_dir, tmp_path,
                                                               monkeypatch):
    folder = demo_lot(tmp_path / "lot", 1)  # 4 parts: one lot
    parts = sorted(folder.iterdir())

    def lot_breaks(images, refs):  # type: ignore[no-untyped-def]
        raise EngineError("out of device memory while scoring the lot")
        yield  # a generator, like the real one

    monkeypatch.setattr(engine, "inspect_lot", lot_breaks)
    station = make_station(qtbot, engine, Settings(lot_evidence=True), record_history=True)
    controller = station.controller
    try:
        with qtbot.waitSignal(controller.batchDone, timeout=60_000):
            controller.inspect_folder(folder)
        assert controller.counts.errors == len(parts) and controller.counts.total == 0
        assert station.window.counters.values["errors"].text() == str(len(parts))
        banner = station.window.banner
        assert banner.verdict_label.text() == "ERROR" and parts[-1].name in banner.detail_label.text()
        assert "not inspected" in station.window.status_message.text()
        assert set(controller.failed) == set(parts)  # remembered per file, as single failures are
        controller.step(+1)  # browsing onto a part of the failed lot shows its failure, counts nothing
        assert banner.verdict_label.text() == "ERROR" and parts[0].name in banner.detail_label.text()
        assert "device memory" in banner.score_label.text()
        assert controller.counts.errors == len(parts) and controller.counts.total == 0
        rows = {Path(row.source).name: row for row in station.history.store.query()}
        assert set(rows) == {p.name for p in parts}, "each part of the lot is a history row"
        for path in parts:
            row = rows[path.name]
            assert row.verdict == "ERROR" and row.source == str(path) and row.product == DEMO_PRODUCT
            assert "Lot inspection failed" in row.error and path.name in row.error and "device memory" in row.error
    finally:
        station.shutdown(save=False)


def test_cancel_stops_a_calibration_and_no_stale_status(qtbot, engine, calibrated_data_dir, monkeypatch):
    station = make_station(qtbot, engine)
    controller, controls = station.controller, station.window.controls
    shown: list[tuple[int, int, str, str]] = []
    original = controls.show_batch
    def recorded(done: int, total: int, message: str = "", cancel: str = "Cancel batch  (Esc)",
                 detail: str = "") -> None:
        shown.append((done, total, message, detail))
        original(done, total, message, cancel, detail)

    monkeypatch.setattr(controls, "show_batch", recorded)
    try:
        assert "calibrated" in controls.product_status.text()  # the demo product, ready
        station.repo.create_product("Bottle", "a product calibrating while we look")
        station.repo.add_reference_files("Bottle", _references())
        controller.activate_product("Bottle")
        # at once: never the demo product's "calibrated" while Bottle loads and calibrates
        assert "calibrated" not in controls.product_status.text().replace("calibrating", "")
        qtbot.waitUntil(lambda: "Bottle" in controller.calibrations and controls.cancel_button.isVisible(),
                        timeout=30_000)
        assert controls.cancel_button.text() == "Cancel calibration  (Esc)"
        assert "calibrating" in controls.product_status.text()
        assert "Calibrating Bottle from 4 references" in station.window.banner.score_label.text()
        qtbot.waitUntil(lambda: controls.progress.value() > 0, timeout=60_000)
        percent = int(100 * controls.progress.value() / controls.progress.maximum())
        assert controls.progress.format() == f"{percent} %"  # the bar's text agrees with the bar
        bar_text = controls.progress.fontMetrics().horizontalAdvance(controls.progress.format())
        assert bar_text < controls.progress.width() // 2, "the bar's text is never cut off"
        detail = controls.progress_detail
        assert detail.isVisible() and detail.wordWrap() and detail.text().startswith("Calibrating Bottle: ")
        encoding = [d for _d, _t, _m, d in shown if "Encoding" in d]
        assert encoding and all(d.split("image ")[1].split(" of ")[0] in "1234" for d in encoding), encoding
        assert all(d.endswith("of 4") for d in encoding)  # images, never rotations ("40/40" for 10 images)
        assert all(m == f"{int(100 * d / t) if t else 0} %" for d, t, m, _x in shown)
        assert "Calibrating Bottle" in station.window.status_message.text()  # not the demo's old line
        _shot(station, "13_calibration_cancel")
        station.window.action("cancel").trigger()  # Esc, as the button says
        qtbot.waitUntil(lambda: not controller.calibrations, timeout=60_000)
        assert "cancelled" in station.window.banner.score_label.text()
        assert "cancelled" in station.window.status_message.text()
        assert not controls.progress.isVisible() and not controls.cancel_button.isVisible()
        assert not controls.progress_detail.isVisible()
        assert controller.refs is None and not station.repo.product("Bottle").is_calibrated
        assert "calibration due" in controls.product_status.text()
    finally:
        station.shutdown(save=False)


def test_references_of_another_product_calibrate_in_the_background(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine)
    controller, banner = station.controller, station.window.banner
    try:
        demo_refs = controller.refs
        station.repo.create_product("Bottle")
        station.window.references.refresh(select="Bottle")
        station.window.references.add_files("Bottle", _references())  # what "Add images…" does
        qtbot.waitUntil(lambda: "Bottle" in controller.calibrations, timeout=10_000)
        assert "in the background" in station.window.status_message.text()
        assert controller.product == DEMO_PRODUCT and controller.refs is demo_refs  # the station keeps inspecting
        assert banner.verdict_label.text() == "READY" and "ready to inspect" in banner.score_label.text()
        assert "calibrated" in station.window.controls.product_status.text()  # the demo product's own status
        qtbot.waitUntil(lambda: "calibrating" in station.window.references.status.text(), timeout=60_000)
        qtbot.waitUntil(lambda: not controller.calibrations, timeout=240_000)
        assert station.repo.product("Bottle").is_calibrated, "ready before anyone selects it"
        assert "calibrated in the background" in station.window.status_message.text()
        assert "calibrated" in station.window.references.status.text()
        with qtbot.waitSignal(controller.productReady, timeout=30_000):
            controller.activate_product("Bottle")
        assert not controller.calibrations and controller.refs.product == "Bottle"  # loaded, not recalibrated
        assert "ready to inspect" in banner.score_label.text()
    finally:
        station.shutdown(save=False)


def test_first_answer_says_the_language_model_is_loading(qtbot, engine, calibrated_data_dir, monkeypatch):
    real = worker_module.expert_chat

    def slow_expert_chat(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(2.5)  # what loading a real language model looks like from the GUI (10-15 s there)
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "expert_chat", slow_expert_chat)
    monkeypatch.setattr(EngineWorker, "_llm_configured", lambda self: True)  # tests answer from templates
    station = make_station(qtbot, engine)
    controller, chat = station.controller, station.window.chat
    try:
        controller.set_images(demo_tests())
        with qtbot.waitSignal(controller.recordShown, timeout=120_000):
            controller.step(+3)
        statuses: list[str] = []
        original = chat.show_status
        monkeypatch.setattr(chat, "show_status", lambda i, m: (statuses.append(m), original(i, m)))
        chat.quick_buttons[0].click()
        qtbot.waitUntil(lambda: chat.status.isVisible(), timeout=10_000)
        assert "Loading the language model" in chat.status.text() and chat.busy.isVisible()
        qtbot.waitUntil(lambda: "<b>1 s</b>" in chat.status.text() or "<b>2 s</b>" in chat.status.text(),
                        timeout=5_000)  # the seconds so far count up
        _shot(station, "13_chat_loading_model")
        with qtbot.waitSignal(controller.chatEnded, timeout=60_000):
            pass
        assert not chat.status.isVisible() and not chat.busy.isVisible()
        first = chat.conversations[controller.current.id]
        assert first[-1][0] == "assistant" and first[-1][1] and first[-1][1] != "(no answer)"
        assert statuses[0].startswith("Loading the language model")
        asked = len(statuses)
        chat.quick_buttons[1].click()
        with qtbot.waitSignal(controller.chatEnded, timeout=60_000):
            pass
        assert len(statuses) == asked, "the model is loaded once: later answers do not say it again"
    finally:
        station.shutdown(save=False)


def test_hot_folder_is_rearmed_after_a_restart_and_when_its_folder_comes_back(qtbot, engine, calibrated_data_dir,
                                                                                 tmp_path):
    hot = tmp_path / "hot"
    hot.mkdir()
    first = make_station(qtbot, engine, Settings(hot_folder=str(hot)))
    first.window.controls.hot_button.setChecked(True)
    assert first.hot_folder.is_watching and load_settings().hot_folder_on  # saved at once (a crash keeps it)
    first.shutdown(save=True)

    station = make_station(qtbot, engine, load_settings())  # the restart
    controller, controls = station.controller, station.window.controls
    try:
        assert station.hot_folder.is_watching and controls.hot_button.isChecked()
        assert controls.hot_button.text() == "Stop watching"
        assert "re-armed" in station.window.status_message.text()
        shutil.rmtree(hot)  # the share drops
        qtbot.waitUntil(lambda: "waiting for it to come back" in station.window.status_message.text(),
                        timeout=10_000)
        assert station.hot_folder.is_watching and controls.hot_button.isChecked(), "still armed"
        assert "waiting" in controls.hot_label.text()
        _shot(station, "13_hot_folder_waiting")
        hot.mkdir()  # ... and comes back
        qtbot.waitUntil(lambda: "is back" in station.window.status_message.text(), timeout=10_000)
        assert "waiting" not in controls.hot_label.text()
        with qtbot.waitSignal(controller.recordShown, timeout=180_000):  # first inspection learns the match
            shutil.copy(demo_tests()[0], hot / "after_reconnect.jpg")
        assert controller.current.path == hot / "after_reconnect.jpg" and controller.counts.total == 1
        controls.hot_button.setChecked(False)
        assert not load_settings().hot_folder_on  # switched off by hand: not re-armed next time
    finally:
        station.shutdown(save=False)


def _fully_shown(label) -> bool:  # type: ignore[no-untyped-def]
    """The label's whole text fits in the height it has (wrapped, never cut off at the end)."""
    needed = label.heightForWidth(label.width()) if label.wordWrap() else label.sizeHint().height()
    fits_width = label.wordWrap() or label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    return label.isVisible() and fits_width and needed <= label.height()


def test_long_product_names_are_never_cut_off(qtbot, engine, calibrated_data_dir):
    """'Calibrating Bottle from 10 reference' and 'Metal nut: ready to' were cut off at the window's edge."""
    name = "Metal nut, flange side (supplier B, 2nd shift)"
    station = make_station(qtbot, engine)
    controller, banner, controls = station.controller, station.window.banner, station.window.controls
    try:
        station.repo.create_product(name)
        station.repo.add_reference_files(name, _references())
        for size in ((1280, 800), SIZE):
            station.window.resize(*size)
            banner.show_busy(f"Calibrating {name} from 10 references…")
            QApplication.processEvents()
            assert _fully_shown(banner.score_label), (size, banner.score_label.text())
            banner.show_ready(f"{name}: ready to inspect")
            QApplication.processEvents()
            assert _fully_shown(banner.score_label), (size, banner.score_label.text())
        with qtbot.waitSignal(controller.productReady, timeout=240_000):
            controller.activate_product(name)
        for size in ((1280, 800), SIZE):
            station.window.resize(*size)
            for _ in range(3):
                QApplication.processEvents()
            assert banner.score_label.text() == f"{name}: ready to inspect" and _fully_shown(banner.score_label)
            assert _fully_shown(controls.product_status) and "calibrated" in controls.product_status.text()
        combo = controls.product  # the narrow panel cuts the box: the name is in its tooltip and list
        assert combo.toolTip() == name
        assert combo.view().minimumWidth() >= combo.fontMetrics().horizontalAdvance(name)
        _shot(station, "13_long_product_name")
    finally:
        station.shutdown(save=False)
