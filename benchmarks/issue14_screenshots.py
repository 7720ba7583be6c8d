"""Screenshots for issue 14 (offscreen, 1600x1000): the chat answering type, disposition and "can't
tell" questions about a real BSData pitting sample, and the product-knowledge editor.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/issue14_screenshots.py
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
SAMPLES = ROOT / "resources" / "samples" / "ballscrew"
RULES = "pitting under 1% of the area at the centre: rework\npitting under 0.5%: rework\nscratch: accept\notherwise: scrap"
QUESTIONS = ("What kind of defect is it?", "Is it a scratch, a dent or pitting?",
             "Should I scrap this part or can it be reworked?", "What colour is it compared with the good part?",
             "What caused this defect?", "How sure are you?")


def main() -> int:
    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPixmap
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QWidget

    from anomalygpt_engine import Engine, EngineConfig, load_image
    from anomalygpt_engine.expert.knowledge import ProductKnowledge
    from anomalygpt_engine.expert.session import expert_chat
    from desktop_app.references import FolderReferenceRepository
    from desktop_app.widgets.chat_pane import ChatPane
    from desktop_app.widgets.reference_manager import ReferenceManager

    app = QApplication.instance() or QApplication([])
    qss = ROOT / "resources" / "style.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text())
    knowledge = ProductKnowledge(description="Ball-screw drive spindle, ground steel surface.",
                                 defect_types=["pit", "scratch"], rules_text=RULES, decider="the shift's quality engineer")
    engine = Engine(EngineConfig(llm="none", num_threads=2))
    refs = engine.build_references([load_image(p) for p in sorted((SAMPLES / "references").glob("*.jpg"))],
                                   product="ballscrew", description=knowledge.description)
    path = sorted((SAMPLES / "test").glob("pitting_*.jpg"))[0]
    image = load_image(path)
    result = engine.inspect(image, refs)
    session = expert_chat(engine, result, refs, image, knowledge)

    window = QWidget()
    window.resize(1600, 1000)
    row = QHBoxLayout(window)
    picture = QLabel()
    heat = np.clip(result.anomaly_map, 0, 1)
    overlay = image.astype(np.float32)
    overlay[..., 0] = np.where(heat >= 0.5, 0.5 * overlay[..., 0] + 127, overlay[..., 0])
    overlay = np.ascontiguousarray(overlay.astype(np.uint8))
    qimage = QImage(overlay.data, overlay.shape[1], overlay.shape[0], overlay.strides[0], QImage.Format.Format_RGB888)
    picture.setPixmap(QPixmap.fromImage(qimage).scaled(760, 900, Qt.AspectRatioMode.KeepAspectRatio))
    chat = ChatPane()
    row.addWidget(picture, 1)
    row.addWidget(chat, 1)
    chat.show_inspection(1, f"{path.name}: {result.verdict.value} {result.score:.2f}")
    for question in QUESTIONS:
        chat.ask(question)
        chat.append_token(1, session.answer(question))
        chat.finish_answer(1)
    window.show()
    app.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "14_chat_type_disposition_cant_tell.png"))

    with tempfile.TemporaryDirectory() as tmp:
        repo = FolderReferenceRepository(Path(tmp))
        repo.create_product("ballscrew", knowledge.description)
        repo.add_reference_files("ballscrew", sorted((SAMPLES / "references").glob("*.jpg")))
        repo.set_knowledge("ballscrew", knowledge)
        frame = QWidget()
        frame.resize(1600, 1000)
        layout = QHBoxLayout(frame)
        manager = ReferenceManager(repo)
        manager.setFixedWidth(560)
        layout.addWidget(manager)
        layout.addStretch(1)
        frame.show()
        app.processEvents()
        frame.grab().save(str(OUT / "14_product_knowledge_editor.png"))
    for question in QUESTIONS:
        print(question, "->", session.history[[t.text for t in session.history].index(question) + 1].text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
