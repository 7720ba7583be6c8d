"""History browser, laid out as a review workspace: filters on top, the lazy table beside the selected
record (pictures with regions, the whole record as one text, actions always in view), statistics
and the audit trail in tabs. It lives in its own full-size window (review_window.py)."""
from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
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
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.history import HistoryFilter, HistoryStore, InspectionRow
from desktop_app.history.export import EXPORTERS
from desktop_app.history.queries import NOT_JUDGED
from desktop_app.history.rendering import overlay
from desktop_app.widgets.history_details import AuditView, details_html
from desktop_app.widgets.history_table_model import (
    VERDICT_COLOURS,
    HistoryTableModel,
    RowRole,
    file_name,
    local_time,
)
from desktop_app.widgets.override_dialog import OverrideDialog
from desktop_app.widgets.record_picture import RecordPicture, rgb_to_qimage
from desktop_app.widgets.statistics_view import StatisticsView

ANY = "(any)"
VERDICT_CHOICES: dict[str, tuple[str, ...]] = {  # filter label -> effective verdicts
    ANY: (), "OK": ("OK",), "REVIEW": ("REVIEW",), "NG": ("NG",), "REVIEW+NG": ("REVIEW", "NG"),
    "not inspected": NOT_JUDGED, "NO IMAGE": ("NO IMAGE",), "ERROR": ("ERROR",),
}
COLUMN_WIDTHS = (122, 250, 84, 56, 150, 90, 110, 80, 90, 80, 80)  # time, file, verdict, score, product, ...
WIDE = 1.4  # pictures wider than this (width / height) stack one above the other


def default_export_dir() -> Path:
    """The user's Documents folder (or home): a save dialog in the program's folder hides reports."""
    from PySide6.QtCore import QStandardPaths

    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(documents) if documents else Path.home()
    return folder if folder.is_dir() else Path.home()


def to_pixmap(rgb: np.ndarray, max_side: int = 360) -> QPixmap:
    return QPixmap.fromImage(rgb_to_qimage(rgb)).scaled(
        max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class HistoryBrowser(QWidget):
    """`user` and `role` come from the station's login (through `recorder`); only an engineer may
    confirm references. With a recorder every write goes through it, under the logged-in operator."""

    record_opened = Signal(int)
    exported = Signal(str, int)  # path, rows: the station says so in its status bar too
    referenceConfirmed = Signal(str, int)  # product, inspection id: the catalog adds it and recalibrates
    LIVE_MS = 600  # new records arrive every 30 ms in a batch: refresh the table at most this often

    def __init__(self, store: HistoryStore, user: str = "", role: str = "inspector",
                 parent: QWidget | None = None, recorder=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.store, self.user, self.role, self.recorder = store, user, role, recorder
        self.refresh_operator()
        self.current: InspectionRow | None = None
        self.model = HistoryTableModel(store, parent=self)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.apply_filters)
        self._live = QTimer(self, singleShot=True, interval=self.LIVE_MS)
        self._live.timeout.connect(self.refresh_keeping_selection)
        self._keeping = False
        self.export_dir = default_export_dir()  # not the working folder: where people find reports
        tabs = QTabWidget()
        tabs.addTab(self._build_browse(), "Inspections")
        self.statistics = StatisticsView(store)
        tabs.addTab(self.statistics, "Statistics")
        self.audit = AuditView(store)
        tabs.addTab(self.audit, "Audit trail")
        self.tabs = tabs
        tabs.currentChanged.connect(self._on_tab)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(self._build_filters())
        layout.addWidget(tabs, 1)
        self._shortcuts()
        self.reload_choices()
        self._on_reset()  # the model's first reset came before this view listened: count it now

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

    def _shortcuts(self) -> None:
        """A keyboard flow for many parts: Up/Down in the table, Ctrl+F search, O override."""
        for keys, slot in (("Ctrl+F", self.text.setFocus), ("F5", self.refresh_keeping_selection),
                           ("O", self.open_override), ("Ctrl+Return", self.open_override),
                           ("Ctrl+E", self.export_box.showPopup)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # ---- layout ----------------------------------------------------------------------------
    def _build_filters(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.product = QComboBox()
        self.verdict = QComboBox()
        self.verdict.addItems(list(VERDICT_CHOICES))
        self.operator = QComboBox()
        for combo in (self.product, self.verdict, self.operator):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(8)
        today = QDate.currentDate()
        self.date_from, self.date_to = QDateEdit(today.addDays(-30)), QDateEdit(today)
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.use_dates = QComboBox()
        self.use_dates.addItems(["all dates", "date range"])
        self.text = QLineEdit(placeholderText="text in dialogue…  (Ctrl+F)")
        self.text.setMinimumWidth(180)
        # A part is looked up by the serial the line gave it (scanned or typed whole: exact match).
        self.serial = QLineEdit(placeholderText="any")
        self.serial.setObjectName("serialFilter")
        self.serial.setClearButtonEnabled(True)
        self.serial.setMaximumWidth(150)
        self.count_label = QLabel()
        self.count_label.setObjectName("historyCount")
        for label, widget in (("Product", self.product), ("Verdict", self.verdict), ("Operator", self.operator),
                              ("", self.use_dates), ("", self.date_from), ("–", self.date_to),
                              ("Serial", self.serial)):
            if label:
                bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.count_label)
        for combo in (self.product, self.verdict, self.operator, self.use_dates):
            combo.currentIndexChanged.connect(self._debounce.start)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._debounce.start)
            edit.setEnabled(False)  # they count only with "date range"
        self.use_dates.currentIndexChanged.connect(
            lambda index: [e.setEnabled(index == 1) for e in (self.date_from, self.date_to)])
        self.text.textChanged.connect(self._debounce.start)
        self.serial.textChanged.connect(self._debounce.start)
        return bar

    def _build_browse(self) -> QWidget:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the file's distinctive end
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.verticalHeader().hide()
        self.table.selectionModel().currentRowChanged.connect(self._on_row)
        self.model.modelReset.connect(self._on_reset)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_record())
        splitter.setChildrenCollapsible(False)
        self.table.setMinimumWidth(420)  # the list stays readable whatever the record pane holds
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([780, 800])
        self.splitter = splitter
        return splitter

    def _build_record(self) -> QWidget:
        """The selected part: headline, two pictures, the record text, and the actions below it."""
        self.headline = QLabel("Select an inspection to review it")
        self.headline.setObjectName("reviewHeadline")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        self.image_label = RecordPicture("no selection")
        self.heatmap_label = RecordPicture("")
        self.image_caption, self.heatmap_caption = QLabel("Image · regions"), QLabel("Heatmap · regions")
        pictures = QWidget()
        grid = self.pictures_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, pictures)
        grid.setContentsMargins(0, 0, 0, 0)
        for picture, caption in ((self.image_label, self.image_caption), (self.heatmap_label, self.heatmap_caption)):
            column = QVBoxLayout()
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(picture, 1)
            column.addWidget(caption)
            grid.addLayout(column, 1)
        self.details = QTextBrowser()  # read-only by nature: the record is not edited here
        self.details.setOpenExternalLinks(False)
        parts = QSplitter(Qt.Orientation.Vertical)
        parts.addWidget(pictures)
        parts.addWidget(self.details)
        parts.setStretchFactor(0, 5)
        parts.setStretchFactor(1, 4)
        parts.setSizes([460, 360])
        self.override_button = QPushButton("&Override verdict…  (O)", enabled=False)
        self.override_button.clicked.connect(self.open_override)
        self.confirm_button = QPushButton("&Confirm as reference", enabled=False)
        self.confirm_button.clicked.connect(self.confirm_reference)
        self.export_box = QComboBox()
        self.export_box.addItems(["Export filtered…  (Ctrl+E)", "CSV", "XLSX", "PDF report", "JSON lines"])
        self.export_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.export_box.activated.connect(self._on_export_choice)
        buttons = QHBoxLayout()
        for w in (self.override_button, self.confirm_button):
            buttons.addWidget(w)
        self.export_note = QLabel("")  # the confirmation of the last export, with its folder
        self.export_note.setObjectName("exportNote")
        self.export_note.setOpenExternalLinks(True)
        self.export_note.setTextFormat(Qt.TextFormat.RichText)
        self.export_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens
        self.export_note.setWordWrap(True)
        self.export_note.hide()  # a line of its own once there is something to confirm
        buttons.addStretch(1)
        buttons.addWidget(self.export_box)
        record = QWidget()
        column = QVBoxLayout(record)
        column.setContentsMargins(6, 0, 0, 0)
        column.addWidget(self.headline)
        column.addWidget(parts, 1)
        column.addWidget(self.export_note)
        column.addLayout(buttons)
        return record

    # ---- filters ---------------------------------------------------------------------------
    def reload_choices(self) -> None:
        for combo, values in ((self.product, [p.name for p in self.store.list_products()]),
                              (self.operator, self.store.distinct("operator"))):
            current = combo.currentText()
            if [combo.itemText(i) for i in range(combo.count())] == [ANY, *values]:
                continue  # unchanged: do not disturb an open drop-down during live updates
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            combo.setCurrentText(current if current in values else ANY)
            combo.blockSignals(False)

    def filters(self) -> HistoryFilter:
        verdicts = VERDICT_CHOICES.get(self.verdict.currentText(), ())
        since = until = None
        if self.use_dates.currentIndex() == 1:
            tz = dt.datetime.now().astimezone().tzinfo
            since = dt.datetime.combine(self.date_from.date().toPython(), dt.time(), tz)
            until = dt.datetime.combine(self.date_to.date().toPython() + dt.timedelta(days=1), dt.time(), tz)
        return HistoryFilter(
            products=() if self.product.currentText() == ANY else (self.product.currentText(),),
            verdicts=verdicts, since=since, until=until,
            operator=None if self.operator.currentText() == ANY else self.operator.currentText(),
            serial=self.serial.text().strip() or None, text=self.text.text().strip() or None)

    def apply_filters(self) -> None:
        """New filters; the part under review stays selected while it still matches them."""
        self.refresh_keeping_selection()

    def _on_reset(self) -> None:
        count = self.model.rowCount()
        self.count_label.setText(f"{count:,} inspection{'' if count == 1 else 's'}")
        if not self._keeping:
            self.show_record(None)

    # ---- live updates ----------------------------------------------------------------------
    def note_change(self) -> None:
        """A record was written (or failed to be): refresh soon, at most every LIVE_MS."""
        if not self._live.isActive():
            self._live.start()

    def refresh_keeping_selection(self) -> None:
        """Re-read the table without losing the part under review (new rows push it down)."""
        self.reload_choices()
        current = self.current
        self._keeping = current is not None
        try:
            self.model.filters = self.filters()
            self.model.refresh()
            if current is not None:
                row = self.model.find(current.id)
                selection = self.table.selectionModel()
                selection.blockSignals(True)
                if row >= 0:
                    self.table.selectRow(row)
                selection.blockSignals(False)
                if row < 0:
                    self.show_record(None)  # filtered away
                else:  # re-read it: a chat turn or an override may have joined the record
                    position = self.details.verticalScrollBar().value()
                    self.show_record(self.model.row_at(row))
                    self.details.verticalScrollBar().setValue(position)
        finally:
            self._keeping = False
        if self.tabs.currentIndex() == 1:
            self.statistics.set_filters(self.filters())

    # ---- detail ----------------------------------------------------------------------------
    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.show_record(self.model.data(current, RowRole) if current.isValid() else None)

    def show_record(self, row: InspectionRow | None) -> None:
        self.current = row
        self.override_button.setEnabled(row is not None and row.judged)
        self.confirm_button.setEnabled(False)
        if row is None:
            self.headline.setText("Select an inspection to review it")
            self.image_label.set_picture(None)
            self.heatmap_label.set_picture(None, text="")
            self.details.clear()
            return
        record = self.store.get(row.id)
        self.headline.setText(self._headline(row))
        regions = record.columns.get("regions") or []
        if record.image is not None and record.heatmap is not None:
            h, w = record.image.shape[:2]
            self.pictures_layout.setDirection(QBoxLayout.Direction.TopToBottom if w > WIDE * h
                                              else QBoxLayout.Direction.LeftToRight)
            self.image_label.set_picture(record.image, regions)
            self.heatmap_label.set_picture(overlay(record.image, record.heatmap), regions)
        elif not row.judged:
            self.image_label.set_picture(None, text=f"{row.verdict}: nothing was judged\n\n{row.error or ''}")
            self.heatmap_label.set_picture(None, text="no heatmap: the part was not inspected")
        else:
            self.image_label.set_picture(None, text="image not kept\n(retention policy)")
            self.heatmap_label.set_picture(None, text="")
        self.details.setHtml(self._details_html(record))
        open_proposal = [o for o in record.overrides if o["reference_status"] == "proposed"]
        self.confirm_button.setEnabled(bool(open_proposal) and self.role == "engineer")
        self.record_opened.emit(row.id)

    @staticmethod
    def _headline(row: InspectionRow) -> str:
        colour = VERDICT_COLOURS.get(row.effective_verdict, "#888888")
        score = f" · score {row.score:.3f}" if row.judged else ""
        engine = f" (engine: {row.verdict})" if row.overridden else ""
        serial = f" · serial <b>{html.escape(row.serial)}</b>" if row.serial else ""  # the part, as the line knows it
        return (f"<span style='font-size:18pt; font-weight:700; color:{colour}'>{row.effective_verdict}</span>"
                f"<span style='font-size:12pt'>{engine}{score}{serial} · <b>{html.escape(file_name(row.source))}</b>"
                f" · {html.escape(row.product)} · {local_time(row.time)} · #{row.id}</span>")

    def _details_html(self, record) -> str:  # type: ignore[no-untyped-def]
        return details_html(record, self._audit_for(record.row.id))

    def _audit_for(self, inspection_id: int) -> list[dict]:  # type: ignore[type-arg]
        """This part's own audit events (overrides, reference confirmation)."""
        try:
            events = self.store.audit_events(limit=2000)
        except Exception:  # the record still shows without its audit lines
            return []
        subject = f"inspection:{inspection_id}"
        return [e for e in events if e.get("subject") == subject
                or (e.get("details") or {}).get("source_inspection_id") == inspection_id]

    # ---- actions ---------------------------------------------------------------------------
    def open_override(self) -> OverrideDialog | None:
        if self.current is None or not self.current.judged:
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
        path, _ = QFileDialog.getSaveFileName(self, "Export history", str(self.export_dir / self.export_name(kind)))
        if path:
            self.export_dir = Path(path).parent
            self.export(kind, Path(path))

    def export_name(self, kind: str) -> str:
        """A name that says what is inside: product, verdicts, date."""
        parts = ["inspections", self.product.currentText(), self.verdict.currentText()]
        words = [p for p in parts if p and p != ANY]
        safe = "_".join("".join(c if c.isalnum() or c in "-." else "-" for c in w).strip("-") for w in words)
        return f"{safe}_{dt.date.today().isoformat()}.{kind}"

    def export(self, kind: str, path: Path) -> QProgressDialog:
        """Drive the exporter generator from the event loop: the UI stays live, Cancel closes it."""
        extra = {"generated_by": self.user or None} if kind == "pdf" else {}
        gen: Iterator[tuple[int, int]] = EXPORTERS[kind](self.store, path, self.filters(), self.model.sort_order,
                                                         **extra)
        progress = QProgressDialog(f"Exporting {kind.upper()}…", "Cancel", 0, 0, self)
        rows = [0]
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
                self._confirm_export(kind, path, rows[0])
                return
            except Exception as exc:
                progress.close()
                QMessageBox.warning(self, "Export failed", str(exc))
                return
            rows[0] = self.model.rowCount() if kind == "pdf" else done  # the PDF counts parts shown
            progress.setMaximum(max(total, 1))
            progress.setValue(min(done, max(total, 1) - 1) if done < total else done)
            QTimer.singleShot(0, step)

        QTimer.singleShot(0, step)
        return progress

    def _confirm_export(self, kind: str, path: Path, rows: int) -> None:
        """Say where the file went (a silent export left people searching for it)."""
        folder = path.resolve().parent
        self.export_note.setText(f"✔ {kind.upper()} of {rows:,} inspection{'' if rows == 1 else 's'} saved: "
                                 f"<b>{html.escape(path.name)}</b> (<a href='{folder.as_uri()}'>"
                                 "<span style='color:#4fa3e0'>open folder</span></a>)")
        self.export_note.setToolTip(str(path))
        self.export_note.show()
        self.exported.emit(str(path), rows)
