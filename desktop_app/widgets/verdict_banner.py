"""Verdict banner (large OK / REVIEW / NG, readable from a step away) and session counters."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from anomalygpt_engine import InspectionResult, Verdict
from desktop_app.widgets.theme import VERDICT_COLOURS


@dataclass
class SessionCounts:
    """Counts since the last explicit reset; REVIEW parts are not counted as yield.

    `errors` (unreadable images, failed inspections) are counted apart: no part was judged, so they
    are neither in `total` nor in the yield."""

    ok: int = 0
    review: int = 0
    ng: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.review + self.ng

    @property
    def yield_percent(self) -> float | None:
        return 100.0 * self.ok / self.total if self.total else None

    def add(self, verdict: Verdict, step: int = 1) -> None:
        """Count a verdict (`step=-1` takes one back, when a re-inspection replaces it)."""
        if verdict is Verdict.OK:
            self.ok = max(0, self.ok + step)
        elif verdict is Verdict.REVIEW:
            self.review = max(0, self.review + step)
        else:
            self.ng = max(0, self.ng + step)


class VerdictBanner(QFrame):
    """Colour block with the verdict word, then score, latency and what was inspected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictBanner")
        self.verdict_label = QLabel("READY")
        self.verdict_label.setObjectName("verdictWord")
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict_label.setMinimumWidth(300)
        self.score_label = QLabel("")
        self.score_label.setObjectName("verdictScore")
        self.score_label.setWordWrap(True)  # "Calibrating Bottle from 10 references…" must not be cut off
        self.detail_label = QLabel("Load a product and inspect a part")
        self.detail_label.setObjectName("verdictDetail")
        self.detail_label.setWordWrap(True)
        for label in (self.score_label, self.detail_label):  # long file names must not widen the window
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addStretch(1)
        text.addWidget(self.score_label)
        text.addWidget(self.detail_label)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 16, 0)
        layout.setSpacing(18)
        layout.addWidget(self.verdict_label)
        layout.addLayout(text, 1)
        self.setMinimumHeight(110)
        self._paint("READY")

    def _paint(self, key: str) -> None:
        background, foreground = VERDICT_COLOURS[key]
        self.verdict_label.setStyleSheet(
            f"background:{background}; color:{foreground}; font-size:{44 if len(key) <= 6 else 32}pt;"
            " font-weight:bold;"
            "border-radius:6px; padding:4px 24px;"
        )
        self.setProperty("verdict", key)

    def show_result(self, result: InspectionResult, name: str) -> None:
        key = result.verdict.value
        self._paint(key)
        self.setToolTip("")
        self.verdict_label.setText(key)
        if getattr(result, "wrong_part", False):  # not a defect at a place: the part is not this product
            self._paint_wrong_part(result, name)
            return
        self.score_label.setText(f"Score {result.score:.2f}   (boundary 0.50)")
        where = ", ".join(r.location for r in result.regions[:3])
        count = len(result.regions)
        found = f"{count} region{'s' if count != 1 else ''}: {where}" if count else "no anomalous region"
        self.detail_label.setText(f"{found}  ·  {result.latency_ms:.0f} ms  ·  {result.product}  ·  {name}")

    def _paint_wrong_part(self, result: InspectionResult, name: str) -> None:
        self.verdict_label.setText("WRONG PART")
        self.verdict_label.setStyleSheet(self.verdict_label.styleSheet().replace("font-size:44pt", "font-size:30pt"))
        self.score_label.setText("Not this product: wrong part or empty fixture")
        similarity = "" if result.product_similarity is None else f"similarity {result.product_similarity:.2f}  ·  "
        self.detail_label.setText(f"expected {result.product}  ·  {similarity}{result.latency_ms:.0f} ms  ·  {name}")
        self.setToolTip("The image does not look like any reference of this product (global appearance far beyond "
                        "what its calibration saw), so no defect location is given. Check the part and the fixture.")

    def show_error(self, word: str, reason: str, name: str = "") -> None:
        """NO IMAGE / ERROR: nothing was judged, and the previous part's verdict must not stay up."""
        self._paint(word)
        self.verdict_label.setText(word)
        self.score_label.setText(reason)
        self.detail_label.setText(f"Not inspected  ·  {name}" if name else "Not inspected")
        self.setToolTip(f"{name}: {reason}" if name else reason)

    def show_busy(self, message: str) -> None:
        self._paint("BUSY")
        self.verdict_label.setText("…")
        self.score_label.setText(message)
        self.detail_label.setText("")

    def show_ready(self, message: str = "Ready") -> None:
        self._paint("READY")
        self.verdict_label.setText("READY")
        self.score_label.setText(message)
        self.detail_label.setText("")


class CountersPanel(QFrame):
    """Total, OK, NG, REVIEW and yield for this session; reset is an explicit button."""

    resetRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counters")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(0)
        self.values: dict[str, QLabel] = {}
        for column, (key, title) in enumerate(
            [("total", "Total"), ("ok", "OK"), ("ng", "NG"), ("review", "Review"), ("errors", "Error"),
             ("yield", "Yield")]
        ):
            caption = QLabel(title.upper())
            caption.setObjectName("counterCaption")
            value = QLabel("0" if key != "yield" else "–")
            value.setObjectName(f"counter_{key}")
            value.setProperty("counter", True)
            row, col = (0, column) if column < 4 else (2, column - 4)
            span = 2 if key == "yield" else 1
            grid.addWidget(caption, row, col, 1, span, Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(value, row + 1, col, 1, span, Qt.AlignmentFlag.AlignHCenter)
            self.values[key] = value
        self.values["errors"].setToolTip("Unreadable images and failed inspections: no part was judged, "
                                         "so they are not in the total or the yield")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Reset the session counters to zero (Ctrl+Shift+R)")
        self.reset_button.clicked.connect(self.resetRequested)
        grid.addWidget(self.reset_button, 2, 3, 2, 1, Qt.AlignmentFlag.AlignVCenter)

    def show_counts(self, counts: SessionCounts) -> None:
        self.values["total"].setText(str(counts.total))
        self.values["ok"].setText(str(counts.ok))
        self.values["ng"].setText(str(counts.ng))
        self.values["review"].setText(str(counts.review))
        self.values["errors"].setText(str(counts.errors))
        value = counts.yield_percent
        self.values["yield"].setText("–" if value is None else f"{value:.1f} %")
