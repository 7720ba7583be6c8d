"""Dialogues reach the history: through the live station, and across a SIGKILL right after an answer."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from desktop_app.history import HistoryFilter, HistoryStore
from tests.app.conftest import make_station

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Is there any anomaly in the image?"


def test_every_turn_is_recorded_against_the_live_inspection(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine, record_history=True)
    try:
        with qtbot.waitSignal(station.controller.recordShown, timeout=90_000) as shown:
            station.controller.step(+1)
        record = shown.args[0]
        assert isinstance(record.history_key, int)  # the live result carries its history id
        for question in (QUESTION, "Where is the anomaly?"):
            with qtbot.waitSignal(station.client.worker.chatFinished, timeout=90_000):
                station.window.chat.ask(question)  # as the inspector types it
            # the blocker may fire in the worker thread: wait for the pane to hear the end too
            qtbot.waitUntil(lambda: station.window.chat.streaming_id is None, timeout=10_000)
        stored = station.history.store.get(record.history_key, with_images=False)
        assert [m.role for m in stored.messages] == ["user", "assistant", "user", "assistant"]
        assert stored.messages[0].text == QUESTION and stored.messages[2].text == "Where is the anomaly?"
        answer = stored.messages[1]
        assert answer.model == "templates" and not answer.cancelled and answer.text
        assert answer.text == station.window.chat.conversations[record.id][1][1].strip()
        assert stored.messages[0].operator == station.history.operator.name
        assert station.history.store.count(HistoryFilter(text="anomaly in the image")) == 1
        c = stored.columns  # what judged the part, from the running engine and the product's set
        refs = station.controller.refs
        assert c["model_version"].startswith("efficientnet-lite0@") and "embedded" not in c["model_version"]
        assert len(c["models"]["backbone"]["sha256"]) == 64 and c["models"]["llm"]["name"] == "templates"
        assert len(c["models"]["prompt_learner"]["sha256"]) == 64
        assert c["raw_boundary"] == refs.calibration.boundary and c["boundary"] == 0.5
        assert c["raw_score"] == record.result.raw_score and len(c["reference_fingerprint"]) == 64
        assert abs(c["calibrated_at"].timestamp() - refs.created_at) < 1e-3
    finally:
        station.shutdown(save=False)


def test_sigkill_right_after_an_answer_keeps_the_conversation(calibrated_data_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1",
               ANOMALYGPT_DATA_DIR=str(calibrated_data_dir))
    child = subprocess.Popen([sys.executable, "-m", "tests.app.kill_after_answer", QUESTION], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = ""
        for line in child.stdout:  # type: ignore[union-attr]
            if line.startswith("answered "):
                break
        assert line.startswith("answered "), "the station never finished an answer"
        child.send_signal(signal.SIGKILL)  # no shutdown, no flush: only what was committed survives
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    key = int(line.split()[1])
    with HistoryStore(None) as store:  # opened as a restarted station would
        stored = store.get(key, with_images=False)
        assert [(m.role, m.text) for m in stored.messages][0] == ("user", QUESTION)
        assert stored.messages[1].role == "assistant" and stored.messages[1].text
        assert store.pending_count == 0
