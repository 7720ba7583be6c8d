"""Inspection view: the image, the calibrated heatmap over it, region boxes and contours, zoom/pan,
and the nearest normal reference beside it on demand."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsRectItem,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from anomalygpt_engine import InspectionResult
from desktop_app.widgets.theme import BACKGROUND, MUTED, REGION_PEN, heatmap_lut

EMPTY_TEXT = (
    "<div style='font-size:20pt; color:#e6e9ef'>No inspection yet</div>"
    f"<div style='font-size:12pt; color:{MUTED}; margin-top:12px'>"
    "Press <b>Space</b> to inspect the next sample image, <b>Ctrl+O</b> to open an image,<br>"
    "<b>Ctrl+Shift+O</b> to inspect a folder, or start the camera with <b>F5</b>.</div>"
)


def _image_box(title: str) -> tuple[pg.GraphicsLayoutWidget, pg.ViewBox, pg.ImageItem]:
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(BACKGROUND)
    label = widget.addLabel(title, color=MUTED, size="10pt")
    label.setMaximumHeight(22)
    widget.nextRow()
    view = widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
    image = pg.ImageItem(axisOrder="row-major")
    view.addItem(image)
    return widget, view, image


class InspectionView(QWidget):
    """Renders one InspectionRecord; the colour scale is fixed (0..1, 0.5 = decision boundary)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._main_widget, self.view, self.image_item = _image_box("Inspected image")
        self._title = self._main_widget.ci.getItem(0, 0)
        self.heatmap_item = pg.ImageItem(axisOrder="row-major")
        self.heatmap_item.setLookupTable(heatmap_lut())
        self.heatmap_item.setLevels((0.0, 1.0))  # calibrated scale: never per-image autoscale
        self.heatmap_item.setZValue(10)
        self.view.addItem(self.heatmap_item)
        self._overlays: list = []
        self._ref_widget, self.ref_view, self.ref_item = _image_box("Nearest normal reference")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._main_widget)
        self.splitter.addWidget(self._ref_widget)
        self._ref_widget.hide()
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("emptyState")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.heatmap_visible = True
        self.result: InspectionResult | None = None
        # Fit the image to the view until the inspector zooms or pans; fit again on each new size.
        self._auto_fit = True
        self._fit_timer = QTimer(self)  # fit after the layout settles: sizes mid-resize are stale
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_now)
        self.view.sigResized.connect(self._refit)
        self.view.sigRangeChangedManually.connect(self._user_zoomed)

    # -- public API ------------------------------------------------------------------------
    def show_result(
        self,
        image: np.ndarray,
        result: InspectionResult,
        title: str = "",
        reference: np.ndarray | None = None,
    ) -> None:
        self.stack.setCurrentWidget(self.splitter)
        self.result = result
        height, width = image.shape[:2]
        first = self.image_item.image is None or self.image_item.image.shape[:2] != (height, width)
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        self.heatmap_item.setImage(result.anomaly_map, autoLevels=False, levels=(0.0, 1.0))
        self.heatmap_item.setRect(QRectF(0, 0, width, height))  # maps of huge images are smaller
        self.heatmap_item.setVisible(self.heatmap_visible)
        self._draw_regions(result, width, height)
        self._title.setText(title or "Inspected image", color=MUTED, size="10pt")
        if reference is not None:
            self.ref_item.setImage(reference, autoLevels=False, levels=(0, 255))
        if first:
            # Wide parts get the reference below, tall ones beside: both stay as large as possible.
            wide = width > 1.3 * height
            self.splitter.setOrientation(Qt.Orientation.Vertical if wide else Qt.Orientation.Horizontal)
            self._auto_fit = True
        self._refit()

    def show_frame(self, image: np.ndarray, title: str = "Camera") -> None:
        """A plain image without analysis (e.g. a captured frame while it is being inspected)."""
        self.stack.setCurrentWidget(self.splitter)
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        self.heatmap_item.setVisible(False)
        self._clear_overlays()
        self._title.setText(title, color=MUTED, size="10pt")

    def clear(self, text: str = "") -> None:
        """The empty page; `text` (rich text) replaces the first-run hints, e.g. why nothing was inspected."""
        self.empty.setText(text or EMPTY_TEXT)
        self.stack.setCurrentWidget(self.empty)
        self.result = None

    def set_heatmap_opacity(self, percent: int) -> None:
        self.heatmap_item.setOpacity(max(0, min(100, percent)) / 100.0)

    def set_heatmap_visible(self, visible: bool) -> None:
        self.heatmap_visible = visible
        self.heatmap_item.setVisible(visible and self.result is not None)
        for item in self._overlays:
            item.setVisible(visible)

    def set_reference_visible(self, visible: bool) -> None:
        self._ref_widget.setVisible(visible)
        if visible:
            half = (
                max(
                    1,
                    self.splitter.width()
                    if self.splitter.orientation() == Qt.Orientation.Horizontal
                    else self.splitter.height(),
                )
                // 2
            )
            self.splitter.setSizes([half, half])
        self._refit()

    def reset_zoom(self) -> None:
        self._auto_fit = True
        self._refit()

    def _refit(self, *_args) -> None:
        self._fit_now()
        self._fit_timer.start()

    def _fit_now(self) -> None:
        if self._auto_fit and self.image_item.image is not None:
            # Only the image decides the range: text labels and boxes have odd bounds when scaled.
            self.view.autoRange(padding=0.02, items=[self.image_item])
            if self.ref_item.image is not None:
                self.ref_view.autoRange(padding=0.02, items=[self.ref_item])

    def _user_zoomed(self, *_args) -> None:
        self._auto_fit = False

    # -- drawing ---------------------------------------------------------------------------
    def _clear_overlays(self) -> None:
        for item in self._overlays:
            self.view.removeItem(item)
        self._overlays.clear()

    def _draw_regions(self, result: InspectionResult, width: int, height: int) -> None:
        """Contours of the map at the 0.5 boundary, plus a numbered box per region."""
        self._clear_overlays()
        amap = result.anomaly_map
        sx, sy = width / amap.shape[1], height / amap.shape[0]
        mask = (amap >= 0.5).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        path = QPainterPath()
        for contour in contours:
            points = contour[:, 0, :].astype(float)
            path.moveTo(points[0, 0] * sx, points[0, 1] * sy)
            for x, y in points[1:]:
                path.lineTo(x * sx, y * sy)
            path.closeSubpath()
        outline = QGraphicsPathItem(path)
        pen = QPen(QColor("#ffffff"))
        pen.setCosmetic(True)
        pen.setWidthF(1.2)
        outline.setPen(pen)
        self._add_overlay(outline)
        box_pen = QPen(QColor(REGION_PEN))
        box_pen.setCosmetic(True)
        box_pen.setWidthF(2.0)
        box_pen.setStyle(Qt.PenStyle.DashLine)
        for index, region in enumerate(result.regions, start=1):
            x, y, w, h = region.bbox
            pad = 4
            box = QGraphicsRectItem(x - pad, y - pad, w + 2 * pad, h + 2 * pad)
            box.setPen(box_pen)
            self._add_overlay(box)
            label = pg.TextItem(f"{index}", color=REGION_PEN, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 160))
            label.setFont(QFont("DejaVu Sans", 10, QFont.Weight.Bold))
            label.setPos(x - pad, y - pad)
            self._add_overlay(label)

    def _add_overlay(self, item) -> None:
        item.setZValue(20)
        item.setVisible(self.heatmap_visible)
        self.view.addItem(item)
        self._overlays.append(item)
