"""Issue 14: the reference manager edits a product's knowledge (defect types, disposition rules)."""
from __future__ import annotations

from anomalygpt_engine.expert.taxonomy import DefectType
from desktop_app.references import FolderReferenceRepository
from desktop_app.widgets.reference_manager import ReferenceManager


def test_knowledge_is_saved_with_the_product_and_shown_again(qtbot, tmp_path):
    repo = FolderReferenceRepository(tmp_path)
    repo.create_product("bracket", "steel bracket")
    manager = ReferenceManager(repo)
    qtbot.addWidget(manager)
    editor = manager.knowledge
    editor.types[DefectType.PIT].setChecked(True)
    editor.rules.setPlainText("pitting under 1% at the centre: rework\notherwise: scrap")
    editor.decider.setText("the shift lead")
    editor.save_button.click()
    saved = repo.knowledge("bracket")
    assert saved.defect_types == ["pit"] and len(saved.rules) == 2 and saved.decider == "the shift lead"
    assert "2 rules" in editor.status.text()
    manager.refresh(select="bracket")
    assert editor.rules.toPlainText().startswith("pitting under 1%")
