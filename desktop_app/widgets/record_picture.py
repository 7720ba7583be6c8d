"""A stored part's picture for review: scaled to the space it has, with the regions outlined.

The review workspace gives pictures most of its height; a fixed 360 px thumbnail (the old dock's)
wasted it and hid small defects, so the pixmap is re-scaled on every resize from the full image.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

REGION_COLOUR = "#00e5ff"  # cyan reads on the image and on the JET heatmap alike


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class RecordPicture(QLabel):
    """Shows one RGB array fitted to the label, region boxes (image pixels) drawn on top."""

    def __init__(self, placeholder: str = "no selection", parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self.placeholder = placeholder
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setWordWrap(True)
        self._image: QImage | None = None
        self._regions: list[tuple[int, int, int, int]] = []

    def set_picture(self, rgb: np.ndarray | None, regions: Sequence[dict[str, Any]] = (),
                    text: str | None = None) -> None:
        """An image with its regions, or a text in its place (None: the placeholder)."""
        self._image = None if rgb is None else rgb_to_qimage(rgb)
        self._regions = [tuple(int(v) for v in r["bbox"]) for r in regions if "bbox" in r]  # type: ignore[misc]
        if self._image is None:
            self.clear()
            self.setText(text or self.placeholder)
        else:
            self._render()

    def has_picture(self) -> bool:
        return self._image is not None

    def sizeHint(self) -> QSize:
        return QSize(420, 320)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._image is not None:
            self._render()

    def _render(self) -> None:
        assert self._image is not None
        target = self.size().boundedTo(QSize(4000, 4000)).expandedTo(QSize(64, 64))
        pixmap = QPixmap.fromImage(self._image).scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation)
        if self._regions:
            scale = pixmap.width() / max(1, self._image.width())
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(REGION_COLOUR), 2))
            for x, y, w, h in self._regions:  # Region.bbox is (x, y, w, h) in image pixels
                painter.drawRect(QRectF(x * scale, y * scale, max(2.0, w * scale), max(2.0, h * scale)))
            painter.end()
        self.setPixmap(pixmap)
