"""Product knowledge the engineer writes (issue 14): the defect types that matter, disposition rules
in plain lines, who decides what no rule covers, and the product's scale. Stored as knowledge.json in
the product's folder; the chat's disposition answers apply these rules.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from anomalygpt_engine.expert.knowledge import ProductKnowledge
from anomalygpt_engine.expert.taxonomy import SHORT_WORDS, DefectType

RULES_HINT = ("One rule per line, condition: action, e.g.\n"
              "pitting under 1% of the area at the centre: rework\nscratch at the edge: accept\notherwise: scrap")


class KnowledgeEditor(QWidget):
    """Edits one product's ProductKnowledge; the reference manager loads it and saves it through the
    catalog (engineers only, audited)."""

    saveRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.types = {kind: QCheckBox(SHORT_WORDS[kind]) for kind in DefectType}
        grid = QGridLayout()
        for index, box in enumerate(self.types.values()):
            grid.addWidget(box, index // 2, index % 2)
        self.rules = QPlainTextEdit()
        self.rules.setObjectName("dispositionRules")
        self.rules.setPlaceholderText(RULES_HINT)
        self.rules.setMaximumHeight(90)
        self.decider = QLineEdit()
        self.decider.setPlaceholderText("the quality engineer")
        self.scale = QDoubleSpinBox()
        self.scale.setDecimals(4)
        self.scale.setRange(0.0, 100.0)
        self.scale.setSpecialValueText("unknown")
        self.scale.setSuffix(" mm/px")
        self.save_button = QPushButton("Save knowledge")
        self.save_button.clicked.connect(self.saveRequested)
        self.status = QLabel()
        form = QFormLayout()
        form.addRow("Who decides otherwise", self.decider)
        form.addRow("Scale", self.scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Defect types that matter"))
        layout.addLayout(grid)
        layout.addWidget(QLabel("Disposition rules"))
        layout.addWidget(self.rules)
        layout.addLayout(form)
        layout.addWidget(self.save_button)
        layout.addWidget(self.status)

    def show_knowledge(self, knowledge: ProductKnowledge | None) -> None:
        knowledge = knowledge or ProductKnowledge()
        for kind, box in self.types.items():
            box.setChecked(kind.value in knowledge.defect_types)
        self.rules.setPlainText(knowledge.rules_text)
        self.decider.setText(knowledge.decider)
        self.scale.setValue(knowledge.mm_per_px or 0.0)
        self.status.setText("")

    def knowledge(self, description: str = "") -> ProductKnowledge:
        return ProductKnowledge(
            description=description,
            defect_types=[kind.value for kind, box in self.types.items() if box.isChecked()],
            rules_text=self.rules.toPlainText().strip(),
            decider=self.decider.text().strip() or "the quality engineer",
            mm_per_px=self.scale.value() or None,
        )

    def saved(self, knowledge: ProductKnowledge) -> None:
        unread = [line for line in knowledge.rules_text.splitlines() if line.strip() and ":" not in line]
        self.status.setText(f"Saved: {len(knowledge.rules)} rules" + (f"; {len(unread)} lines without ':' ignored"
                                                                      if unread else ""))

    def set_editable(self, editable: bool) -> None:
        for widget in (*self.types.values(), self.rules, self.decider, self.scale, self.save_button):
            widget.setEnabled(editable)
