"""Lot and stream evidence through the real station: folder batches as lots, streams that persist."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop_app.settings import Settings
from desktop_app.streams import product_key
from tests.app.conftest import make_station
from tests.app.test_station import demo_lot


def test_folder_batch_is_inspected_as_a_lot(qtbot, station, tmp_path):
    folder = demo_lot(tmp_path / "lot", copies=1)
    shown = []  # every record the worker hands over (the window shows the newest of a batch)
    station.client.worker.inspected.connect(lambda _request, record: shown.append(record))
    with qtbot.waitSignal(station.controller.batchDone, timeout=300_000) as blocker:
        station.controller.inspect_folder(folder)
    assert blocker.args == [4, False]
    assert len(shown) == 4 and all(r.result.mode == "lot" for r in shown)
    assert station.controller.counts.total == 4
    verdicts = {r.path.name.split("_", 1)[1]: r.result.verdict.is_defective for r in shown}
    assert any(verdicts.values()) and not all(verdicts.values()), verdicts


def test_batch_without_lot_evidence_inspects_one_by_one(qtbot, engine, calibrated_data_dir, tmp_path):
    station = make_station(qtbot, engine, Settings(lot_evidence=False))
    try:
        shown = []
        station.client.worker.inspected.connect(lambda _request, record: shown.append(record))
        with qtbot.waitSignal(station.controller.batchDone, timeout=120_000):
            station.controller.inspect_folder(demo_lot(tmp_path / "lot", copies=1))
        assert len(shown) == 4 and all(r.result.mode != "lot" for r in shown)
    finally:
        station.shutdown(save=False)


def test_stream_evidence_learns_from_ok_parts_and_survives_a_restart(qtbot, engine, calibrated_data_dir):
    settings = Settings(stream_evidence=True)
    station = make_station(qtbot, engine, settings)
    try:
        for _ in range(4):
            with qtbot.waitSignal(station.controller.recordShown, timeout=30_000):
                QTest.keyClick(station.window, Qt.Key.Key_Space)
        streams = station.client.worker.streams
        refs = station.client.worker._results[next(reversed(station.client.worker._results))][1]
        stream = streams.stream_for(refs)
        assert stream.seen == 4
        ok_parts = len(stream.scores)
        assert ok_parts >= 1, "the demo's good samples teach the stream"
        assert len(stream.pool) == 0, "no patch pool by default (stream_pool off)"
    finally:
        station.shutdown(save=False)
    assert (calibrated_data_dir / "streams" / product_key(refs.product) / "stream.json").is_file()
    again = make_station(qtbot, engine, settings)
    try:
        restored = again.client.worker.streams.stream_for(refs)
        assert restored.seen == 4 and len(restored.scores) == ok_parts
    finally:
        again.shutdown(save=False)
