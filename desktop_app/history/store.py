"""HistoryStore: the one object the app, the worker and the exports talk to (Qt-free)."""
from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from desktop_app.history import recording
from desktop_app.history.catalog import CatalogMixin
from desktop_app.history.database import (
    ensure_schema,
    make_engine,
    resolve_url,
    sqlite_path,
    translate_errors,
    write_engine,
)
from desktop_app.history.errors import NotFoundError, RecordQueuedError
from desktop_app.history.files import ContentStore, decode_heatmap_png, decode_image_png
from desktop_app.history.models import ChatMessage, Inspection, Override, Product, utcnow
from desktop_app.history.queries import (
    HistoryFilter,
    InspectionRow,
    Sort,
    count_statement,
    row_from_result,
    rows_statement,
)
from desktop_app.history.retry_queue import PendingChat, RetryQueue

log = logging.getLogger(__name__)


class Turn(NamedTuple):
    """One chat message as read back; indexable like the (role, text, time) tuples it extends."""

    role: str
    text: str
    time: dt.datetime
    model: str | None = None
    cancelled: bool = False
    operator: str | None = None


@dataclass
class StoredInspection:
    """One inspection opened for review: all columns, the dialogue, overrides, and the pictures."""

    row: InspectionRow
    columns: dict[str, Any]
    messages: list[Turn]
    overrides: list[dict[str, Any]]
    image: np.ndarray | None = field(default=None, repr=False)
    heatmap: np.ndarray | None = field(default=None, repr=False)


class HistoryStore(CatalogMixin):
    """`HistoryStore(None)` opens the default SQLite file in the user's data folder; a folder or file
    path opens SQLite there; a URL (postgresql+psycopg://...) opens a shared plant database, in which
    case `files_dir` should name a share all stations can reach."""

    def __init__(
        self, url_or_path: str | os.PathLike[str] | None = None, *, files_dir: str | Path | None = None,
        spool_dir: str | Path | None = None, busy_timeout_s: float = 5.0, durable: bool = True,
    ) -> None:
        self.url = resolve_url(url_or_path)
        db_file = sqlite_path(self.url)
        base = db_file.parent if db_file is not None else Path(files_dir or ".")
        self.files = ContentStore(Path(files_dir) if files_dir else base / "files", durable=durable,
                                  recreate_root=files_dir is None)
        self.queue = RetryQueue(Path(spool_dir) if spool_dir else self.files.root.parent / "spool")
        self.engine = make_engine(self.url, busy_timeout_s=busy_timeout_s, durable=durable)
        self._writer = write_engine(self.engine)
        self.dialect = self.engine.dialect.name
        ensure_schema(self.engine, self.url)
        with translate_errors("recovering interrupted writes"), Session(self._writer) as session:
            if recording.recover_orphans(session, self.files):
                log.warning("removed image files of inspections that never committed")
            session.commit()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> Session:
        return Session(self._writer, expire_on_commit=False)

    def _read(self) -> Session:
        return Session(self.engine)

    # ---- recording -------------------------------------------------------------------------
    def record_inspection(
        self, result: Any, image_rgb_uint8: np.ndarray, *, station: str, operator: str, source: str = "",
        lot: str | None = None, serial: str | None = None, engine_version: str, model_version: str,
        raw_boundary: float | None = None, time: dt.datetime | None = None, part_id: str | None = None,
        **trace: Any,
    ) -> int:
        """Write row + files all-or-nothing; on any failure the record is queued and
        RecordQueuedError (with its uid) is raised, so the caller can tell the operator.
        `trace`: boundary, models, reference_fingerprint, calibrated_at (see build_pending)."""
        pending = recording.build_pending(
            result, image_rgb_uint8, station=station, operator=operator, source=source, lot=lot,
            serial=serial, part_id=part_id, engine_version=engine_version, model_version=model_version,
            raw_boundary=raw_boundary, time=time, **trace,
        )
        return self.record_pending(pending)

    def record_pending(self, pending: recording.PendingRecord) -> int:
        """Write an already built record (the recorder builds it first, so it can spool it)."""
        if len(self.queue):
            self._try_flush()
        try:
            return self._write_pending(pending)
        except Exception as exc:
            self.queue.push(pending)
            raise RecordQueuedError(f"inspection kept in the retry queue: {exc}", pending.uid, exc) from exc

    def _write_pending(self, pending: recording.PendingRecord) -> int:
        product = self._ensure_product(pending.product)
        with translate_errors("recording an inspection"), self._write() as session:
            existing = session.scalar(select(Inspection.id).where(Inspection.uid == pending.uid))
            if existing is not None:  # replayed after a commit whose acknowledgement was lost
                return existing
            return recording.write_record(session, self.files, pending, product.id, product.retention,
                                          product.sample_rate)

    def _ensure_product(self, name: str) -> Product:
        with translate_errors("looking up a product"), self._write() as session:
            product = session.scalar(select(Product).where(Product.name == name))
            if product is not None:
                return product
            product = Product(name=name, description="", retention="all", sample_rate=0.1, created_at=utcnow())
            session.add(product)
            try:
                session.commit()
            except IntegrityError:  # another station created it a moment ago
                session.rollback()
                product = session.scalars(select(Product).where(Product.name == name)).one()
            return product

    def add_chat_message(self, inspection: int | str, role: str, text: str,
                         time: dt.datetime | None = None, *, model: str | None = None,
                         cancelled: bool = False, operator: str | None = None) -> int | None:
        """Attach a turn to an inspection (id, or uid of a queued one). Returns the message id, or
        None when it went to the retry queue (it is not lost)."""
        pending = PendingChat(inspection, role, text, (time or utcnow()).isoformat(), model=model,
                              cancelled=cancelled, operator=operator)
        return self.add_pending_chat(pending)

    def add_pending_chat(self, pending: PendingChat) -> int | None:
        inspection = pending.inspection
        if len(self.queue):
            self._try_flush()
        try:
            return self._write_chat(pending)
        except NotFoundError:
            if isinstance(inspection, str) and len(self.queue):
                self.queue.push(pending)  # its inspection is itself waiting in the queue
                return None
            raise
        except Exception as exc:
            log.warning("chat message queued: %s", exc)
            self.queue.push(pending)
            return None

    def _write_chat(self, pending: PendingChat) -> int:
        with translate_errors("recording a chat message"), self._write() as session:
            target = pending.inspection
            if isinstance(target, str):
                found = session.scalar(select(Inspection.id).where(Inspection.uid == target))
            else:
                found = session.scalar(select(Inspection.id).where(Inspection.id == target))
            if found is None:
                raise NotFoundError(f"no inspection {target!r}")
            message = ChatMessage(inspection_id=found, role=pending.role, text=pending.text,
                                  time=dt.datetime.fromisoformat(pending.time), model=pending.model,
                                  cancelled=bool(pending.cancelled), operator=pending.operator)
            session.add(message)
            session.commit()
            return message.id

    @property
    def pending_count(self) -> int:
        return len(self.queue)

    def flush_retry_queue(self) -> int:
        """Replay queued records and messages; returns how many were written, re-queues the rest."""
        written = 0
        for item, path in self.queue.take_all():
            try:
                if isinstance(item, recording.PendingRecord):
                    self._write_pending(item)
                else:
                    self._write_chat(item)
            except Exception as exc:
                log.info("still cannot write %s: %s", getattr(item, "uid", item), exc)
                self.queue.put_back(item, path)
                continue
            self.queue.done(path)
            written += 1
        return written

    def _try_flush(self) -> None:
        try:
            self.flush_retry_queue()
        except Exception as exc:  # a flush failure must never block a new record
            log.warning("retry queue flush failed: %s", exc)

    # ---- reading ---------------------------------------------------------------------------
    def count(self, filters: HistoryFilter | None = None) -> int:
        with translate_errors("counting inspections"), self._read() as session:
            return int(session.scalar(count_statement(filters or HistoryFilter(), self.dialect)) or 0)

    def query(self, filters: HistoryFilter | None = None, sort: Sort | None = None,
              offset: int = 0, limit: int = 100) -> list[InspectionRow]:
        stmt = rows_statement(filters or HistoryFilter(), sort or Sort(), self.dialect)
        with translate_errors("querying inspections"), self._read() as session:
            return [row_from_result(r) for r in session.execute(stmt.offset(offset).limit(limit))]

    def iter_rows(self, filters: HistoryFilter | None = None, sort: Sort | None = None,
                  batch: int = 2000) -> Iterator[InspectionRow]:
        """Stream every matching row (exports); keyset-free but one cursor, so memory stays flat."""
        stmt = rows_statement(filters or HistoryFilter(), sort or Sort(), self.dialect)
        with translate_errors("streaming inspections"), self._read() as session:
            for result in session.execute(stmt.execution_options(yield_per=batch)):
                yield row_from_result(result)

    def get(self, inspection_id: int, with_images: bool = True) -> StoredInspection:
        with translate_errors("opening an inspection"), self._read() as session:
            found = self.query(HistoryFilter(ids=(inspection_id,)), limit=1)
            stmt = (select(Inspection).where(Inspection.id == inspection_id)
                    .options(selectinload(Inspection.messages), selectinload(Inspection.overrides)))
            insp = session.scalar(stmt)
            if insp is None or not found:
                raise NotFoundError(f"no inspection {inspection_id}")
            columns = {c.key: getattr(insp, c.key) for c in Inspection.__table__.columns}
            messages = [Turn(m.role, m.text, m.time, m.model, bool(m.cancelled), m.operator) for m in insp.messages]
            overrides = [{c.key: getattr(o, c.key) for c in Override.__table__.columns} for o in insp.overrides]
        record = StoredInspection(found[0], columns, messages, overrides)
        if with_images:
            record.image = self.load_image(columns["image_path"])
            record.heatmap = self.load_heatmap(columns["heatmap_path"])
        return record

    def messages_for(self, inspection_ids: list[int]) -> dict[int, list[Turn]]:
        out: dict[int, list[Turn]] = {i: [] for i in inspection_ids}
        stmt = (select(ChatMessage.inspection_id, ChatMessage.role, ChatMessage.text, ChatMessage.time,
                       ChatMessage.model, ChatMessage.cancelled, ChatMessage.operator)
                .where(ChatMessage.inspection_id.in_(inspection_ids)).order_by(ChatMessage.id))
        with self._read() as session:
            for iid, role, text, when, model, cancelled, operator in session.execute(stmt):
                out[iid].append(Turn(role, text, when, model, bool(cancelled), operator))
        return out

    def overrides_for(self, inspection_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in inspection_ids}
        stmt = select(Override.__table__).where(Override.inspection_id.in_(inspection_ids)).order_by(Override.id)
        with self._read() as session:
            for row in session.execute(stmt):
                out[row.inspection_id].append(dict(row._mapping))
        return out

    def columns_for(self, inspection_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Full rows for a batch of ids (JSON-lines export, PDF thumbnails)."""
        with self._read() as session:
            rows = session.execute(select(Inspection.__table__).where(Inspection.id.in_(inspection_ids)))
            return {r.id: dict(r._mapping) for r in rows}

    def load_image(self, relpath: str | None) -> np.ndarray | None:
        return None if relpath is None else decode_image_png(self.files.read(relpath))

    def load_heatmap(self, relpath: str | None) -> np.ndarray | None:
        return None if relpath is None else decode_heatmap_png(self.files.read(relpath))

    def distinct(self, column: str) -> list[str]:
        """Values for filter drop-downs: 'operator', 'station' or 'lot'."""
        col = {"operator": Inspection.operator, "station": Inspection.station, "lot": Inspection.lot}[column]
        with self._read() as session:
            return [v for v in session.scalars(select(col).distinct().order_by(col)) if v is not None]
