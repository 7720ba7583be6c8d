"""Side tab "History": a short pointer to the review workspace, which has the room review needs.

The browser itself lives in the ReviewWindow (its own full-size window); this tab builds it on first
view, so start-up never waits on the database, and offers the button that opens it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.widgets.review_window import ReviewWindow

INTRO = ("<h3>Inspection history</h3><p>Review every recorded part in the review workspace: the table "
         "with file names and local times, the part's image with heatmap and regions, its conversation, "
         "overrides and audit, and the exports, side by side in a window of its own.</p>"
         "<p>The table follows the station live while you inspect.</p>")


class HistoryTab(QWidget):
    """Hosts the button to the review workspace; `browser` is the workspace's HistoryBrowser."""

    browserCreated = Signal(object)  # the HistoryBrowser, once, so the station can wire it

    def __init__(self, recorder, parent: QWidget | None = None,  # type: ignore[no-untyped-def]
                 review: ReviewWindow | None = None) -> None:
        super().__init__(parent)
        self.recorder = recorder
        self.review = review or ReviewWindow(recorder)
        self.review.browserCreated.connect(self.browserCreated)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.open_button = QPushButton("Open the review workspace  (Ctrl+R)")
        self.open_button.clicked.connect(self.review.open_workspace)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.open_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    @property
    def browser(self):  # type: ignore[no-untyped-def]
        return self.review.browser

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.review.store

    def activate(self) -> None:
        """Called when the tab becomes visible: build the browser (or say why not) and refresh it."""
        fresh = self.review.browser is None
        browser = self.review.ensure_browser()
        if browser is None:
            self.status.setText(self.review._placeholder.text())
            return
        if not fresh:
            self.review.refresh()
        self.status.setText(f"{browser.model.rowCount():,} inspections recorded")
