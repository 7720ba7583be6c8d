"""Lazy table over the history store: rowCount from COUNT(*), rows fetched a page at a time on demand.

Only the pages the view actually paints are queried, so 100,000 inspections open as fast as 100.
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from pathlib import PurePath, PureWindowsPath
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from desktop_app.history import HistoryFilter, HistoryStore, InspectionRow, Sort

COLUMNS: list[tuple[str, str]] = [  # (header, sort key); what a reviewer scans first comes first
    ("Time", "time"), ("File", "source"), ("Verdict", "verdict"), ("Score", "score"),
    ("Product", "product"), ("Operator", "operator"), ("Station", "station"), ("Lot", "lot"),
    ("Serial", "serial"), ("Part id", "part_id"), ("Latency ms", "latency"),
]
VERDICT_COLOURS = {"OK": "#2e7d32", "REVIEW": "#b26a00", "NG": "#c62828", "NO IMAGE": "#b04fc8",
                   "ERROR": "#b04fc8"}  # not inspected: violet like the banner, readable on both themes
REINSPECTION_PREFIX = "re-inspection: "


def file_name(source: str) -> str:
    """The file a record came from ("camera", "hot folder"... when there was no file)."""
    again = source.startswith(REINSPECTION_PREFIX)
    path = source[len(REINSPECTION_PREFIX):] if again else source
    if "\\" in path:  # recorded on a Windows station
        name = PureWindowsPath(path).name
    else:
        name = PurePath(path).name if ("/" in path or "." in path) else path
    return f"{name} (again)" if again else name


def local_time(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """Readable local time: "Today 14:03:21", "Yesterday 14:03:21", "Tue 01 Dec 14:03:21" this year."""
    local = when.astimezone()
    now = (now or dt.datetime.now()).astimezone()
    if local.date() == now.date():
        return local.strftime("Today %H:%M:%S")
    if local.date() == now.date() - dt.timedelta(days=1):
        return local.strftime("Yesterday %H:%M:%S")
    if local.year == now.year:
        return local.strftime("%a %d %b %H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")
RowRole = Qt.ItemDataRole.UserRole + 1


class HistoryTableModel(QAbstractTableModel):
    def __init__(self, store: HistoryStore, page_size: int = 200, max_pages: int = 20, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.page_size = page_size
        self.max_pages = max_pages
        self.filters = HistoryFilter()
        self.sort_order = Sort()
        self._count = 0
        self._pages: OrderedDict[int, list[InspectionRow]] = OrderedDict()
        self.queries = 0  # for tests: how many page queries ran
        self.refresh()

    # ---- configuration ---------------------------------------------------------------------
    def set_filters(self, filters: HistoryFilter) -> None:
        self.filters = filters
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._pages.clear()
        self._count = self.store.count(self.filters)
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_order = Sort(COLUMNS[column][1], descending=order == Qt.SortOrder.DescendingOrder)
        self.refresh()

    # ---- data ------------------------------------------------------------------------------
    def row_at(self, row: int) -> InspectionRow | None:
        if not 0 <= row < self._count:
            return None
        page, offset = divmod(row, self.page_size)
        rows = self._pages.get(page)
        if rows is None:
            rows = self.store.query(self.filters, self.sort_order, page * self.page_size, self.page_size)
            self.queries += 1
            self._pages[page] = rows
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        return rows[offset] if offset < len(rows) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        key = COLUMNS[index.column()][1]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == RowRole:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and key == "verdict":
            return QBrush(QColor(VERDICT_COLOURS.get(row.effective_verdict, "#000000")))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("score", "latency"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def find(self, inspection_id: int, within: int = 1000) -> int:
        """Row number of an inspection among the first `within` rows, or -1 (keeps a selection)."""
        for number in range(min(self._count, within)):
            row = self.row_at(number)
            if row is not None and row.id == inspection_id:
                return number
        return -1

    @staticmethod
    def _tooltip(row: InspectionRow, key: str) -> str | None:
        if key == "verdict" and not row.judged:
            return f"Not inspected: {row.error or 'no reason recorded'}"
        if key == "verdict" and row.overridden:
            return f"Engine said {row.verdict}; overridden to {row.effective_verdict}"
        if key == "time":
            return row.time.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if key == "source":
            return row.source
        return None

    @staticmethod
    def _display(row: InspectionRow, key: str) -> str:
        if key == "time":
            return local_time(row.time)
        if key == "source":
            return file_name(row.source)
        if key == "verdict":
            return f"{row.effective_verdict} *" if row.overridden else row.effective_verdict
        if key == "score":
            return f"{row.score:.3f}" if row.judged else "–"
        if key == "latency":
            return f"{row.latency_ms:.0f}"
        return str(getattr(row, key) or "")
