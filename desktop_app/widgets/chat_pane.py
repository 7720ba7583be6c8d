"""Chat pane: questions and streamed answers about the inspection on screen.

Each inspection keeps its own conversation (keyed by inspection id); switching the shown image
switches the transcript, and tokens still streaming for another inspection go to that one.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

QUICK_QUESTIONS = ("Is there any anomaly?", "Where is it?", "Describe it")


class ChatPane(QWidget):
    """Emits `askRequested(inspection_id, question)` and `cancelRequested()`; renders turns."""

    askRequested = Signal(int, str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conversations: dict[int, list[list[str]]] = {}  # id -> [[role, text], ...]
        self.inspection_id: int | None = None
        self.streaming_id: int | None = None
        self.header = QLabel("No inspection selected")
        self.header.setObjectName("chatHeader")
        self.header.setWordWrap(True)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("chatTranscript")
        self.transcript.setOpenExternalLinks(False)
        # What the worker is doing before the first word (loading the language model takes 10-15 s):
        # a line with the seconds so far and a busy bar, instead of a lone blinking cursor.
        self.status = QLabel("")
        self.status.setObjectName("chatStatus")
        self.status.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # busy: the model load gives no steps to count
        self.busy.setTextVisible(False)
        self.busy.setObjectName("chatBusy")
        self.busy.setFixedHeight(4)
        self.busy.setStyleSheet("QProgressBar { border: none; border-radius: 2px; background: #262c33;"
                                " min-height: 4px; max-height: 4px; }"
                                " QProgressBar::chunk { background: #4fa3e0; border-radius: 2px; }")
        self._status_text = ""
        self._status_since = 0.0
        self._status_id: int | None = None
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self._tick_status)
        quick = QHBoxLayout()
        quick.setSpacing(6)
        self.quick_buttons = []
        for question in QUICK_QUESTIONS:
            button = QPushButton(question)
            button.setObjectName("quickQuestion")
            button.clicked.connect(lambda _=False, q=question: self.ask(q))
            quick.addWidget(button)
            self.quick_buttons.append(button)
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask about this part…  (Enter to send)")
        self.input.returnPressed.connect(lambda: self.ask(self.input.text()))
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.clicked.connect(lambda: self.ask(self.input.text()))
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setToolTip("Stop the answer being written (Esc)")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.header)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addLayout(quick)
        layout.addLayout(row)
        self._update_enabled()
        self.clear_status()

    # -- inputs ----------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        question = question.strip()
        if not question or self.inspection_id is None or self.streaming_id is not None:
            return
        self.input.clear()
        self.conversations.setdefault(self.inspection_id, []).append(["user", question])
        self.conversations[self.inspection_id].append(["assistant", ""])
        self.streaming_id = self.inspection_id
        self._render()
        self._update_enabled()
        self.askRequested.emit(self.inspection_id, question)

    # -- from the worker -------------------------------------------------------------------
    def show_status(self, inspection_id: int, message: str) -> None:
        """A step before the answer's first word (model loading), with the seconds it has taken."""
        if self._status_id != inspection_id or not self._status_timer.isActive():
            self._status_since = time.monotonic()
        self._status_id, self._status_text = inspection_id, message
        self._status_timer.start()
        self._tick_status()

    def clear_status(self) -> None:
        self._status_timer.stop()
        self._status_id, self._status_text = None, ""
        self.status.clear()
        self.status.hide()
        self.busy.hide()

    def _tick_status(self) -> None:
        visible = bool(self._status_text) and self._status_id == self.inspection_id
        if visible:
            seconds = int(time.monotonic() - self._status_since)
            self.status.setText(f"<b>{seconds} s</b>  ·  {html.escape(self._status_text)}")
        self.status.setVisible(visible)
        self.busy.setVisible(visible)

    def append_token(self, inspection_id: int, piece: str) -> None:
        turns = self.conversations.get(inspection_id)
        if not turns:
            return
        if self._status_id == inspection_id:  # the answer has started: the wait is over
            self.clear_status()
        turns[-1][1] += piece
        if inspection_id == self.inspection_id:
            self._render()

    def finish_answer(self, inspection_id: int, cancelled: bool = False, error: str | None = None) -> None:
        turns = self.conversations.get(inspection_id)
        if turns and turns[-1][0] == "assistant":
            if error:
                turns[-1] = ["error", error]
            elif cancelled:
                turns[-1][1] += " [stopped]"
            elif not turns[-1][1]:
                turns[-1][1] = "(no answer)"
        if self.streaming_id == inspection_id:
            self.streaming_id = None
        if self._status_id == inspection_id:
            self.clear_status()
        self._render()
        self._update_enabled()

    # -- which inspection ------------------------------------------------------------------
    def show_inspection(self, inspection_id: int | None, title: str = "") -> None:
        self.inspection_id = inspection_id
        self.header.setText(
            f"Conversation about <b>{html.escape(title)}</b>" if title else "No inspection selected"
        )
        self._render()
        self._update_enabled()
        self._tick_status()  # the wait line belongs to the inspection it was asked about

    def _update_enabled(self) -> None:
        can_ask = self.inspection_id is not None and self.streaming_id is None
        for widget in (*self.quick_buttons, self.send_button, self.input):
            widget.setEnabled(can_ask)
        self.cancel_button.setEnabled(self.streaming_id is not None)

    def _render(self) -> None:
        turns = self.conversations.get(self.inspection_id, []) if self.inspection_id is not None else []
        if not turns:
            hint = "Ask a question about the inspected part, or use a quick question below."
            self.transcript.setHtml(f"<p style='color:#9aa5b1'>{hint}</p>")
            return
        parts = []
        for index, (role, text) in enumerate(turns):
            body = html.escape(text).replace("\n", "<br>")
            streaming = self.streaming_id == self.inspection_id and index == len(turns) - 1
            if role == "user":
                parts.append(
                    f"<p style='margin:10px 0 2px 0'><b style='color:#4fa3e0'>Inspector</b><br>{body}</p>"
                )
            elif role == "error":
                parts.append(f"<p style='margin:2px 0 8px 0; color:#ef9a9a'>{body}</p>")
            else:
                cursor = " <span style='color:#4fa3e0'>▌</span>" if streaming else ""
                parts.append(
                    f"<p style='margin:2px 0 8px 0'><b style='color:#a5d6a7'>AnomalyGPT</b><br>"
                    f"{body}{cursor}</p>"
                )
        self.transcript.setHtml("".join(parts))
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    def focus_input(self) -> None:
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)
