"""The Settings dialog driven through the real window: the engine preset an inspector picks is saved
and builds the next start's engine."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from desktop_app.app import engine_config
from desktop_app.settings import Settings, load_settings, preset_overrides


def test_presets_become_engine_fields():
    assert preset_overrides("default") == {} and preset_overrides("turbo") == {}  # unknown: no change
    assert preset_overrides("accurate") == {}  # the 320 px preset of earlier versions is the default now
    fine = engine_config(Settings(device="cpu"))
    assert fine.image_size == 320 and fine.backbone == "efficientnet-lite0" and fine.device == "cpu"
    quick = engine_config(Settings(engine_preset="quick"))
    assert quick.image_size == 224 and quick.fusion_weight == 0.05
    from anomalygpt_engine import Engine

    assert Engine(fine).mode == "fused" and Engine(quick).mode == "fused", "the shipped decoder fuses at both sizes"


def test_quick_detail_chosen_in_the_dialog_applies_at_the_next_start(qtbot, station, engine, data_dir):
    chosen = {}

    def pick_quick() -> None:
        dialog = QApplication.activeModalWidget()
        chosen["title"] = dialog.windowTitle()
        chosen["initial"] = dialog.preset.currentText()
        dialog.preset.setCurrentIndex(dialog.preset.findData("quick"))
        chosen["label"] = dialog.preset.currentText()
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(300, pick_quick)
    station.window.action("settings").trigger()  # modal: returns when OK was clicked
    assert chosen["title"] == "Settings" and chosen["initial"].startswith("Fine")
    assert chosen["label"].startswith("Quick")
    assert station.settings.engine_preset == "quick"
    assert "apply at the next start" in station.window.status_message.text()
    saved = load_settings(data_dir)
    assert saved.engine_preset == "quick" and engine_config(saved).image_size == 224
    assert engine.config.image_size == 320  # the running engine is not swapped under the line
