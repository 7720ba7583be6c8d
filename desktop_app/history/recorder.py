"""StationRecorder: the one writer of a station's quality record (Qt-free, engine-free).

One per process. It records an inspection and hands back its key (row id, or the uid of a record
waiting in the spool), records each chat turn against that key when the answer ends, applies
overrides and reference confirmations under the logged-in operator's role, and owns the retry
queue: while the database cannot be opened, records and turns wait in `<data>/spool` and are
replayed, in order, by the first write after it opens. The GUI reads through `store` (the same
HistoryStore), never a second one.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import desktop_app.history as history_package
from desktop_app.history import recording
from desktop_app.history.errors import HistoryError, RecordQueuedError
from desktop_app.history.operators import ENGINEER, Operator, default_operator
from desktop_app.history.retry_queue import PendingChat, RetryQueue
from desktop_app.history.store import HistoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trace:
    """What judged a part, as the caller (who knows the engine) describes it."""

    engine_version: str
    models: dict[str, Any]
    model_version: str  # one line: backbone@hash + decoder@hash + llm
    boundary: float  # calibrated decision boundary
    raw_boundary: float | None = None  # the same boundary on the raw score scale
    reference_fingerprint: str | None = None
    calibrated_at: dt.datetime | None = None


@dataclass(frozen=True)
class Recorded:
    """Outcome of recording: `key` is the row id, or the uid while the record waits in the spool."""

    key: int | str
    uid: str
    problem: str | None = None  # readable reason the record is late; None when it is written

    @property
    def written(self) -> bool:
        return isinstance(self.key, int)


@dataclass
class StationRecorder:
    station: str
    location: str | Path | None = None  # None: the default SQLite file in the user's data folder
    operator: Operator = field(default_factory=default_operator)
    REOPEN_S = 10.0

    def __post_init__(self) -> None:
        self._store: HistoryStore | None = None
        self._fallback: RetryQueue | None = None  # spool while the store cannot be opened
        self._next_open = 0.0
        self._lock = threading.RLock()  # the worker records, the GUI thread overrides and logs in
        self.failed: str | None = None
        self.recorded = 0
        self.turns = 0

    # ---- the store -------------------------------------------------------------------------
    @property
    def store(self) -> HistoryStore | None:
        """The one HistoryStore, opened on first use; None while it cannot be opened."""
        with self._lock:
            if self._store is None and time.monotonic() >= self._next_open:
                try:
                    # looked up on the package at call time: fault tests replace it there
                    self._store = history_package.HistoryStore(self.location)
                except Exception as exc:  # keep inspecting; records wait in the spool
                    self.failed = str(exc)
                    self._next_open = time.monotonic() + self.REOPEN_S
                    log.warning("history store unavailable: %s", exc)
                else:
                    self.failed = None
                    self._hand_over_fallback()
            return self._store

    def _spool(self) -> RetryQueue:
        if self._fallback is None:
            from desktop_app.history.database import default_data_dir, resolve_url, sqlite_path

            db_file = sqlite_path(resolve_url(self.location))
            self._fallback = RetryQueue((db_file.parent if db_file else default_data_dir()) / "spool")
        return self._fallback

    def _hand_over_fallback(self) -> None:
        """Items spooled while the store was closed join its queue (replay is idempotent by uid)."""
        if self._fallback is None or self._store is None:
            return
        for item, path in self._fallback.take_all():
            self._store.queue.push(item)
            self._fallback.done(path)
        self._fallback = None

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # ---- operators -------------------------------------------------------------------------
    def log_in(self, operator: Operator) -> None:
        with self._lock:
            previous, self.operator = self.operator, operator
        self.audit("login", f"station:{self.station}", {"role": operator.role, "previous": previous.name})

    # ---- inspections and dialogue ----------------------------------------------------------
    def record_inspection(self, result: Any, image: np.ndarray, *, source: str, trace: Trace,
                          lot: str | None = None, serial: str | None = None,
                          part_id: str | None = None) -> Recorded:
        """Write the record (worker thread); a refused write is kept and its uid returned.
        `lot`, `serial`, `part_id`: what the line said about the part (PLC trigger), else None."""
        pending = recording.build_pending(
            result, image, station=self.station, operator=self.operator.name, source=source, lot=lot,
            serial=serial, part_id=part_id, engine_version=trace.engine_version, model_version=trace.model_version,
            raw_boundary=trace.raw_boundary, boundary=trace.boundary, models=trace.models,
            reference_fingerprint=trace.reference_fingerprint, calibrated_at=trace.calibrated_at,
        )
        return self._write(pending)

    def record_failure(self, verdict: str, reason: str, *, product: str, source: str,
                       trace: Trace | None = None, lot: str | None = None, serial: str | None = None,
                       part_id: str | None = None) -> Recorded:
        """Record a part that was not judged (NO IMAGE / ERROR) with its reason (worker thread).

        Through the same spool and store as a judged part: a shift's record holds every part
        that reached the station, so a gap in the line is explained, not silent."""
        known = {} if trace is None else {
            "engine_version": trace.engine_version, "model_version": trace.model_version,
            "boundary": trace.boundary, "raw_boundary": trace.raw_boundary, "models": trace.models,
            "reference_fingerprint": trace.reference_fingerprint, "calibrated_at": trace.calibrated_at,
        }
        pending = recording.build_failure(verdict, reason, product=product, station=self.station,
                                          operator=self.operator.name, source=source, lot=lot,
                                          serial=serial, part_id=part_id, **known)
        return self._write(pending)

    def _write(self, pending: recording.PendingRecord) -> Recorded:
        with self._lock:
            store = self.store
            if store is None:
                self._spool().push(pending)
                return Recorded(pending.uid, pending.uid,
                                f"history database unavailable ({self.failed}); inspection kept in the spool")
            try:
                row_id = store.record_pending(pending)
            except RecordQueuedError as exc:
                return Recorded(pending.uid, pending.uid, str(exc))
            self.recorded += 1
            return Recorded(row_id, pending.uid)

    def record_turn(self, key: int | str, question: str, answer: str, *, model: str | None,
                    cancelled: bool = False, asked_at: dt.datetime | None = None) -> bool:
        """Record one question and its answer (as far as it got); True when written now, False
        when queued (still not lost: it is replayed with, and after, its inspection)."""
        now = recording.utcnow()
        asked = (asked_at or now).isoformat()
        turns = [PendingChat(key, "user", question, asked, operator=self.operator.name),
                 PendingChat(key, "assistant", answer, now.isoformat(), model=model, cancelled=cancelled)]
        written = True
        with self._lock:
            store = self.store
            for turn in turns:
                if store is None:
                    self._spool().push(turn)
                    written = False
                elif store.add_pending_chat(turn) is None:
                    written = False
            self.turns += 1
        return written

    # ---- review and audit ------------------------------------------------------------------
    def _open(self) -> HistoryStore:
        store = self.store
        if store is None:
            raise HistoryError(f"the history database is not available ({self.failed})")
        return store

    def override(self, inspection_id: int, new_verdict: str, reason_code: str, comment: str,
                 propose_reference: bool = False) -> int:
        """Any logged-in operator may override, always with a reason and under their own name."""
        with self._lock:
            return self._open().override(inspection_id, new_verdict, reason_code, comment,
                                         operator=self.operator.name, propose_reference=propose_reference)

    def confirm_reference(self, override_id: int) -> int:
        """Engineers only: the false alarm becomes a reference row; the caller adds it to the catalog."""
        with self._lock:
            self.operator.require(ENGINEER, "confirming a reference")
            return self._open().confirm_reference(override_id, engineer=self.operator.name)

    def audit(self, kind: str, subject: str = "", details: dict[str, Any] | None = None) -> None:
        """An audit event under the current operator; a closed store only logs it (never blocks work)."""
        with self._lock:
            store = self.store
            if store is None:
                log.warning("audit %s %s not recorded: history unavailable", kind, subject)
                return
            store.audit(kind, self.operator.name, subject, details)
