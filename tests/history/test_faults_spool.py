"""A station killed while it replays its spool must not strand the records it had claimed."""
from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3

import pytest
from history_helpers import record

from desktop_app.history import HistoryStore, RecordQueuedError


def _queue_one(db_dir, spool) -> None:
    with HistoryStore(db_dir, busy_timeout_s=0.2, spool_dir=spool) as store:
        record(store, "OK", seed=1)
        blocker = sqlite3.connect(db_dir / "history.sqlite3", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RecordQueuedError):
            record(store, "NG", seed=2)
        blocker.execute("ROLLBACK")
        blocker.close()


def _die_while_replaying(db_dir: str, spool: str) -> None:
    with HistoryStore(db_dir, spool_dir=spool) as store:
        def killed(_pending):
            os._exit(9)  # SIGKILL-like: no cleanup, the claim stays on disk

        store._write_pending = killed
        store.flush_retry_queue()


def test_claims_of_a_process_killed_mid_replay_are_released_at_restart(tmp_path):
    db_dir, spool = tmp_path / "db", tmp_path / "spool"
    _queue_one(db_dir, spool)
    assert len(list(spool.glob("*.npz"))) == 1
    child = mp.get_context("spawn").Process(target=_die_while_replaying, args=(str(db_dir), str(spool)))
    child.start()
    child.join(120)
    assert child.exitcode == 9
    claimed = list(spool.glob("*.claimed-*"))
    assert len(claimed) == 1 and not list(spool.glob("*.npz"))
    with HistoryStore(db_dir, spool_dir=spool) as store:  # the restarted station
        assert store.pending_count == 1
        assert store.flush_retry_queue() == 1
        assert store.count() == 2 and store.pending_count == 0
    assert not list(spool.iterdir())


def test_a_live_claim_is_left_alone(tmp_path):
    db_dir, spool = tmp_path / "db", tmp_path / "spool"
    _queue_one(db_dir, spool)
    with HistoryStore(db_dir, spool_dir=spool) as store:
        items = store.queue.take_all()  # this live process holds the claim
        assert len(items) == 1
        with HistoryStore(db_dir, spool_dir=spool) as other:
            assert other.pending_count == 0, "another store must not replay a claim that is in progress"
        for item, path in items:
            store.queue.put_back(item, path)
        assert store.flush_retry_queue() == 1 and store.count() == 2
