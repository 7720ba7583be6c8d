"""Dialog for an inspector's verdict override: reason code and comment are required, the engine's
verdict stays on record; a false alarm may be proposed as a new reference for an engineer to confirm."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QWidget,
)

from desktop_app.history import ReasonCode
from desktop_app.history.queries import InspectionRow

REASON_LABELS = {
    ReasonCode.FALSE_ALARM: "False alarm (part is good)",
    ReasonCode.MISSED_DEFECT: "Missed defect (part is bad)",
    ReasonCode.REVIEW_RESOLVED: "Review resolved by inspector",
    ReasonCode.ENGINE_ERROR: "Wrong product / bad image",
    ReasonCode.OTHER: "Other",
}


@dataclass(frozen=True)
class OverrideRequest:
    new_verdict: str
    reason_code: str
    comment: str
    operator: str
    propose_reference: bool


class OverrideDialog(QDialog):
    def __init__(self, row: InspectionRow, operator: str = "", parent: QWidget | None = None,
                 fixed_operator: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Override verdict of inspection #{row.id}")
        self.row = row
        form = QFormLayout(self)
        form.addRow("Engine verdict:", QLabel(f"{row.verdict}  (score {row.score:.3f})"))
        form.addRow("Current verdict:", QLabel(row.effective_verdict))
        self.verdict = QComboBox()
        self.verdict.addItems([v for v in ("OK", "REVIEW", "NG") if v != row.effective_verdict])
        form.addRow("New verdict:", self.verdict)
        self.reason = QComboBox()
        for code, label in REASON_LABELS.items():
            self.reason.addItem(label, code.value)
        form.addRow("Reason:", self.reason)
        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText("Why? (required; stays in the audit trail)")
        self.comment.setFixedHeight(70)
        form.addRow("Comment:", self.comment)
        self.operator = QLineEdit(operator)
        self.operator.setReadOnly(fixed_operator)  # the logged-in operator, not a free text
        form.addRow("Inspector:", self.operator)
        self.propose = QCheckBox("Propose this image as a new normal reference (an engineer confirms)")
        form.addRow(self.propose)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for signal in (self.verdict.currentIndexChanged, self.reason.currentIndexChanged,
                       self.comment.textChanged, self.operator.textChanged):
            signal.connect(self._update)
        if row.effective_verdict != "OK":  # the common case: a false alarm
            self.verdict.setCurrentText("OK")
        self._update()

    def _update(self) -> None:
        false_alarm = self.reason.currentData() == ReasonCode.FALSE_ALARM.value and self.verdict.currentText() == "OK"
        self.propose.setEnabled(false_alarm and self.row.has_image)
        if not self.propose.isEnabled():
            self.propose.setChecked(False)
        ok = bool(self.comment.toPlainText().strip()) and bool(self.operator.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def request(self) -> OverrideRequest:
        return OverrideRequest(self.verdict.currentText(), self.reason.currentData(),
                               self.comment.toPlainText().strip(), self.operator.text().strip(),
                               self.propose.isChecked())
