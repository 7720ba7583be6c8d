"""Left-hand panel: product selector, view controls, camera with preview, folder and hot folder."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop_app.widgets.theme import legend_pixmap


def rgb_to_pixmap(frame: np.ndarray, width: int) -> QPixmap:
    """Scaled preview of an RGB uint8 frame (the QImage borrows the array only for this call)."""
    frame = np.ascontiguousarray(frame)
    height, w = frame.shape[:2]
    image = QImage(frame.data, w, height, frame.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation))


class ControlPanel(QWidget):
    productChosen = Signal(str)
    heatmapToggled = Signal(bool)
    opacityChanged = Signal(int)
    referenceToggled = Signal(bool)
    fitRequested = Signal()
    cameraToggled = Signal()
    captureRequested = Signal()
    continuousToggled = Signal(bool)
    folderRequested = Signal()
    cancelRequested = Signal()
    previousRequested = Signal()
    nextRequested = Signal()
    reinspectRequested = Signal()
    hotFolderToggled = Signal(bool)

    def __init__(self, counters: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counters = counters
        self.product = QComboBox()
        self.product.setObjectName("productSelector")
        self.product.currentTextChanged.connect(lambda text: text and self.productChosen.emit(text))
        self.product.currentTextChanged.connect(self.product.setToolTip)  # a long name is cut in the panel
        self.product_status = QLabel("")
        self.product_status.setWordWrap(True)
        self.product_status.setObjectName("calibrationStatus")
        self.heatmap = QCheckBox("Heatmap  (H)")
        self.heatmap.setChecked(True)
        self.heatmap.toggled.connect(self.heatmapToggled)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.valueChanged.connect(self.opacityChanged)
        self.reference = QCheckBox("Nearest reference  (R)")
        self.reference.toggled.connect(self.referenceToggled)
        fit = QPushButton("Fit")
        fit.setToolTip("Fit the image to the view (zoom with the wheel, pan by dragging)")
        fit.clicked.connect(self.fitRequested)
        self.legend = QLabel()
        self.legend.setObjectName("legend")
        self.legend.setPixmap(legend_pixmap())
        self.legend.setToolTip(
            "Fixed calibrated scale for every image; the white tick is the decision boundary. A part whose "
            "score falls in the amber band around it is REVIEW: uncertain, a person looks before it ships"
        )
        self.legend_text = QLabel("normal · · · 0.5 boundary, amber = REVIEW · · · anomalous")
        self.legend_text.setWordWrap(True)
        self.legend_text.setObjectName("legendText")
        self.preview = QLabel("Camera off")
        self.preview.setObjectName("cameraPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(120)
        self.camera_button = QPushButton("Start camera  (F5)")
        self.camera_button.clicked.connect(self.cameraToggled)
        self.capture_button = QPushButton("Capture && inspect  (Space)")
        self.capture_button.setObjectName("primary")
        self.capture_button.clicked.connect(self.captureRequested)
        self.continuous = QCheckBox("Continuous")
        self.continuous.toggled.connect(self.continuousToggled)
        self.folder_button = QPushButton("Inspect folder…")
        self.folder_button.clicked.connect(self.folderRequested)
        self.previous_button = QPushButton("◀ Prev")
        self.previous_button.clicked.connect(self.previousRequested)
        self.next_button = QPushButton("Next ▶")
        self.next_button.clicked.connect(self.nextRequested)
        self.reinspect_button = QPushButton("Re-inspect  (Ctrl+I)")
        self.reinspect_button.setToolTip("Inspect the image on screen again; the new result replaces the old one "
                                         "in the counters and is recorded as a re-inspection")
        self.reinspect_button.clicked.connect(self.reinspectRequested)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_detail = QLabel("")  # the step in words, wrapped: the bar holds only a short text
        self.progress_detail.setObjectName("progressDetail")
        self.progress_detail.setWordWrap(True)
        self.progress_detail.hide()
        self.cancel_button = QPushButton("Cancel batch  (Esc)")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        self.hot_label = QLabel("No hot folder set (Settings)")
        self.hot_label.setWordWrap(True)
        self.hot_button = QPushButton("Watch hot folder")
        self.hot_button.setCheckable(True)
        self.hot_button.toggled.connect(self.hotFolderToggled)
        self._build_layout(fit)

    def _build_layout(self, fit: QPushButton) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)

        def section(title: str) -> None:
            label = QLabel(title.upper())
            label.setObjectName("sectionCaption")
            layout.addSpacing(6)
            layout.addWidget(label)

        if self.counters is not None:
            section("Session")
            layout.addWidget(self.counters)
        section("Product")
        layout.addWidget(self.product)
        layout.addWidget(self.product_status)
        section("View")
        row = QHBoxLayout()
        row.addWidget(self.heatmap)
        row.addWidget(fit)
        layout.addLayout(row)
        grid = QGridLayout()
        grid.addWidget(QLabel("Opacity"), 0, 0)
        grid.addWidget(self.opacity, 0, 1)
        layout.addLayout(grid)
        layout.addWidget(self.legend)
        layout.addWidget(self.legend_text)
        layout.addWidget(self.reference)
        section("Camera")
        layout.addWidget(self.preview)
        row = QHBoxLayout()
        row.addWidget(self.camera_button)
        row.addWidget(self.continuous)
        layout.addLayout(row)
        layout.addWidget(self.capture_button)
        section("Images")
        layout.addWidget(self.folder_button)
        row = QHBoxLayout()
        row.addWidget(self.previous_button)
        row.addWidget(self.next_button)
        layout.addLayout(row)
        layout.addWidget(self.reinspect_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_detail)
        layout.addWidget(self.cancel_button)
        section("Hot folder")
        layout.addWidget(self.hot_label)
        layout.addWidget(self.hot_button)
        layout.addStretch(1)

    # -- updates from the controller -------------------------------------------------------
    def set_products(self, names: list[str], current: str | None) -> None:
        self.product.blockSignals(True)
        self.product.clear()
        self.product.addItems(names)
        if current in names:
            self.product.setCurrentText(current)
        self.product.blockSignals(False)
        self.product.setToolTip(self.product.currentText())
        # the drop-down list is as wide as the longest name, even where the narrow panel cuts the box
        view = self.product.view()
        view.setTextElideMode(Qt.TextElideMode.ElideNone)
        widest = max((m.horizontalAdvance(n) for n in names for m in (view.fontMetrics(), self.product.fontMetrics())),
                     default=0)
        view.setMinimumWidth(widest + 32)

    def show_preview(self, frame: np.ndarray) -> None:
        self.preview.setPixmap(rgb_to_pixmap(frame, max(120, self.preview.width() - 4)))

    def set_camera_running(self, running: bool) -> None:
        self.camera_button.setText("Stop camera  (F5)" if running else "Start camera  (F5)")
        if not running:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Camera off")

    def show_batch(self, done: int, total: int, message: str = "", cancel: str = "Cancel batch  (Esc)",
                   detail: str = "") -> None:
        """The bar of a batch or a calibration (a short text in the bar, the step in words under it, never
        cut off in the narrow panel); the button names what Esc cancels."""
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(message or f"{done}/{total}")
        self.progress.setToolTip(detail or message)
        self.progress_detail.setText(detail)
        self.progress_detail.setVisible(bool(detail))
        self.progress.show()
        self.cancel_button.setText(cancel)
        self.cancel_button.show()

    def hide_batch(self) -> None:
        self.progress.hide()
        self.progress_detail.hide()
        self.cancel_button.hide()
