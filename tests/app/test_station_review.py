"""Issue 13, items 2 and 5 through the real Station window: parts that could not be inspected are
history rows (NO IMAGE / ERROR, reason, file, product, time); the review workspace is a full-size
window whose table follows a running batch, and a clicked row shows the whole part."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.references import DEMO_PRODUCT
from desktop_app.settings import Settings
from tests.app.conftest import make_station
from tests.app.test_station import demo_lot, demo_tests
from tests.app.test_station_errors import bad_files

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZE = (1600, 1000)


def _open_review(qtbot, station):  # type: ignore[no-untyped-def]
    """Open the workspace as an operator does: View ▸ Review workspace (Ctrl+R)."""
    station.window.action("review").trigger()
    review = station.review
    qtbot.waitUntil(review.isVisible, timeout=5_000)
    assert review.browser is not None and review.browser.store is station.history.store  # one store
    return review, review.browser


def _row_of(browser, name: str) -> int:  # type: ignore[no-untyped-def]
    model = browser.model
    return next(r for r in range(model.rowCount()) if Path(model.row_at(r).source).name == name)


def _click_row(qtbot, browser, row: int) -> None:  # type: ignore[no-untyped-def]
    table = browser.table
    table.scrollTo(browser.model.index(row, 0))
    rect = table.visualRect(browser.model.index(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _shot(review, name: str) -> Path:  # type: ignore[no-untyped-def]
    review.resize(*SIZE)
    for _ in range(3):
        QApplication.processEvents()
    pixmap = review.grab()
    assert (pixmap.width(), pixmap.height()) == SIZE
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert pixmap.save(str(path), "PNG")
    return path


def test_unreadable_images_are_recorded_filtered_and_exported(qtbot, engine, calibrated_data_dir, tmp_path):
    hot = tmp_path / "hot"
    hot.mkdir()
    station = make_station(qtbot, engine, Settings(hot_folder=str(hot)), record_history=True)
    controller = station.controller
    try:
        station.window.tabs.setCurrentWidget(station.history_tab)  # the side tab points to the workspace
        assert station.history_tab.open_button.isVisible() and "Ctrl+R" in station.history_tab.open_button.text()
        station.window.resize(*SIZE)
        for _ in range(3):
            QApplication.processEvents()
        station.window.grab().save(str(SCREENSHOTS / "13_history_tab_launcher.png"), "PNG")
        review, browser = _open_review(qtbot, station)
        assert browser.model.rowCount() == 0 and browser.count_label.text() == "0 inspections"
        assert station.history_tab.status.text() == "0 inspections recorded"
        files = bad_files(tmp_path / "bad")
        for path in files.values():
            errors = controller.counts.errors
            controller.inspect(path, "file")
            qtbot.waitUntil(lambda errors=errors: controller.counts.errors == errors + 1, timeout=30_000)
        qtbot.waitUntil(lambda: browser.model.rowCount() == 4, timeout=10_000)  # the open table followed
        assert browser.count_label.text() == "4 inspections"
        # a hot-folder file that cannot be read is a row too
        station.window.controls.hot_button.setChecked(True)
        (hot / "label.png").write_text("PLC wrote a text file here\n" * 10)
        qtbot.waitUntil(lambda: controller.counts.errors == 5, timeout=30_000)
        qtbot.waitUntil(lambda: browser.model.rowCount() == 5, timeout=10_000)
        rows = {Path(r.source).name: r for r in station.history.store.query()}
        assert set(rows) == {p.name for p in files.values()} | {"label.png"}
        assert all(r.verdict == "NO IMAGE" and r.product == DEMO_PRODUCT and r.error for r in rows.values())
        assert rows["empty.png"].source == str(files["empty"]) and "0 bytes" in rows["empty.png"].error
        assert "at least" in rows["tiny.png"].error and rows["label.png"].source == str(hot / "label.png")
        assert all(r.operator == station.operator.name and not r.has_image for r in rows.values())

        # the browser shows and filters them; nothing to override on a part that was not judged
        browser.verdict.setCurrentText("not inspected")
        qtbot.waitUntil(lambda: not browser._debounce.isActive(), timeout=5_000)
        assert browser.model.rowCount() == 5 and browser.model.filters.verdicts == ("NO IMAGE", "ERROR")
        _click_row(qtbot, browser, _row_of(browser, "empty.png"))
        assert browser.current is not None and browser.current.error == rows["empty.png"].error
        assert "NO IMAGE" in browser.headline.text() and "empty.png" in browser.headline.text()
        assert "0 bytes" in browser.details.toPlainText() and "Not inspected" in browser.details.toPlainText()
        assert not browser.override_button.isEnabled() and browser.open_override() is None
        assert not browser.image_label.has_picture() and "0 bytes" in browser.image_label.text()
        assert browser.model.data(browser.model.index(_row_of(browser, "empty.png"), 3)) == "–"  # no score

        # ... and the export of the filtered rows holds them, with the reason
        out = tmp_path / "not_inspected.csv"
        with qtbot.waitSignal(browser.exported, timeout=10_000) as done:
            browser.export("csv", out)
        assert done.args == [str(out), 5]
        with open(out, encoding="utf-8-sig") as handle:
            exported = list(csv.DictReader(handle))
        assert len(exported) == 5 and all(r["verdict"] == "NO IMAGE" and r["error"] for r in exported)
        # the export is confirmed where it happened and on the station's status bar (issue 13, item 6)
        note = browser.export_note.text()
        assert "saved" in note and out.name in note and tmp_path.as_uri() in note  # a link to the folder
        assert browser.table.width() > 500  # a long confirmation never squeezes the table
        assert f"Exported 5 inspections to {out}" == station.window.status_message.text()
        assert browser.export_dir != Path.cwd() and browser.export_dir.is_dir()  # not the working folder
        name = browser.export_name("pdf")
        assert name.startswith("inspections_not-inspected_") and name.endswith(".pdf")
        _shot(review, "13_review_not_inspected")

        # a judged part after them: the stale error line goes, the part is OK/NG, not "not inspected"
        controller.inspect(demo_tests()[0], "file")
        qtbot.waitUntil(lambda: controller.counts.total == 1, timeout=300_000)
        status = station.window.status_message.text()
        assert "label.png" not in status and demo_tests()[0].name in status
        qtbot.wait(browser.LIVE_MS + 200)
        assert browser.model.rowCount() == 5  # still filtered to the parts not inspected
        browser.verdict.setCurrentText("(any)")
        qtbot.waitUntil(lambda: browser.model.rowCount() == 6, timeout=5_000)
        assert browser.statistics is not None
    finally:
        station.shutdown(save=False)


def test_review_workspace_follows_a_batch_and_a_clicked_row_shows_the_part(qtbot, engine, calibrated_data_dir,
                                                                          tmp_path):
    station = make_station(qtbot, engine, Settings(lot_evidence=False), record_history=True)
    controller = station.controller
    try:
        review, browser = _open_review(qtbot, station)
        assert review.width() >= 1200 and review.height() >= 800  # a workspace, not a dock
        folder = demo_lot(tmp_path / "lot", 3)
        (folder / "zz_corrupt.jpg").write_bytes(demo_tests()[0].read_bytes()[:300])
        total = len(demo_tests()) * 3 + 1
        during: list[int] = []  # table sizes seen while the batch was still running
        browser.model.modelReset.connect(
            lambda: during.append(browser.model.rowCount()) if controller.batch_request is not None else None)
        with qtbot.waitSignal(controller.batchDone, timeout=600_000):
            controller.inspect_folder(folder)
        assert any(0 < n < total for n in during), f"the table did not refresh during the batch: {during}"
        qtbot.waitUntil(lambda: browser.model.rowCount() == total, timeout=10_000)
        names = {browser.model.data(browser.model.index(r, 1)) for r in range(total)}
        assert "zz_corrupt.jpg" in names and f"00_{demo_tests()[2].name}" in names  # the file-name column

        # clicking an NG row shows the part: image, heatmap, regions, record text
        defect = f"01_{demo_tests()[2].name}"
        row = _row_of(browser, defect)
        _click_row(qtbot, browser, row)
        current = browser.current
        assert current is not None and Path(current.source).name == defect and current.effective_verdict == "NG"
        assert browser.image_label.has_picture() and browser.heatmap_label.has_picture()
        assert browser.image_label._regions, "the regions are outlined on the picture"
        assert defect in browser.headline.text() and "NG" in browser.headline.text()
        assert "Regions:" in browser.details.toPlainText() and "Traceability" in browser.details.toPlainText()
        assert browser.override_button.isEnabled() and browser.override_button.isVisible()
        assert browser.export_box.isVisible() and browser.confirm_button.isVisible()

        # a question asked at the station joins the record under review while it is open
        asked = next(r for r in controller.records.values() if r.history_key == current.id)
        with qtbot.waitSignal(station.client.worker.chatFinished, timeout=120_000):
            controller.ask(asked.id, "Is there any anomaly in the image?")
        qtbot.waitUntil(lambda: "Is there any anomaly" in browser.details.toPlainText(), timeout=10_000)
        assert browser.current.id == current.id

        # an override is part of the record and of its audit lines, shown at once
        dialog = browser.open_override()
        dialog.reason.setCurrentIndex(dialog.reason.findData("false_alarm"))
        dialog.comment.setPlainText("coolant stain, wipes off; surface intact")
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        qtbot.waitUntil(lambda: "Override NG → OK" in browser.details.toPlainText(), timeout=10_000)
        assert "Audit" in browser.details.toPlainText() and "override" in browser.details.toPlainText()
        assert browser.current.id == current.id  # the part under review stays selected
        _shot(review, "13_review_workspace")

        # the shift report from the workspace: who generated it, the parts to look at, the sign-off
        report = tmp_path / "shift.pdf"
        with qtbot.waitSignal(browser.exported, timeout=60_000):
            browser.export("pdf", report)
        assert report.read_bytes().startswith(b"%PDF")
        if shutil.which("pdftotext") and shutil.which("pdftoppm"):
            text = " ".join(subprocess.run(["pdftotext", str(report), "-"], capture_output=True,
                                           text=True).stdout.split())
            assert f"by {station.operator.name}" in text and "Overridden to OK (1)" in text
            assert "NG parts (5)" in text and "Not inspected (1)" in text and "Reviewed and released by" in text
            subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "2", str(report),
                            str(SCREENSHOTS / "13_shift_report_page")], check=True)

        # the statistics of the same selection: parts not inspected are counted apart
        browser.tabs.setCurrentIndex(1)
        summary = browser.statistics.summary.text()
        assert "12 inspected" in summary and "not inspected 1" in summary and "NG 5" in summary
        _shot(review, "13_review_statistics")
        browser.tabs.setCurrentIndex(0)

        # the keyboard walks through the parts: Down shows the next one
        browser.table.setFocus()
        before = browser.current.id
        qtbot.keyClick(browser.table, Qt.Key.Key_Down)
        assert browser.current is not None and browser.current.id != before

        # a new part at the station arrives while the workspace is open, and the selection stays
        selected = browser.current.id
        with qtbot.waitSignal(controller.recordShown, timeout=120_000):
            controller.inspect(demo_tests()[3], "file")
        qtbot.waitUntil(lambda: browser.model.rowCount() == total + 1, timeout=10_000)
        assert browser.current.id == selected
        assert browser.model.row_at(browser.table.currentIndex().row()).id == selected
    finally:
        station.shutdown(save=False)
