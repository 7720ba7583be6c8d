"""Settings dialog: device, model paths, camera, hot folder. Returns a new Settings; saves nothing."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop_app.settings import DEVICES, ENGINE_PRESETS, Settings


def _with_browse(edit: QLineEdit, pick_dir: bool, parent: QWidget) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")

    def browse() -> None:
        if pick_dir:
            chosen = QFileDialog.getExistingDirectory(parent, "Choose a folder", edit.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(parent, "Choose a file", edit.text())
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    row.addWidget(button)
    return box


PRESET_LABELS = {"default": "Fine (default)", "quick": "Quick (coarser outlines, about half the time)"}


class SettingsDialog(QDialog):
    """Engine changes (device, models) take effect at the next start; the rest immediately."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(820)
        self._settings = settings
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(settings.device)
        self.preset = QComboBox()
        for name in ENGINE_PRESETS:
            self.preset.addItem(PRESET_LABELS[name], name)
        self.preset.setCurrentIndex(max(0, self.preset.findData(settings.engine_preset)))
        self.preset.setToolTip("Quick: the embedded encoder at 224 px instead of 320 px, for a slow station PC. "
                               "About half the time per part, coarser defect outlines and, on most products "
                               "tested, poorer ranking of parts; products recalibrate.")
        self.backbone = QLineEdit(settings.backbone_path)
        self.backbone.setPlaceholderText("embedded EfficientNet-Lite0")
        self.llm = QLineEdit(settings.llm_path)
        self.llm.setPlaceholderText("packaged SmolLM2-135M")
        self.published = QLineEdit(settings.published_config)
        self.published.setPlaceholderText("embedded models (or a JSON naming the published AnomalyGPT weights)")
        self.camera = QLineEdit(settings.camera_source)
        self.camera.setPlaceholderText("0  or  rtsp://host/stream  or  gige:192.168.0.20 (GigE Vision)")
        self.interval = QSpinBox()
        self.interval.setRange(100, 60_000)
        self.interval.setSuffix(" ms")
        self.interval.setValue(settings.continuous_interval_ms)
        self.hot_folder = QLineEdit(settings.hot_folder)
        self.lot_evidence = QCheckBox("judge each folder batch as a lot: learn the good-part spread from the batch")
        self.lot_evidence.setChecked(settings.lot_evidence)
        self.lot_evidence.setToolTip("The lower half of a batch's scores shows how much good parts vary (at most "
                                     "half of a batch may be defective); the boundary moves within 0.7-1.3x the "
                                     "reference calibration. Without references the parts score each other.")
        self.stream_evidence = QCheckBox("learn each product's good-part spread from parts judged OK")
        self.stream_evidence.setChecked(settings.stream_evidence)
        self.stream_evidence.setToolTip("Guarded: NG and REVIEW parts never teach; the boundary stays within "
                                        "bounds of the reference calibration; every change is recorded; "
                                        "an engineer can freeze or reset it in the reference sets.")
        form = QFormLayout(self)
        form.addRow("Compute device", self.device)
        form.addRow("Heat map detail", self.preset)
        form.addRow("Vision model folder", _with_browse(self.backbone, True, self))
        form.addRow("Language model", _with_browse(self.llm, False, self))
        form.addRow("AnomalyGPT weights (non-commercial)", _with_browse(self.published, False, self))
        form.addRow(QLabel("<i>Device, detail and model changes apply at the next start.</i>"))
        form.addRow("Camera (index or URL)", self.camera)
        form.addRow("Continuous interval", self.interval)
        form.addRow("Hot folder", _with_browse(self.hot_folder, True, self))
        form.addRow("Lot evidence", self.lot_evidence)
        form.addRow("Stream evidence", self.stream_evidence)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def result_settings(self) -> Settings:
        return self._settings.with_changes(
            device=self.device.currentText(),
            engine_preset=self.preset.currentData(),
            backbone_path=self.backbone.text().strip(),
            llm_path=self.llm.text().strip(),
            published_config=self.published.text().strip(),
            camera_source=self.camera.text().strip() or "0",
            continuous_interval_ms=self.interval.value(),
            hot_folder=self.hot_folder.text().strip(),
            lot_evidence=self.lot_evidence.isChecked(),
            stream_evidence=self.stream_evidence.isChecked(),
        )
