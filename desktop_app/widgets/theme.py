"""One place for the station's colours and the style sheet, so every widget reads the same."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from desktop_app.paths import resource

VERDICT_COLOURS = {  # background, text
    "OK": ("#2e7d32", "#ffffff"),
    "REVIEW": ("#f9a825", "#1b1b1b"),
    "NG": ("#c62828", "#ffffff"),
    "READY": ("#37474f", "#e0e6ea"),
    "BUSY": ("#455a64", "#e0e6ea"),
    "NO IMAGE": ("#6a1b9a", "#ffffff"),  # nothing was inspected: never green, never a defect colour
    "ERROR": ("#6a1b9a", "#ffffff"),
}
BACKGROUND = "#1e2329"
PANEL = "#262c33"
TEXT = "#e6e9ef"
MUTED = "#9aa5b1"
ACCENT = "#4fa3e0"
REGION_PEN = "#00e5ff"
HEATMAP_COLORMAP = "inferno"
TRANSPARENT_BELOW = 0.25  # calibrated map values under this draw nothing: normal parts never look hot


def heatmap_lut(size: int = 256) -> np.ndarray:
    """RGBA lookup table on the fixed calibrated 0..1 scale: clear below the floor, opaque at 0.5+."""
    colours = pg.colormap.get(HEATMAP_COLORMAP).getLookupTable(0.0, 1.0, size, alpha=False)
    values = np.linspace(0.0, 1.0, size)
    alpha = np.clip((values - TRANSPARENT_BELOW) / (0.5 - TRANSPARENT_BELOW), 0.0, 1.0)
    return np.column_stack([colours, (alpha * 255).astype(np.uint8)]).astype(np.uint8)


def apply_theme(app: QApplication) -> None:
    """Fusion style plus our sheet: identical look on Windows, Linux and in offscreen tests."""
    app.setStyle("Fusion")
    sheet = resource("style.qss")
    if sheet.is_file():
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))
    font = app.font()
    font.setFamily("DejaVu Sans")
    font.setPointSizeF(10.5)
    app.setFont(font)
    pg.setConfigOptions(antialias=True)


def legend_pixmap(width: int = 260, height: int = 14):
    """The heatmap's fixed scale as a bar (0 left, 1 right, white tick at the 0.5 boundary, amber
    strip under the REVIEW band around it)."""
    from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

    lut = heatmap_lut(width)
    rgba = np.repeat(lut[None, :, :], height, axis=0)
    background = np.array([38, 44, 51], np.float32)  # PANEL: what "transparent" looks like here
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = (rgba[:, :, :3] * alpha + background * (1 - alpha)).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()
    pixmap = QPixmap.fromImage(image)
    painter = QPainter(pixmap)
    low, high = (round(width * (0.5 + sign * review_margin())) for sign in (-1, 1))
    painter.fillRect(low, height - 4, high - low, 4, QColor(VERDICT_COLOURS["REVIEW"][0]))  # the REVIEW band
    painter.setPen(QColor("#ffffff"))
    painter.drawLine(width // 2, 0, width // 2, height)
    painter.end()
    return pixmap


def review_margin() -> float:
    """Half-width of the REVIEW band on the calibrated scale (the engine's design constant)."""
    from anomalygpt_engine import EngineConfig

    return float(EngineConfig().review_margin)
