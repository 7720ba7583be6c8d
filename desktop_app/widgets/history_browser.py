"""History browser: filters, the lazy table, a read-only detail pane, overrides, exports, statistics."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.history import HistoryFilter, HistoryStore, InspectionRow
from desktop_app.history.export import EXPORTERS
from desktop_app.history.rendering import overlay
from desktop_app.widgets.history_details import AuditView, details_html
from desktop_app.widgets.history_table_model import HistoryTableModel, RowRole
from desktop_app.widgets.override_dialog import OverrideDialog
from desktop_app.widgets.statistics_view import StatisticsView

ANY = "(any)"


def to_pixmap(rgb: np.ndarray, max_side: int = 360) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


class HistoryBrowser(QWidget):
    """`user` and `role` come from the station's login (through `recorder`); only an engineer may
    confirm references. With a recorder every write goes through it, under the logged-in operator."""

    record_opened = Signal(int)
    referenceConfirmed = Signal(str, int)  # product, inspection id: the catalog adds it and recalibrates

    def __init__(self, store: HistoryStore, user: str = "", role: str = "inspector",
                 parent: QWidget | None = None, recorder=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.store, self.user, self.role, self.recorder = store, user, role, recorder
        self.refresh_operator()
        self.current: InspectionRow | None = None
        self.model = HistoryTableModel(store, parent=self)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.apply_filters)
        tabs = QTabWidget()
        tabs.addTab(self._build_browse(), "Inspections")
        self.statistics = StatisticsView(store)
        tabs.addTab(self.statistics, "Statistics")
        self.audit = AuditView(store)
        tabs.addTab(self.audit, "Audit trail")
        self.tabs = tabs
        tabs.currentChanged.connect(self._on_tab)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_filters())
        layout.addWidget(tabs)
        self.reload_choices()

    def refresh_operator(self) -> None:
        """Take the logged-in operator from the recorder (login changes while the tab exists)."""
        if self.recorder is not None:
            self.user, self.role = self.recorder.operator.name, self.recorder.operator.role
        if hasattr(self, "confirm_button") and self.current is not None:
            self.show_record(self.current)

    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.statistics.set_filters(self.filters())
        elif index == 2:
            self.audit.reload()

    # ---- layout ----------------------------------------------------------------------------
    def _build_filters(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.product = QComboBox()
        self.verdict = QComboBox()
        self.verdict.addItems([ANY, "OK", "REVIEW", "NG", "REVIEW+NG"])
        self.operator = QComboBox()
        today = QDate.currentDate()
        self.date_from, self.date_to = QDateEdit(today.addDays(-30)), QDateEdit(today)
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.use_dates = QComboBox()
        self.use_dates.addItems(["all dates", "date range"])
        self.text = QLineEdit(placeholderText="text in dialogue…")
        self.count_label = QLabel()
        for label, widget in (("Product", self.product), ("Verdict", self.verdict), ("Operator", self.operator),
                              ("", self.use_dates), ("", self.date_from), ("–", self.date_to), ("", self.text)):
            if label:
                bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.count_label, 1)
        for combo in (self.product, self.verdict, self.operator, self.use_dates):
            combo.currentIndexChanged.connect(self._debounce.start)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._debounce.start)
        self.text.textChanged.connect(self._debounce.start)
        return bar

    def _build_browse(self) -> QWidget:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setColumnWidth(0, 150)  # the full local time stamp
        for column in (2, 3, 8):
            self.table.setColumnWidth(column, 80)
        self.table.verticalHeader().hide()
        self.table.selectionModel().currentRowChanged.connect(self._on_row)
        self.model.modelReset.connect(self._on_reset)
        self.image_label, self.heatmap_label = QLabel("no selection"), QLabel()
        for label in (self.image_label, self.heatmap_label):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(240, 180)
        self.details = QTextBrowser()  # read-only by nature: the record is not edited here
        self.override_button = QPushButton("Override verdict…", enabled=False)
        self.override_button.clicked.connect(self.open_override)
        self.confirm_button = QPushButton("Confirm as reference", enabled=False)
        self.confirm_button.clicked.connect(self.confirm_reference)
        self.export_box = QComboBox()
        self.export_box.addItems(["Export…", "CSV", "XLSX", "PDF report", "JSON lines"])
        self.export_box.activated.connect(self._on_export_choice)
        pictures = QHBoxLayout()
        pictures.addWidget(self.image_label)
        pictures.addWidget(self.heatmap_label)
        buttons = QHBoxLayout()
        for w in (self.override_button, self.confirm_button, self.export_box):
            buttons.addWidget(w)
        detail = QWidget()
        column = QVBoxLayout(detail)
        column.addLayout(pictures)
        column.addWidget(self.details, 1)
        column.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setSizes([620, 520])
        return splitter

    # ---- filters ---------------------------------------------------------------------------
    def reload_choices(self) -> None:
        for combo, values in ((self.product, [p.name for p in self.store.list_products()]),
                              (self.operator, self.store.distinct("operator"))):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            combo.setCurrentText(current if current in values else ANY)
            combo.blockSignals(False)

    def filters(self) -> HistoryFilter:
        verdict = self.verdict.currentText()
        verdicts = () if verdict == ANY else tuple(verdict.split("+"))
        since = until = None
        if self.use_dates.currentIndex() == 1:
            tz = dt.datetime.now().astimezone().tzinfo
            since = dt.datetime.combine(self.date_from.date().toPython(), dt.time(), tz)
            until = dt.datetime.combine(self.date_to.date().toPython() + dt.timedelta(days=1), dt.time(), tz)
        return HistoryFilter(
            products=() if self.product.currentText() == ANY else (self.product.currentText(),),
            verdicts=verdicts, since=since, until=until,
            operator=None if self.operator.currentText() == ANY else self.operator.currentText(),
            text=self.text.text().strip() or None)

    def apply_filters(self) -> None:
        self.model.set_filters(self.filters())

    def _on_reset(self) -> None:
        self.count_label.setText(f"{self.model.rowCount():,} inspections")
        self.show_record(None)

    # ---- detail ----------------------------------------------------------------------------
    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.show_record(self.model.data(current, RowRole) if current.isValid() else None)

    def show_record(self, row: InspectionRow | None) -> None:
        self.current = row
        self.override_button.setEnabled(row is not None)
        self.confirm_button.setEnabled(False)
        if row is None:
            self.image_label.setText("no selection")
            self.heatmap_label.clear()
            self.details.clear()
            return
        record = self.store.get(row.id)
        if record.image is not None and record.heatmap is not None:
            self.image_label.setPixmap(to_pixmap(record.image))
            self.heatmap_label.setPixmap(to_pixmap(overlay(record.image, record.heatmap)))
        else:
            self.image_label.setText("image not kept\n(retention policy)")
            self.heatmap_label.clear()
        self.details.setHtml(self._details_html(record))
        open_proposal = [o for o in record.overrides if o["reference_status"] == "proposed"]
        self.confirm_button.setEnabled(bool(open_proposal) and self.role == "engineer")
        self.record_opened.emit(row.id)

    @staticmethod
    def _details_html(record) -> str:  # type: ignore[no-untyped-def]
        return details_html(record)

    # ---- actions ---------------------------------------------------------------------------
    def open_override(self) -> OverrideDialog | None:
        if self.current is None:
            return None
        dialog = OverrideDialog(self.current, self.user, self, fixed_operator=self.recorder is not None)
        dialog.accepted.connect(lambda: self._apply_override(dialog))
        dialog.open()
        return dialog

    def _apply_override(self, dialog: OverrideDialog) -> None:
        req = dialog.request()
        if self.recorder is not None:
            self.recorder.override(dialog.row.id, req.new_verdict, req.reason_code, req.comment,
                                   propose_reference=req.propose_reference)
        else:
            self.store.override(dialog.row.id, req.new_verdict, req.reason_code, req.comment,
                                operator=req.operator, propose_reference=req.propose_reference)
        row = self.table.currentIndex().row()
        self.model.refresh()
        if 0 <= row < self.model.rowCount():
            self.table.selectRow(row)

    def confirm_reference(self) -> None:
        if self.current is None:
            return
        confirmed = False
        for o in self.store.get(self.current.id, with_images=False).overrides:
            if o["reference_status"] == "proposed":
                if self.recorder is not None:
                    self.recorder.confirm_reference(o["id"])  # refuses anyone but an engineer
                else:
                    self.store.confirm_reference(o["id"], engineer=self.user)
                confirmed = True
        row = self.current
        self.show_record(row)
        if confirmed:
            self.referenceConfirmed.emit(row.product, row.id)

    def _on_export_choice(self, index: int) -> None:
        self.export_box.setCurrentIndex(0)
        kind = {1: "csv", 2: "xlsx", 3: "pdf", 4: "jsonl"}.get(index)
        if kind is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export history", f"history.{kind}")
        if path:
            self.export(kind, Path(path))

    def export(self, kind: str, path: Path) -> QProgressDialog:
        """Drive the exporter generator from the event loop: the UI stays live, Cancel closes it."""
        gen: Iterator[tuple[int, int]] = EXPORTERS[kind](self.store, path, self.filters(), self.model.sort_order)
        progress = QProgressDialog(f"Exporting {kind.upper()}…", "Cancel", 0, 0, self)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)

        def step() -> None:
            if progress.wasCanceled():
                gen.close()
                return
            try:
                done, total = next(gen)
            except StopIteration:
                progress.setValue(progress.maximum())
                progress.close()
                return
            except Exception as exc:
                progress.close()
                QMessageBox.warning(self, "Export failed", str(exc))
                return
            progress.setMaximum(max(total, 1))
            progress.setValue(min(done, max(total, 1) - 1) if done < total else done)
            QTimer.singleShot(0, step)

        QTimer.singleShot(0, step)
        return progress
