"""Side tab that hosts the history browser, built on first view so start-up never waits on the database.

It reads through the station's one recorder (its HistoryStore), never a second store of its own.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

log = logging.getLogger(__name__)


class HistoryTab(QWidget):
    """Creates the `HistoryBrowser` over `recorder.store` when first shown; refreshes it on later views."""

    browserCreated = Signal(object)  # the HistoryBrowser, once, so the station can wire it

    def __init__(self, recorder, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.recorder = recorder
        self.browser = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Opening the inspection history…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._placeholder)

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.browser.store if self.browser is not None else None

    def activate(self) -> None:
        """Called when the tab becomes visible."""
        if self.browser is not None:
            self.browser.refresh_operator()
            self.browser.reload_choices()
            self.browser.apply_filters()
            return
        try:
            from desktop_app.widgets.history_browser import HistoryBrowser

            store = self.recorder.store
            if store is None:
                raise RuntimeError(self.recorder.failed or "the history database cannot be opened")
            self.browser = HistoryBrowser(store, recorder=self.recorder)
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
        self.browserCreated.emit(self.browser)
