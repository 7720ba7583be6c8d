"""Screenshots of the main window at 1600x1000 in the states an inspector meets (docs/screenshots/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.test_station import RESULTS, demo_lot, demo_tests

SIZE = (1600, 1000)


def save(station, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    station.window.resize(*SIZE)
    station.window.view.reset_zoom()
    for _ in range(3):
        QApplication.processEvents()
    pixmap = station.window.grab()
    assert (pixmap.width(), pixmap.height()) == SIZE
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    assert pixmap.save(
        str(path), "PNG"
    )  # full colour: a palette PNG posterised the heatmap and verdict colours
    assert path.stat().st_size > 20_000
    return path


def inspect(qtbot, station, index: int):
    station.controller.set_images(demo_tests(), index - 1)
    with qtbot.waitSignal(station.controller.recordShown, timeout=30_000) as blocker:
        station.controller.step(+1)
    qtbot.wait(50)
    return blocker.args[0]


@pytest.fixture
def shot_station(qtbot, station):
    station.window.resize(*SIZE)
    qtbot.wait(50)
    return station


def test_first_run_empty(qtbot, shot_station):
    save(shot_station, "01_first_run")


def test_ok_result(qtbot, shot_station):
    record = inspect(qtbot, shot_station, 0)
    assert record.result.verdict.value == "OK"
    save(shot_station, "02_ok_result")


def test_ng_result_with_heatmap_and_reference(qtbot, shot_station):
    inspect(qtbot, shot_station, 0)
    record = inspect(qtbot, shot_station, 2)
    assert record.result.verdict.value == "NG" and record.result.regions, (
        f"the engine no longer flags the demo pitting image (score {record.result.score:.2f}): "
        "a first-run user would see no defect"
    )
    shot_station.window.controls.reference.setChecked(True)
    qtbot.wait(50)
    save(shot_station, "03_ng_result_heatmap")


def test_chat_multi_turn(qtbot, shot_station):
    inspect(qtbot, shot_station, 3)
    chat = shot_station.window.chat
    for question in ("Is there any anomaly?", "Where is it?", "How large is the defect?"):
        chat.ask(question)
        qtbot.waitUntil(lambda: chat.streaming_id is None, timeout=60_000)
    assert sum(1 for role, _ in chat.conversations[chat.inspection_id] if role == "user") == 3
    save(shot_station, "04_chat_multi_turn")


def test_chat_expert_type_disposition_and_cant_tell(qtbot, shot_station):
    """Issue 14 in the live station: the defect type, the disposition by the engineer's rule, and an
    honest "can't tell" for a cause no inspection measures."""
    from anomalygpt_engine.expert.knowledge import ProductKnowledge
    from desktop_app.references import DEMO_PRODUCT

    rules = "pitting under 0.5% of the area at the centre: rework\notherwise: scrap"
    shot_station.repo.set_knowledge(DEMO_PRODUCT, ProductKnowledge(
        description="Ball-screw drive spindle, ground steel surface.", defect_types=["pit", "scratch"],
        rules_text=rules, decider="the shift's quality engineer"))
    record = inspect(qtbot, shot_station, 2)
    assert record.result.verdict.value == "NG" and record.path.name.startswith("pitting_1")
    chat = shot_station.window.chat
    answers = []
    questions = ("What kind of defect is it?", "Should I scrap this part or rework it?", "What caused this defect?")
    for question in questions:
        chat.ask(question)
        qtbot.waitUntil(lambda: chat.streaming_id is None, timeout=60_000)
        answers.append(chat.conversations[chat.inspection_id][-1][1])
    kind, disposition, cause = answers
    assert "looks like" in kind or "unclear type" in kind, kind
    assert 'By the rule "' in disposition or "None of the rules covers" in disposition, disposition
    assert cause.startswith("I can't tell that from this inspection"), cause
    save(shot_station, "chat_expert")


def test_reference_manager(qtbot, shot_station):
    inspect(qtbot, shot_station, 1)
    window = shot_station.window
    window.tabs.setCurrentWidget(window.references)
    qtbot.wait(50)
    assert window.references.thumbs.count() == 4
    save(shot_station, "05_reference_manager")


def test_batch_in_progress(qtbot, shot_station, tmp_path):
    folder = demo_lot(tmp_path / "lot", copies=10)
    controller = shot_station.controller
    controller.inspect_folder(folder)
    qtbot.waitUntil(lambda: controller.counts.total >= 12 and controller.current is not None, timeout=60_000)
    save(shot_station, "06_batch_in_progress")
    controller.cancel()
    qtbot.waitUntil(lambda: controller.batch_request is None, timeout=30_000)
