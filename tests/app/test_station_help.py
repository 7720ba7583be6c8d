"""Smaller things of issue 13: the REVIEW band explained in the legend, Help ▸ About."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from anomalygpt_engine import __version__
from desktop_app.widgets.theme import VERDICT_COLOURS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_legend_shows_the_review_band_and_about_names_version_models_licences(qtbot, station):
    controls = station.window.controls
    assert "REVIEW" in controls.legend_text.text() and "REVIEW" in controls.legend.toolTip()
    image = controls.legend.pixmap().toImage()
    amber = QColor(VERDICT_COLOURS["REVIEW"][0])
    bottom = image.height() - 1
    assert image.pixelColor(image.width() // 2 - 5, bottom) == amber  # inside the band
    assert image.pixelColor(5, bottom) != amber and image.pixelColor(image.width() - 5, bottom) != amber
    station.window.action("about").trigger()  # F1
    qtbot.waitUntil(lambda: getattr(station.window, "about_box", None) is not None
                    and station.window.about_box.isVisible(), timeout=5_000)
    text = station.window.about_box.text()
    assert __version__ in text and "EfficientNet-Lite0" in text and "SmolLM2" in text and "CC BY-SA 4.0" in text
    station.window.resize(1600, 1000)
    qtbot.wait(100)
    station.window.about_box.move(station.window.geometry().center() - station.window.about_box.rect().center())
    station.window.grab().save(str(SCREENSHOTS / "13_legend_review_band.png"), "PNG")
    station.window.about_box.grab().save(str(SCREENSHOTS / "13_about.png"), "PNG")
    station.window.about_box.close()
