"""The station when its history store fails: a status-bar line, the record kept, and recovery.

The store's own fault handling is tested in tests/history; here the real Station (window, worker,
recorder) meets a store that cannot be opened, then a locked database, while inspections go on.
"""

from __future__ import annotations

import sqlite3

import desktop_app.history as history
from desktop_app.history import HistoryStore, StoreBusyError
from tests.app.conftest import make_station


def _inspect_next(qtbot, station) -> None:
    with qtbot.waitSignal(station.controller.recordShown, timeout=60_000):
        station.controller.step(+1)


def _status(station) -> str:
    return station.window.status_message.text()


def test_store_that_cannot_open_spools_reports_and_replays(qtbot, engine, calibrated_data_dir, monkeypatch):
    real_store = history.HistoryStore
    state = {"down": True, "attempts": 0}

    class FlakyStore(real_store):
        def __init__(self, *args, **kwargs) -> None:
            state["attempts"] += 1
            if state["down"]:
                raise StoreBusyError("migrating the history database: database is locked (injected)")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(history, "HistoryStore", FlakyStore)
    station = make_station(qtbot, engine, record_history=True)
    station.history.REOPEN_S = 0.0
    try:
        _inspect_next(qtbot, station)
        # the history's complaint follows the result's own status line, and stays on screen
        qtbot.waitUntil(lambda: "kept in the spool" in _status(station), timeout=10_000)
        assert "database is locked" in _status(station)
        _inspect_next(qtbot, station)  # the station keeps inspecting while the store is down
        spooled = list((calibrated_data_dir / "spool").glob("*.npz"))
        assert len(spooled) == 2 and station.history.recorded == 0 and state["attempts"] == 2
        assert station.controller.pending == 0  # a history failure is not a failed inspection
        state["down"] = False
        _inspect_next(qtbot, station)
        qtbot.waitUntil(lambda: station.history.recorded == 1, timeout=30_000)
    finally:
        station.shutdown(save=False)
    with real_store(None) as store:
        assert store.count() == 3 and store.pending_count == 0
    assert not list((calibrated_data_dir / "spool").iterdir())


def test_locked_database_is_a_status_line_and_the_next_record_flushes(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine, record_history=True)
    try:
        _inspect_next(qtbot, station)
        qtbot.waitUntil(lambda: station.history.recorded == 1, timeout=30_000)
        station.history.store.engine.dispose()
        blocker = sqlite3.connect(calibrated_data_dir / "history.sqlite3", isolation_level=None, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            _inspect_next(qtbot, station)
            qtbot.waitUntil(lambda: "retry queue" in _status(station), timeout=30_000)
            assert "Could not record the inspection in history" in _status(station)
            assert station.history.store.pending_count == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        _inspect_next(qtbot, station)
        qtbot.waitUntil(lambda: station.history.recorded == 2, timeout=30_000)
        assert station.history.store.pending_count == 0
    finally:
        station.shutdown(save=False)
    with HistoryStore(None) as store:
        assert store.count() == 3
