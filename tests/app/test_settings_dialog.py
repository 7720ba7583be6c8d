"""The Settings dialog driven through the real window: the engine preset an inspector picks is saved
and builds the next start's engine."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from desktop_app.app import engine_config
from desktop_app.settings import Settings, load_settings, preset_overrides


def test_presets_become_engine_fields():
    assert preset_overrides("default") == {} and preset_overrides("turbo") == {}  # unknown: no change
    assert engine_config(Settings()).image_size == 224
    fine = engine_config(Settings(engine_preset="accurate", device="cpu"))
    assert fine.image_size == 320 and fine.backbone == "efficientnet-lite0" and fine.device == "cpu"
    from anomalygpt_engine import Engine

    assert Engine(fine).mode == "fused", "the shipped decoder is fused at 320 px too"


def test_fine_detail_chosen_in_the_dialog_applies_at_the_next_start(qtbot, station, engine, data_dir):
    chosen = {}

    def pick_fine() -> None:
        dialog = QApplication.activeModalWidget()
        chosen["title"] = dialog.windowTitle()
        dialog.preset.setCurrentIndex(dialog.preset.findData("accurate"))
        chosen["label"] = dialog.preset.currentText()
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(300, pick_fine)
    station.window.action("settings").trigger()  # modal: returns when OK was clicked
    assert chosen["title"] == "Settings" and chosen["label"].startswith("Fine")
    assert station.settings.engine_preset == "accurate"
    assert "apply at the next start" in station.window.status_message.text()
    saved = load_settings(data_dir)
    assert saved.engine_preset == "accurate" and engine_config(saved).image_size == 320
    assert engine.config.image_size == 224  # the running engine is not swapped under the line
