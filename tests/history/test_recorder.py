"""StationRecorder: one writer for records, chat turns, overrides and audit, under the operator's role."""
from __future__ import annotations

import datetime as dt

import pytest
from history_helpers import make_result

import desktop_app.history as history
from desktop_app.history import HistoryStore, StoreBusyError
from desktop_app.history.operators import NotAllowedError, Operator, check_pin, hash_pin, login
from desktop_app.history.recorder import StationRecorder, Trace

TRACE = Trace(engine_version="0.1.0", models={"mode": "fused", "backbone": {"name": "lite0", "sha256": "ab" * 32}},
              model_version="lite0@abababab", boundary=0.5, raw_boundary=1.234, reference_fingerprint="f" * 64,
              calibrated_at=dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc))


@pytest.fixture
def recorder(tmp_path):
    rec = StationRecorder("st1", tmp_path / "db", operator=Operator("ann", "inspector"))
    yield rec
    rec.close()


def test_records_inspection_with_trace_and_turns_under_operator_and_model(recorder):
    result, image = make_result("NG", 0.8)
    done = recorder.record_inspection(result, image, source="cam0", trace=TRACE)
    assert done.written and done.problem is None and isinstance(done.key, int)
    assert recorder.record_turn(done.key, "Is there any anomaly?", "Yes, top left.", model="SmolLM2")
    assert recorder.record_turn(done.key, "How large?", "About", model="SmolLM2", cancelled=True)
    stored = recorder.store.get(done.key, with_images=False)
    c = stored.columns
    assert c["operator"] == "ann" and c["station"] == "st1" and c["raw_boundary"] == pytest.approx(1.234)
    assert c["models"]["backbone"]["sha256"] == "ab" * 32 and c["reference_fingerprint"] == "f" * 64
    assert c["calibrated_at"] == TRACE.calibrated_at and c["model_version"] == "lite0@abababab"
    roles = [(m.role, m.text, m.model, m.cancelled, m.operator) for m in stored.messages]
    assert roles == [("user", "Is there any anomaly?", None, False, "ann"),
                     ("assistant", "Yes, top left.", "SmolLM2", False, None),
                     ("user", "How large?", None, False, "ann"),
                     ("assistant", "About", "SmolLM2", True, None)]


def test_a_store_that_cannot_open_spools_records_and_turns_and_replays_them(tmp_path, monkeypatch):
    real = history.HistoryStore
    state = {"down": True}

    class Flaky(real):
        def __init__(self, *a, **kw) -> None:
            if state["down"]:
                raise StoreBusyError("locked (injected)")
            super().__init__(*a, **kw)

    monkeypatch.setattr(history, "HistoryStore", Flaky)
    rec = StationRecorder("st1", tmp_path / "db", operator=Operator("bob"))
    rec.REOPEN_S = 0.0
    result, image = make_result("NG", 0.8)
    late = rec.record_inspection(result, image, source="cam0", trace=TRACE)
    assert not late.written and late.key == late.uid and "kept in the spool" in late.problem
    assert rec.record_turn(late.key, "Where?", "Top left.", model="templates") is False
    assert len(list((tmp_path / "db" / "spool").glob("*"))) == 3  # the record and both turns
    state["down"] = False
    second = rec.record_inspection(result, image, source="cam1", trace=TRACE)  # opens, replays the spool
    assert second.written
    rec.close()
    with real(tmp_path / "db") as store:
        assert store.count() == 2 and store.pending_count == 0
        first = [r for r in store.query() if r.source == "cam0"][0]
        assert [m.text for m in store.get(first.id, with_images=False).messages] == ["Where?", "Top left."]


def test_roles_gate_confirming_references_and_every_change_names_the_operator(recorder):
    result, image = make_result("NG", 0.8)
    key = recorder.record_inspection(result, image, source="cam0", trace=TRACE).key
    change = recorder.override(key, "OK", "false_alarm", "glare on the rim", propose_reference=True)
    with pytest.raises(NotAllowedError):
        recorder.confirm_reference(change)
    recorder.log_in(Operator("erin", "engineer"))
    assert recorder.confirm_reference(change) > 0
    events = recorder.store.audit_events()
    assert [(e["kind"], e["actor"]) for e in reversed(events)] == [
        ("override", "ann"), ("login", "erin"), ("reference_added", "erin")]
    assert recorder.store.get(key, with_images=False).overrides[0]["confirmed_by"] == "erin"


def test_engineer_login_needs_the_pin_when_one_is_set():
    stored = hash_pin("4711")
    assert check_pin("4711", stored) and not check_pin("0000", stored) and check_pin("", "")
    assert login("erin", "engineer", "4711", stored).is_engineer
    with pytest.raises(NotAllowedError):
        login("erin", "engineer", "1234", stored)
    assert login("ivan", "inspector", "", stored).role == "inspector"  # inspectors need no PIN


def test_boundary_must_be_stated(tmp_path):
    result, image = make_result("NG", 0.8)
    with HistoryStore(tmp_path / "db") as store, pytest.raises(history.HistoryError):
        store.record_inspection(result, image, station="s", operator="o", engine_version="1", model_version="m")


def test_every_export_carries_the_traceability(recorder, tmp_path):
    import csv
    import json

    from desktop_app.history.export import EXPORTERS

    result, image = make_result("NG", 0.8)
    key = recorder.record_inspection(result, image, source="cam0", trace=TRACE).key
    recorder.record_turn(key, "Where?", "Top left.", model="SmolLM2")
    for kind in ("csv", "jsonl", "xlsx"):
        for _ in EXPORTERS[kind](recorder.store, tmp_path / f"out.{kind}"):
            pass
    row = next(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert row["model_version"] == "lite0@abababab" and row["reference_fingerprint"] == "f" * 64
    assert float(row["raw_boundary"]) == pytest.approx(1.234) and float(row["boundary"]) == 0.5
    assert row["calibrated_at_utc"].startswith("2026-12-01T08:00")
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert line["models"]["backbone"]["sha256"] == "ab" * 32 and line["operator"] == "ann"
    assert [(m["role"], m["model"], m["operator"]) for m in line["messages"]] == [
        ("user", None, "ann"), ("assistant", "SmolLM2", None)]
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "out.xlsx").active
    header = [c.value for c in sheet[1]]
    assert "model_version" in header and sheet.cell(2, header.index("model_version") + 1).value == "lite0@abababab"
