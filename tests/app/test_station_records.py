"""Acceptance of issue 12 with the real main window: login, inspection, dialogue, override, history,
export, and an engineer's confirmation that recalibrates the product so the same image is then OK."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter

from desktop_app.history.operators import hash_pin
from desktop_app.paths import demo_samples_dir
from desktop_app.references import DEMO_PRODUCT
from desktop_app.settings import Settings
from tests.app.conftest import make_station

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
QUESTIONS = ("Is there any anomaly in the image?", "Where is the anomaly?", "How large is it?")


def _defect() -> Path:
    return sorted((demo_samples_dir() / "test").glob("pitting_1*.jpg"))[0]


def _shot(window, name: str, dialog=None) -> Path:  # type: ignore[no-untyped-def]
    """The window at 1600x1000, with a dialog painted where it sits on screen (a separate top level)."""
    window.resize(1600, 1000)
    pixmap = window.grab()
    if dialog is not None:
        painter = QPainter(pixmap)
        painter.fillRect(pixmap.rect(), Qt.GlobalColor.transparent)
        top_left = window.mapFromGlobal(dialog.mapToGlobal(dialog.rect().topLeft()))
        if not pixmap.rect().contains(top_left):
            top_left = pixmap.rect().center() - dialog.rect().center()
        painter.drawPixmap(top_left, dialog.grab())
        painter.end()
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert pixmap.save(str(path))
    return path


def _shot_history(qtbot, window, name: str) -> Path:  # type: ignore[no-untyped-def]
    """The review workspace, the history's own full-size window, at 1600x1000."""
    from desktop_app.widgets.review_window import ReviewWindow

    review = window.findChild(ReviewWindow)
    review.show()
    review.resize(1600, 1000)
    qtbot.wait(300)  # let the freshly shown workspace lay out
    pixmap = review.grab()
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert pixmap.save(str(path))
    return path


def _log_in(qtbot, station, name: str, role: str, pin: str = "") -> None:  # type: ignore[no-untyped-def]
    dialog = station.login_dialog if station.login_dialog is not None and station.login_dialog.isVisible() \
        else station.ask_login()
    dialog.fill(name, role, pin)
    dialog.try_accept()
    qtbot.waitUntil(lambda: station.operator.name == name, timeout=5_000)


def _inspect(qtbot, station, path: Path):  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(station.controller.recordShown, timeout=90_000) as shown:
        station.controller.inspect(path, "file")
    return shown.args[0]


def test_login_dialogue_override_export_and_confirmed_reference(qtbot, engine, calibrated_data_dir, tmp_path):
    settings = Settings(require_login=True, default_role="inspector", engineer_pin_hash=hash_pin("4711"))
    station = make_station(qtbot, engine, settings, record_history=True)
    try:
        window, recorder, repo = station.window, station.history, station.repo
        # -- an inspector logs in ------------------------------------------------------------
        assert station.login_dialog is not None and station.login_dialog.isVisible()
        station.login_dialog.fill("ivan", "inspector")
        _shot(window, "station_login", station.login_dialog)
        _log_in(qtbot, station, "ivan", "inspector")
        assert not window.references.buttons["files"].isEnabled() and not window.action("settings").isEnabled()

        # -- inspects the demo defect and asks three questions -------------------------------
        first = _inspect(qtbot, station, _defect())
        assert first.result.verdict.value == "NG" and isinstance(first.history_key, int)
        for question in QUESTIONS:
            with qtbot.waitSignal(station.client.worker.chatFinished, timeout=90_000):
                window.chat.ask(question)
            qtbot.waitUntil(lambda: window.chat.streaming_id is None, timeout=10_000)

        # -- overrides the verdict with a reason, in the history browser ---------------------
        window.tabs.setCurrentWidget(station.history_tab)
        browser = station.history_tab.browser
        assert browser is not None and browser.store is recorder.store  # one store per process
        qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=10_000)
        browser.table.selectRow(0)
        assert not browser.confirm_button.isEnabled()
        dialog = browser.open_override()
        dialog.reason.setCurrentIndex(dialog.reason.findData("false_alarm"))
        dialog.comment.setPlainText("dark stain from the coolant, wipes off; the surface is intact")
        dialog.propose.setChecked(True)
        assert dialog.operator.text() == "ivan" and dialog.operator.isReadOnly()
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        qtbot.waitUntil(lambda: "Override NG → OK by ivan" in browser.details.toPlainText(), timeout=10_000)

        # -- the history shows the whole conversation and the override -----------------------
        text = browser.details.toPlainText()
        assert all(q in text for q in QUESTIONS) and "templates" in text and "wipes off" in text
        assert "raw boundary" in text and "efficientnet-lite0" in text and "reference set" in text
        _shot_history(qtbot, window, "history_detail_conversation")

        # -- the JSON-lines export holds them ------------------------------------------------
        out = tmp_path / "history.jsonl"
        browser.export("jsonl", out)
        qtbot.waitUntil(out.is_file, timeout=20_000)
        line = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert [m["text"] for m in line["messages"] if m["role"] == "user"] == list(QUESTIONS)
        assert all(m["model"] == "templates" and m["text"] for m in line["messages"] if m["role"] == "assistant")
        assert line["operator"] == "ivan" and line["overrides"][0]["operator"] == "ivan"
        assert line["overrides"][0]["reason_code"] == "false_alarm" and line["effective_verdict"] == "OK"
        assert line["models"]["backbone"]["sha256"] and line["raw_boundary"] is not None

        # -- an engineer logs in (a wrong PIN is refused) and confirms the false alarm --------
        wrong = station.ask_login()
        wrong.fill("erin", "engineer", "0000")
        wrong.try_accept()
        assert wrong.isVisible() and "PIN" in wrong.message.text() and station.operator.name == "ivan"
        _log_in(qtbot, station, "erin", "engineer", "4711")
        before = repo.product(DEMO_PRODUCT)
        browser.table.selectRow(0)
        qtbot.waitUntil(browser.confirm_button.isEnabled, timeout=5_000)
        with qtbot.waitSignal(station.controller.productReady, timeout=180_000):
            browser.confirm_button.click()
        after = repo.product(DEMO_PRODUCT)
        assert after.n_references == before.n_references + 1
        assert after.calibrated_at is not None and after.calibrated_at != before.calibrated_at

        # -- the next inspection of that same image is judged OK with the new calibration ----
        second = _inspect(qtbot, station, _defect())
        assert second.result.verdict.value == "OK", second.result.score
        (SHOTS / "issue12_acceptance.json").write_text(json.dumps({
            "first": [first.result.verdict.value, round(first.result.score, 3)],
            "after_confirmation": [second.result.verdict.value, round(second.result.score, 3)],
            "references": [before.n_references, after.n_references],
            "calibrated_at": [before.calibrated_at, after.calibrated_at]}, indent=2))
        old, new = (recorder.store.get(r.history_key, with_images=False).columns for r in (first, second))
        assert new["operator"] == "erin" and new["calibrated_at"] > old["calibrated_at"]
        assert new["reference_fingerprint"] != old["reference_fingerprint"]

        # -- the audit trail names who did what ----------------------------------------------
        browser.tabs.setCurrentIndex(2)
        events = [(e["kind"], e["actor"]) for e in reversed(browser.audit.reload())]
        for expected in [("login", "ivan"), ("override", "ivan"), ("login", "erin"), ("reference_added", "erin"),
                         ("reference_confirmed", "erin"),
                         ("calibrated", "erin")]:
            assert expected in events, events
        assert events.index(("override", "ivan")) < events.index(("calibrated", "erin"))
        _shot_history(qtbot, window, "history_audit_trail")
    finally:
        station.shutdown(save=False)
