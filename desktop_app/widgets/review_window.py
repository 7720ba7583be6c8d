"""The review workspace: the history browser in a full-size window of its own.

Review needs room: a 370 px dock cut off the filters, hid the file names and put the record and its
Override/Export buttons behind two scrollbars. Here the table, the record and the actions sit side
by side; the station keeps inspecting in the main window and the table follows live.
It reads through the station's one recorder (its HistoryStore), never a second store.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

log = logging.getLogger(__name__)
SIZE = (1600, 1000)


class ReviewWindow(QMainWindow):
    """Builds the `HistoryBrowser` over `recorder.store` on first use; `open_workspace()` shows it."""

    browserCreated = Signal(object)  # the HistoryBrowser, once, so the station can wire it

    def __init__(self, recorder, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)  # its own top level; closes with the station
        self.setWindowTitle("Review · AnomalyGPT Inspector")
        self.setObjectName("ReviewWindow")
        self.recorder = recorder
        self.browser = None
        self._placeholder = QLabel("Opening the inspection history…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._placeholder)
        self.resize(*SIZE)
        close = QShortcut(QKeySequence("Ctrl+W"), self)
        close.activated.connect(self.close)

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.browser.store if self.browser is not None else None

    def ensure_browser(self):  # type: ignore[no-untyped-def]
        """The browser, built once; None (with the reason on the placeholder) when the store is closed."""
        if self.browser is not None:
            return self.browser
        try:
            from desktop_app.widgets.history_browser import HistoryBrowser

            store = self.recorder.store
            if store is None:
                raise RuntimeError(self.recorder.failed or "the history database cannot be opened")
            self.browser = HistoryBrowser(store, recorder=self.recorder)
        except Exception as exc:  # history is an add-on: the station keeps working without it
            log.exception("history browser unavailable")
            self._placeholder.setText(f"The inspection history is not available:\n{exc}")
            return None
        self.setCentralWidget(self.browser)
        self.browserCreated.emit(self.browser)
        return self.browser

    def refresh(self) -> None:
        """Operator, filter choices and rows as they are now, keeping the part under review."""
        if self.browser is not None:
            self.browser.refresh_operator()
            self.browser.refresh_keeping_selection()

    def open_workspace(self) -> None:
        """Show (or raise) the workspace with the latest records; the table takes the keyboard."""
        fresh = self.browser is None
        if self.ensure_browser() is not None and not fresh:
            self.refresh()
        self.show()
        self.raise_()
        self.activateWindow()
        if self.browser is not None:
            self.browser.table.setFocus()
            if self.browser.current is None and self.browser.model.rowCount():
                self.browser.table.selectRow(0)

    def note_change(self) -> None:
        """A part was recorded: the open table follows (debounced in the browser)."""
        if self.browser is not None and self.isVisible():
            self.browser.note_change()
