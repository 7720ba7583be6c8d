"""Side tab that hosts the history browser, opened on first view so start-up never waits on the database."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

log = logging.getLogger(__name__)


class HistoryTab(QWidget):
    """Creates `HistoryStore` + `HistoryBrowser` when first shown; refreshes them on later views."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = None
        self.browser = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Opening the inspection history…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._placeholder)

    def activate(self) -> None:
        """Called when the tab becomes visible."""
        if self.browser is not None:
            self.browser.reload_choices()
            self.browser.apply_filters()
            return
        try:
            from desktop_app.history import HistoryStore
            from desktop_app.widgets.history_browser import HistoryBrowser

            self.store = HistoryStore(None)
            self.browser = HistoryBrowser(self.store, user=os.environ.get("USER", "operator"))
        except Exception as exc:  # history is an add-on: the station keeps working without it
            log.exception("history browser unavailable")
            self._placeholder.setText(f"The inspection history is not available:\n{exc}")
            return
        self._placeholder.hide()
        scroll = QScrollArea()  # the browser is wide; it must not widen the side dock and the window
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.browser)
        self._layout.addWidget(scroll)

    def close_store(self) -> None:
        if self.store is not None:
            self.store.close()
