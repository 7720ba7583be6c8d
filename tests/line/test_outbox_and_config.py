"""The durable outbox and the line settings (Qt-free, no servers)."""

from __future__ import annotations

import json
import threading

import pytest

from desktop_app.line.config import LineSettings, is_loopback, line_settings, with_line_settings
from desktop_app.line.outbox import Outbox
from desktop_app.settings import Settings, load_settings, save_settings


def test_outbox_keeps_order_and_ids_across_a_restart(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    seqs = [box.put(f"id{i}", "t", lambda seq: json.dumps({"seq": seq}).encode()) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert box.put("id2", "t", b"again") == 3 and len(box) == 5  # same id: kept once
    box.remove([1, 2])
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite3")  # the station restarted
    waiting = reopened.peek(10)
    assert [m.seq for m in waiting] == [3, 4, 5] and json.loads(waiting[0].payload) == {"seq": 3}
    reopened.remove([3, 4, 5])
    assert reopened.put("id9", "t", b"x") == 6  # sequence numbers are never reused
    assert [m.seq for m in reopened.peek(10, after=5)] == [6]


def test_outbox_is_safe_from_several_threads(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")

    def fill(prefix: str) -> None:
        for i in range(200):
            box.put(f"{prefix}{i}", "t", lambda seq: str(seq).encode())

    threads = [threading.Thread(target=fill, args=(p,)) for p in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = box.peek(1000)
    assert len(messages) == 600 and [m.seq for m in messages] == list(range(1, 601))
    assert all(int(m.payload) == m.seq for m in messages)


def test_line_settings_round_trip_through_settings_json(tmp_path):
    line = LineSettings(opcua_enabled=True, opcua_port=4850, mqtt_enabled=True, mqtt_topic="plant/{station}/q",
                        station_name="st-7", trigger_source="gige", gige_camera_id="Aravis-Fake-GV01")
    save_settings(with_line_settings(Settings(hot_folder="/x"), line), tmp_path)
    loaded = load_settings(tmp_path)
    assert line_settings(loaded) == line and loaded.hot_folder == "/x"
    assert line.topic() == "plant/st-7/q" and line.status_topic() == "anomalygpt/st-7/status"
    assert line_settings(Settings()) == LineSettings()  # absent: everything off
    damaged = LineSettings.from_dict({"opcua_port": "not a port", "mqtt_port": "1884", "unknown": 1})
    assert damaged.opcua_port == 4840 and damaged.mqtt_port == 1884


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("192.168.0.10", False), ("plc-net", False)])
def test_listening_beyond_loopback_needs_a_password(host, loopback):
    assert is_loopback(host) is loopback
    problems = LineSettings(opcua_enabled=True, opcua_host=host).validate()
    assert bool(problems) is (not loopback)
    assert not LineSettings(opcua_enabled=True, opcua_host=host, opcua_username="plc", opcua_password="pw").validate()
