"""Parts that were not judged (NO IMAGE / ERROR): recorded with their reason, filtered, counted apart,
exported, never overridden; written through the recorder's spool when the database is closed."""
from __future__ import annotations

import csv
import json

import pytest
from history_helpers import record
from test_recorder import TRACE

import desktop_app.history as history
from desktop_app.history import HistoryError, HistoryFilter
from desktop_app.history.export import EXPORTERS
from desktop_app.history.operators import Operator
from desktop_app.history.recorder import StationRecorder
from desktop_app.history.stats import statistics


@pytest.fixture
def recorder(tmp_path):
    rec = StationRecorder("st1", tmp_path / "db", operator=Operator("ann", "inspector"))
    yield rec
    rec.close()


def _drain(gen) -> None:  # type: ignore[no-untyped-def]
    for _ in gen:
        pass


def test_unreadable_image_is_a_row_with_its_reason_and_no_files(recorder):
    done = recorder.record_failure("NO IMAGE", "the file is empty (0 bytes)", product="bracket",
                                   source="/line/in/empty.png", trace=TRACE)
    assert done.written and done.problem is None
    stored = recorder.store.get(done.key)
    row = stored.row
    assert (row.verdict, row.effective_verdict, row.error) == ("NO IMAGE", "NO IMAGE", "the file is empty (0 bytes)")
    assert row.source == "/line/in/empty.png" and row.product == "bracket" and row.operator == "ann"
    assert not row.judged and not row.has_image and stored.image is None and stored.heatmap is None
    assert stored.columns["model_version"] == "lite0@abababab"  # what would have judged it
    assert not any(recorder.store.files.root.rglob("*.png"))  # nothing to keep


def test_not_judged_rows_filter_count_apart_export_and_refuse_overrides(recorder, tmp_path):
    store = recorder.store
    record(store, "OK", 0.1)
    ng = record(store, "NG", 0.9)
    recorder.record_failure("NO IMAGE", "not an image file", product="bracket", source="/in/notes.png")
    error = recorder.record_failure("ERROR", "Inspection failed: out of memory", product="bracket",
                                    source="camera").key
    assert store.count() == 4
    assert store.count(HistoryFilter(verdicts=("NO IMAGE", "ERROR"))) == 2
    assert [r.source for r in store.query(HistoryFilter(verdicts=("NO IMAGE",)))] == ["/in/notes.png"]
    stats = statistics(store)
    assert (stats.overall.total, stats.overall.ok, stats.overall.ng, stats.overall.not_inspected) == (2, 1, 1, 2)
    assert stats.overall.yield_ == 0.5 and len(stats.scores) == 2  # no score for a part not judged
    by_verdict, _edges = stats.histogram_by_verdict(10)
    assert {v: int(c.sum()) for v, c in by_verdict.items()} == {"OK": 1, "REVIEW": 0, "NG": 1}
    assert by_verdict["NG"][9] == 1 and by_verdict["OK"][1] == 1  # 0.9 and 0.1 in their bins
    with pytest.raises(HistoryError, match="not judged"):
        recorder.override(error, "OK", "engine_error", "camera was fine")
    recorder.override(ng, "OK", "false_alarm", "stain")  # judged parts still can be
    _drain(EXPORTERS["csv"](store, tmp_path / "h.csv"))
    with open(tmp_path / "h.csv", encoding="utf-8-sig") as handle:
        rows = {r["verdict"]: r for r in csv.DictReader(handle)}
    assert rows["NO IMAGE"]["error"] == "not an image file" and rows["OK"]["error"] == ""
    _drain(EXPORTERS["jsonl"](store, tmp_path / "h.jsonl"))
    lines = [json.loads(x) for x in (tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {x["verdict"]: x["error"] for x in lines}["ERROR"] == "Inspection failed: out of memory"
    _drain(EXPORTERS["pdf"](store, tmp_path / "h.pdf"))
    assert (tmp_path / "h.pdf").stat().st_size > 1000


def test_a_failure_waits_in_the_spool_while_the_database_is_closed(tmp_path, monkeypatch):
    def refuse(*_a, **_k):  # type: ignore[no-untyped-def]
        raise HistoryError("disk not mounted")

    rec = StationRecorder("st1", tmp_path / "db", operator=Operator("ann", "inspector"))
    monkeypatch.setattr(history, "HistoryStore", refuse)
    late = rec.record_failure("NO IMAGE", "truncated JPEG", product="bracket", source="/in/a.jpg")
    assert not late.written and "spool" in late.problem
    monkeypatch.undo()
    rec._next_open = 0.0
    record(rec.store, "OK", 0.1)
    rec.store.flush_retry_queue()
    assert [r.error for r in rec.store.query(HistoryFilter(verdicts=("NO IMAGE",)))] == ["truncated JPEG"]
    rec.close()
