"""History browser, statistics view and override dialog with real widgets (pytest-qt)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_helpers import at, record  # noqa: E402

from desktop_app.history import HistoryFilter, HistoryStore  # noqa: E402

SHOTS = Path("/tmp/shots_history")


@pytest.fixture
def filled(tmp_path):
    with HistoryStore(tmp_path / "db") as store:
        for i in range(450):
            verdict = "NG" if i % 9 == 0 else ("REVIEW" if i % 13 == 0 else "OK")
            score = {"NG": 0.85, "REVIEW": 0.5, "OK": 0.08 + (i % 7) * 0.03}[verdict]
            iid = record(store, verdict, score, product=("bracket", "gear")[i % 2], seed=i, time=at(i * 0.2),
                         operator=("ann", "bob")[i % 3 == 0], lot=f"L{i // 100}", serial=f"SN{i:04d}")
            if i == 9:
                store.add_chat_message(iid, "user", "Is there any anomaly in the image?")
                store.add_chat_message(iid, "assistant", "Yes. A dent at the top left, 6 % of the part.")
        yield store


def _shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(SHOTS / f"{name}.png"))


def test_browser_lazy_filters_and_detail(qtbot, filled):
    from desktop_app.widgets.history_browser import HistoryBrowser

    browser = HistoryBrowser(filled, user="ivan")
    qtbot.addWidget(browser)
    browser.resize(1280, 760)
    browser.show()
    qtbot.waitExposed(browser)
    model = browser.model
    assert model.rowCount() == 450
    assert model.queries <= 2  # only the visible page was fetched, not 450 rows
    browser.verdict.setCurrentText("NG")
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    assert all(model.row_at(r).effective_verdict == "NG" for r in range(model.rowCount()))
    browser.text.setText("dent")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    browser.table.selectRow(0)
    assert browser.current is not None and "top left" in browser.details.toPlainText()
    assert "Is there any anomaly" in browser.details.toPlainText() and browser.details.isReadOnly()
    assert browser.image_label.pixmap() is not None and not browser.heatmap_label.pixmap().isNull()
    _shot(browser, "browser_detail")
    browser.text.setText("")
    browser.verdict.setCurrentText("(any)")
    qtbot.waitUntil(lambda: model.rowCount() == 450)
    model.sort(3, __import__("PySide6.QtCore").QtCore.Qt.SortOrder.DescendingOrder)
    assert model.row_at(0).score >= model.row_at(449).score


def test_override_dialog_and_reference_confirmation(qtbot, filled):
    from desktop_app.widgets.history_browser import HistoryBrowser
    from desktop_app.widgets.override_dialog import OverrideDialog

    browser = HistoryBrowser(filled, user="erin", role="engineer")
    qtbot.addWidget(browser)
    browser.verdict.setCurrentText("NG")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 50)
    browser.table.selectRow(0)
    target = browser.current
    dialog = browser.open_override()
    assert isinstance(dialog, OverrideDialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled()  # a comment is required
    dialog.comment.setPlainText("Reflection from the fixture, part is fine")
    assert dialog.verdict.currentText() == "OK" and dialog.propose.isEnabled()
    dialog.propose.setChecked(True)
    dialog.resize(520, 330)
    _shot(dialog, "override_dialog")
    ok.click()
    rec = filled.get(target.id, with_images=False)
    assert rec.row.verdict == "NG" and rec.row.effective_verdict == "OK"
    assert filled.audit_events("override")[0]["actor"] == "erin"
    assert browser.model.rowCount() == 49  # no longer NG under the NG filter
    browser.show_record(filled.query(HistoryFilter(ids=(target.id,)))[0])
    assert browser.confirm_button.isEnabled()
    browser.confirm_button.click()
    assert [r.source_inspection_id for r in filled.list_references(target.product)] == [target.id]


def test_export_with_progress_and_statistics(qtbot, filled, tmp_path):
    from desktop_app.widgets.history_browser import HistoryBrowser
    from desktop_app.widgets.statistics_view import StatisticsView

    browser = HistoryBrowser(filled)
    qtbot.addWidget(browser)
    browser.product.setCurrentText("gear")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 225)
    progress = browser.export("csv", tmp_path / "gear.csv")
    qtbot.waitUntil(lambda: (tmp_path / "gear.csv").exists(), timeout=10000)
    qtbot.waitUntil(lambda: not progress.isVisible())
    with open(tmp_path / "gear.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 225 and {r["product"] for r in rows} == {"gear"}
    view = StatisticsView(filled)
    qtbot.addWidget(view)
    view.resize(900, 620)
    view.group.setCurrentText("shift")
    assert view.stats is not None and view.stats.overall.total == 450
    assert sum(g.total for g in view.stats.groups) == 450 and view.boundary_line.value() == 0.5
    view.show()
    qtbot.waitExposed(view)
    _shot(view, "statistics")
