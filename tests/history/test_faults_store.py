"""Storage faults the durability tests do not cover: read-only disk and database, a real SQLITE_FULL,
a missing image store folder. Each ends the same way: a clear error, the record queued (on disk when
the spool can be written, in memory otherwise), nothing lost, and a clean recovery afterwards.
"""
from __future__ import annotations

import errno
import shutil
import tempfile

import pytest
from history_helpers import record
from sqlalchemy import event

from desktop_app.history import HistoryStore, RecordQueuedError, StorageFullError, retry_queue
from desktop_app.history.errors import HistoryError


def assert_consistent(store: HistoryStore) -> None:
    """Every row's files exist, every stored file belongs to a row, no journal or spool left."""
    rows = store.query(limit=10_000)
    referenced = set()
    for row in rows:
        columns = store.get(row.id, with_images=False).columns
        for key in ("image_path", "heatmap_path"):
            assert store.files.abspath(columns[key]).is_file(), f"row {row.id} lost its {key}"
            referenced.add(columns[key])
    assert set(store.files.iter_files()) == referenced
    assert not list((store.files.root / ".journal").glob("*.json"))
    assert store.pending_count == 0


def _read_only_fs(*_a, **_k):
    raise OSError(errno.EROFS, "Read-only file system")


def test_read_only_disk_keeps_records_in_memory_then_recovers(tmp_path, monkeypatch):
    """Image store and spool on the same read-only disk: nothing can be written, nothing is lost."""
    with HistoryStore(tmp_path / "db", spool_dir=tmp_path / "spool") as store:
        record(store, "OK", seed=1)
        monkeypatch.setattr(tempfile, "mkstemp", _read_only_fs)
        monkeypatch.setattr(retry_queue, "open", _read_only_fs, raising=False)
        uids = []
        for seed in (2, 3, 4):
            with pytest.raises(RecordQueuedError) as caught:
                record(store, "NG", seed=seed)
            assert "Read-only file system" in str(caught.value)
            uids.append(caught.value.uid)
        assert store.pending_count == 3 and not list((tmp_path / "spool").iterdir())
        assert store.count() == 1
        monkeypatch.undo()  # the disk is writable again (remounted, or the operator freed it)
        record(store, "OK", seed=5)  # the next record replays the queue first
        assert store.count() == 5
        assert_consistent(store)


def _query_only(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA query_only=ON")


def test_read_only_database_is_reported_and_queued_on_disk_then_flushed(tmp_path):
    spool = tmp_path / "spool"
    with HistoryStore(tmp_path / "db", spool_dir=spool, busy_timeout_s=0.2) as store:
        record(store, "OK", seed=1)
        store.engine.dispose()
        event.listen(store.engine, "connect", _query_only)
        with pytest.raises(RecordQueuedError) as caught:
            record(store, "NG", seed=2)
        assert "readonly" in str(caught.value).replace("-", "").replace(" ", "")
        assert len(list(spool.glob("*.npz"))) == 1  # survives a restart of the station
        event.remove(store.engine, "connect", _query_only)
        store.engine.dispose()
        assert store.flush_retry_queue() == 1 and store.count() == 2
        assert_consistent(store)


def test_real_sqlite_full_is_storage_full_and_recovers(tmp_path):
    """SQLITE_FULL for real: the database may not grow by one page (max_page_count)."""
    pages = {}

    def cap(dbapi_conn, _record) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count={pages['limit']}")

    with HistoryStore(tmp_path / "db", busy_timeout_s=0.2) as store:
        for seed in range(3):
            record(store, "OK", seed=seed)
        with store.engine.connect() as conn:
            pages["limit"] = conn.exec_driver_sql("PRAGMA page_count").scalar()
        store.engine.dispose()
        event.listen(store.engine, "connect", cap)
        queued = 0
        for seed in range(10, 40):  # fill the last free pages until the database refuses
            try:
                record(store, "NG", seed=seed)
            except RecordQueuedError as exc:
                assert isinstance(exc.cause, StorageFullError), exc
                assert "full" in str(exc)
                queued += 1
        assert queued > 0 and store.pending_count == queued
        before = store.count()
        assert set(store.files.iter_files()) == {p for r in store.query(limit=1000)
                                                  for p in _paths(store, r.id)}  # no orphan files
        event.remove(store.engine, "connect", cap)
        store.engine.dispose()
        assert store.flush_retry_queue() == queued
        assert store.count() == before + queued == 33
        assert_consistent(store)


def _paths(store: HistoryStore, inspection_id: int) -> tuple[str, str]:
    columns = store.get(inspection_id, with_images=False).columns
    return columns["image_path"], columns["heatmap_path"]


def test_missing_default_image_folder_is_made_again(tmp_path, caplog):
    with HistoryStore(tmp_path / "db") as store:
        record(store, "OK", seed=1)
        shutil.rmtree(store.files.root)
        record(store, "NG", seed=2)
        assert "missing" in caplog.text
        assert store.files.abspath(_paths(store, store.query(limit=1)[0].id)[0]).is_file()


def test_missing_shared_image_folder_queues_until_it_is_back(tmp_path):
    share = tmp_path / "share" / "files"
    with HistoryStore(tmp_path / "db", files_dir=share, spool_dir=tmp_path / "spool") as store:
        record(store, "OK", seed=1)
        kept = store.files.iter_files()
        shutil.move(str(share), str(tmp_path / "unmounted"))  # the share goes away
        with pytest.raises(RecordQueuedError) as caught:
            record(store, "NG", seed=2)
        assert isinstance(caught.value.cause, HistoryError) and "is missing" in str(caught.value)
        assert not share.exists(), "a vanished share must not be re-created on the local disk"
        assert store.count() == 1 and len(list((tmp_path / "spool").glob("*.npz"))) == 1
        shutil.move(str(tmp_path / "unmounted"), str(share))  # mounted again
        assert store.flush_retry_queue() == 1 and store.count() == 2
        assert set(kept) < set(store.files.iter_files())
        assert_consistent(store)


def test_queued_records_survive_a_restart_while_the_fault_lasts(tmp_path, monkeypatch):
    """Disk full for the image store: spooled records outlive the process and flush at the next one."""
    spool = tmp_path / "spool"

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with HistoryStore(tmp_path / "db", spool_dir=spool) as store:
        record(store, "OK", seed=1)
        monkeypatch.setattr(tempfile, "mkstemp", full)
        for seed in (2, 3):
            with pytest.raises(RecordQueuedError) as caught:
                record(store, "NG", seed=seed)
            assert isinstance(caught.value.cause, StorageFullError)
    monkeypatch.undo()
    assert len(list(spool.glob("*.npz"))) == 2
    with HistoryStore(tmp_path / "db", spool_dir=spool) as store:
        assert store.pending_count == 2
        assert store.flush_retry_queue() == 2 and store.count() == 3
        assert_consistent(store)
