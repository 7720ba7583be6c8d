"""Station login: operator name, role, and the engineer PIN where the plant configured one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from desktop_app.history.errors import HistoryError
from desktop_app.history.operators import ENGINEER, INSPECTOR, Operator, login


class LoginDialog(QDialog):
    """`operator` holds the accepted login; a wrong PIN keeps the dialog open with a message."""

    def __init__(self, engineer_pin_hash: str = "", name: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in to the station")
        self.pin_hash = engineer_pin_hash
        self.operator: Operator | None = None
        form = QFormLayout(self)
        title = QLabel("<h2>AnomalyGPT Inspector</h2>Who works at this station?")
        title.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(title)
        self.name = QLineEdit(name)
        self.name.setPlaceholderText("Operator name")
        form.addRow("Operator:", self.name)
        self.role = QComboBox()
        self.role.addItem("Inspector: inspect, chat, override with a reason", INSPECTOR)
        self.role.addItem("Engineer: also reference sets, confirmations, settings", ENGINEER)
        form.addRow("Role:", self.role)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setPlaceholderText("Engineer PIN" if engineer_pin_hash else "no PIN configured")
        form.addRow("PIN:", self.pin)
        self.message = QLabel()
        self.message.setObjectName("loginMessage")
        self.message.setStyleSheet("color:#e57373")
        form.addRow(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.name.textChanged.connect(self._update)
        self.role.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        engineer = self.role.currentData() == ENGINEER
        self.pin.setEnabled(engineer and bool(self.pin_hash))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.name.text().strip()))

    def fill(self, name: str, role: str, pin: str = "") -> None:
        """Set the fields (tests and scripted kiosks)."""
        self.name.setText(name)
        self.role.setCurrentIndex(self.role.findData(role))
        self.pin.setText(pin)

    def try_accept(self) -> None:
        try:
            self.operator = login(self.name.text(), self.role.currentData(), self.pin.text(), self.pin_hash)
        except HistoryError as exc:
            self.message.setText(str(exc))
            self.pin.clear()
            return
        self.accept()
