"""All-or-nothing writes, crash recovery, concurrent writers, locked database, full disk, retry queue."""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import sqlite3

import pytest
from history_helpers import make_result, record

from desktop_app.history import HistoryStore, RecordQueuedError, StorageFullError, recording
from desktop_app.history.files import ContentStore


def _files(store: HistoryStore) -> list[str]:
    return store.files.iter_files()


def test_failure_between_files_and_row_leaves_nothing(store, monkeypatch):
    record(store, "NG", seed=1)
    before_files = _files(store)
    written: list[str] = []

    def broken_insert(session, row):
        written.extend([row.image_path, row.heatmap_path])
        assert store.files.abspath(row.image_path).exists()  # the files really were on disk
        raise RuntimeError("injected failure after the files, before the row")

    monkeypatch.setattr(recording, "insert_row", broken_insert)
    with pytest.raises(RecordQueuedError) as caught:
        record(store, "NG", seed=2)
    assert isinstance(caught.value.cause, RuntimeError)
    assert store.count() == 1
    new = [p for p in written if p not in before_files]
    assert new, "the image is new content; the identical heatmap is shared with the first record"
    assert _files(store) == before_files and not any(store.files.abspath(p).exists() for p in new)
    assert all(store.files.abspath(p).exists() for p in before_files)  # shared file not deleted
    assert list((store.files.root / ".journal").iterdir()) == []
    assert store.pending_count == 1  # the record is not lost: it waits in the retry queue
    monkeypatch.undo()
    assert store.flush_retry_queue() == 1
    assert store.count() == 2 and store.pending_count == 0
    assert all(store.files.abspath(p).exists() for p in written)


def _crash_after_files(db_dir: str) -> None:
    with HistoryStore(db_dir) as s:
        def die(session, row):
            os._exit(3)  # the process dies: no except, no finally, no cleanup

        recording.insert_row = die
        record(s, "NG", seed=9)


def test_crash_between_files_and_row_is_recovered_on_next_open(tmp_path):
    db_dir = tmp_path / "db"
    with HistoryStore(db_dir) as s:
        record(s, "OK", seed=1)
        kept = _files(s)
    proc = mp.get_context("spawn").Process(target=_crash_after_files, args=(str(db_dir),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    orphans = ContentStore(db_dir / "files").iter_files()
    assert len(orphans) == len(kept) + 2  # the dead writer left image + heatmap behind
    with HistoryStore(db_dir) as s:
        assert _files(s) == kept and s.count() == 1


def _writer(db_dir: str, worker: int, n: int) -> None:
    with HistoryStore(db_dir, busy_timeout_s=20.0) as s:
        for i in range(n):
            iid = record(s, "NG" if i % 2 else "OK", seed=worker * 1000 + i, station=f"st{worker}",
                         product="shared")
            s.add_chat_message(iid, "user", f"question {worker}/{i}")


def test_two_processes_write_the_same_sqlite_file(tmp_path):
    db_dir = tmp_path / "db"
    HistoryStore(db_dir).close()  # created once, as the installer would
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db_dir), w, 25)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with HistoryStore(db_dir) as s:
        assert s.count() == 50
        from desktop_app.history import HistoryFilter
        assert s.count(HistoryFilter(station="st1")) == 25 and s.count(HistoryFilter(station="st2")) == 25
        assert s.count(HistoryFilter(text="question 2/24")) == 1
        assert len(s.list_products()) == 1 and s.pending_count == 0


def test_locked_database_queues_record_and_chat_then_flushes(tmp_path):
    with HistoryStore(tmp_path / "db", busy_timeout_s=0.2, spool_dir=tmp_path / "spool") as s:
        record(s, "OK", seed=1)  # product exists, so only the inspection write meets the lock
        blocker = sqlite3.connect(tmp_path / "db" / "history.sqlite3", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RecordQueuedError) as caught:
            record(s, "NG", seed=2)
        assert "busy" in str(caught.value) or "locked" in str(caught.value)
        assert s.add_chat_message(caught.value.uid, "user", "queued question") is None
        assert s.pending_count == 2 and len(list((tmp_path / "spool").iterdir())) == 2
        blocker.execute("ROLLBACK")
        blocker.close()
        assert s.flush_retry_queue() == 2
        rec = s.get(s.query(limit=1)[0].id)
        assert rec.row.verdict == "NG" and rec.messages[0][1] == "queued question"
        assert list((tmp_path / "spool").iterdir()) == []


def test_spool_survives_a_restart(tmp_path):
    spool = tmp_path / "spool"
    with HistoryStore(tmp_path / "db", busy_timeout_s=0.2, spool_dir=spool) as s:
        record(s, "OK", seed=1)
        blocker = sqlite3.connect(tmp_path / "db" / "history.sqlite3", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RecordQueuedError):
            record(s, "NG", seed=2)
        blocker.execute("ROLLBACK")
        blocker.close()
    with HistoryStore(tmp_path / "db", spool_dir=spool) as s:  # a new process, memory empty
        assert s.pending_count == 1
        record(s, "OK", seed=3)  # a successful write flushes the queue first
        assert s.count() == 3 and s.pending_count == 0


def test_full_disk_is_a_clear_error_and_nothing_is_lost(store, monkeypatch):
    real_put = ContentStore.put

    def full(self, data):
        raise StorageFullError("disk full while writing (injected)") from OSError(errno.ENOSPC, "No space")

    monkeypatch.setattr(ContentStore, "put", full)
    with pytest.raises(RecordQueuedError) as caught:
        record(store, "NG", seed=4)
    assert isinstance(caught.value.cause, StorageFullError)
    assert store.count() == 0 and store.pending_count == 1
    monkeypatch.setattr(ContentStore, "put", real_put)
    assert store.flush_retry_queue() == 1 and store.count() == 1


def test_enospc_from_the_os_maps_to_storage_full(tmp_path, monkeypatch):
    files = ContentStore(tmp_path / "files")

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", no_space)
    with pytest.raises(StorageFullError):
        files.put(b"x" * 10)
    assert files.iter_files() == [] and not list((tmp_path / "files").rglob("*.part"))


def test_invalid_input_is_rejected_not_queued(store):
    result, image = make_result()
    from desktop_app.history import HistoryError
    with pytest.raises(HistoryError):
        store.record_inspection(result, image.astype("float32"), station="s", operator="o",
                                engine_version="1", model_version="m", boundary=0.5)
    assert store.pending_count == 0
