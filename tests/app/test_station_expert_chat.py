"""Issue 14 end to end: the live station chat answers as the expert session does (defect type, and the
disposition from the rules the engineer wrote in the reference manager), and those turns reach the history."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from anomalygpt_engine.expert.taxonomy import TYPE_WORDS, DefectType
from desktop_app.paths import demo_samples_dir
from desktop_app.references import DEMO_PRODUCT
from tests.app.conftest import make_station

TYPE_QUESTION = "What kind of defect is it?"
DISPOSITION_QUESTION = "Should I scrap this part or rework it?"
RULES = ("pitting under 0.5% of the area at the centre: rework", "otherwise: scrap")
DECIDER = "the shift's quality engineer"


def _defect() -> Path:
    return sorted((demo_samples_dir() / "test").glob("pitting_1*.jpg"))[0]


def _type_said(answer: str) -> bool:
    """A taxonomy type named with a confidence, or the honest "unclear type"."""
    named = any(f"looks like {words} (confidence" in answer for words in TYPE_WORDS.values())
    return named or "unclear type" in answer


def _type_it(qtbot, station, question: str) -> str:  # type: ignore[no-untyped-def]
    """Type the question into the pane's input, press Enter, and wait for the whole answer."""
    chat = station.window.chat
    qtbot.waitUntil(lambda: chat.input.isEnabled(), timeout=10_000)
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, question)
    with qtbot.waitSignal(station.client.worker.chatFinished, timeout=90_000):
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.streaming_id is None, timeout=10_000)
    role, text = chat.conversations[chat.inspection_id][-1]
    assert role == "assistant", text  # an error turn is a failure, not an answer
    return text.strip()


def _inspect(qtbot, station, path: Path):  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(station.controller.recordShown, timeout=90_000) as shown:
        station.controller.inspect(path, "file")
    return shown.args[0]


def _write_rules_in_the_manager(qtbot, station) -> None:  # type: ignore[no-untyped-def]
    """As the engineer does: the reference manager's knowledge editor, saved through the catalog."""
    manager = station.window.references
    manager.refresh(select=DEMO_PRODUCT)
    qtbot.waitUntil(lambda: manager.current_product() == DEMO_PRODUCT, timeout=5_000)
    editor = manager.knowledge
    editor.types[DefectType.PIT].setChecked(True)
    editor.rules.setPlainText("\n".join(RULES))
    editor.decider.setText(DECIDER)
    editor.save_button.click()
    saved = station.repo.knowledge(DEMO_PRODUCT)
    assert saved is not None and [r.text for r in saved.rules] == list(RULES)


def test_station_chat_gives_the_expert_type_and_disposition_and_records_them(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine, record_history=True)
    try:
        _write_rules_in_the_manager(qtbot, station)
        record = _inspect(qtbot, station, _defect())
        assert record.result.verdict.value == "NG" and record.result.regions
        assert isinstance(record.history_key, int)

        kind = _type_it(qtbot, station, TYPE_QUESTION)
        assert _type_said(kind), kind
        assert "texture or colour does not match" not in kind  # the old template answer

        disposition = _type_it(qtbot, station, DISPOSITION_QUESTION)
        quoted = re.search(r'By the rule "([^"]+)", this part goes to (\w+)', disposition)
        if quoted:  # a rule applies: it is quoted word for word and its action is the one given
            assert quoted.group(1) in RULES, disposition
            assert quoted.group(2) == quoted.group(1).rsplit(":", 1)[1].strip(), disposition
        else:  # or the honest "no rule covers it", naming who decides
            assert "None of the rules covers this case" in disposition, disposition
        assert DECIDER in disposition, disposition
        assert "process that involves removing" not in disposition  # the LLM's old non-answer

        stored = station.history.store.get(record.history_key, with_images=False)
        assert [(m.role, m.text) for m in stored.messages] == [
            ("user", TYPE_QUESTION), ("assistant", kind), ("user", DISPOSITION_QUESTION), ("assistant", disposition)]
        assert all(m.model == "templates" and not m.cancelled for m in stored.messages if m.role == "assistant")
    finally:
        station.shutdown(save=False)


def test_without_written_knowledge_the_station_says_no_rules_exist(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine)
    try:
        assert station.repo.knowledge(DEMO_PRODUCT) is None
        _inspect(qtbot, station, _defect())
        disposition = _type_it(qtbot, station, DISPOSITION_QUESTION)
        assert disposition.startswith(f"No disposition rules are written for the {DEMO_PRODUCT}"), disposition
        assert "reference-set manager" in disposition
    finally:
        station.shutdown(save=False)


def test_an_unreadable_catalog_does_not_break_the_chat(qtbot, engine, calibrated_data_dir, monkeypatch):
    station = make_station(qtbot, engine)
    try:
        def broken(name: str):  # type: ignore[no-untyped-def]
            raise OSError(f"knowledge of {name} unreadable")

        monkeypatch.setattr(station.repo, "knowledge", broken)
        _inspect(qtbot, station, _defect())
        disposition = _type_it(qtbot, station, DISPOSITION_QUESTION)
        assert disposition.startswith("No disposition rules are written"), disposition
    finally:
        station.shutdown(save=False)
