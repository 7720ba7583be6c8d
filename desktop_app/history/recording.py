"""Turning an engine result into a record, and writing row + files all-or-nothing.

Order of a write: journal entry naming the files -> files (atomic renames) -> row (one transaction)
-> journal entry removed. An exception deletes the files this write created; a crash leaves a
journal entry, and `recover_orphans` at the next start deletes files whose row never committed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from desktop_app.history.errors import HistoryError
from desktop_app.history.files import ContentStore, encode_heatmap_png, encode_image_png
from desktop_app.history.models import Inspection, utcnow
from desktop_app.history.queries import NOT_JUDGED
from desktop_app.history.retention import keeps_files

VERDICTS = ("OK", "REVIEW", "NG")
NO_PICTURE = np.zeros((0, 0, 3), np.uint8)  # a part that was not inspected keeps no image files


@dataclass
class PendingRecord:
    """Everything needed to write one inspection later: spoolable (arrays + JSON-able fields)."""

    uid: str
    fields: dict[str, Any]  # column values except product_id and file columns
    product: str
    image: np.ndarray
    anomaly_map: np.ndarray
    chat: list[dict[str, Any]] = field(default_factory=list)


LABEL_MAX = 100  # the width of the lot / serial / part_id columns


def _label(value: str | None) -> str | None:
    """A part label as stored: stripped, None when empty (the PLC sends "" for "not given").

    Longer than its column it is refused here, where the caller hears of it, rather than later by
    PostgreSQL (SQLite would keep it silently: the two back ends must agree)."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > LABEL_MAX:
        raise HistoryError(f"a lot, serial or part id is at most {LABEL_MAX} characters, got {len(text)}")
    return text or None


def region_to_dict(region: Any) -> dict[str, Any]:
    return {
        "bbox": [int(v) for v in region.bbox],
        "area_px": int(region.area_px),
        "area_fraction": float(region.area_fraction),
        "centroid": [float(v) for v in region.centroid],
        "location": str(region.location),
        "peak_score": float(region.peak_score),
    }


def build_pending(
    result: Any, image_rgb: np.ndarray, *, station: str, operator: str, source: str,
    lot: str | None, serial: str | None, engine_version: str, model_version: str,
    raw_boundary: float | None = None, time: dt.datetime | None = None, boundary: float | None = None,
    models: dict[str, Any] | None = None, reference_fingerprint: str | None = None,
    calibrated_at: dt.datetime | None = None, part_id: str | None = None,
) -> PendingRecord:
    """Validate inputs up front: a malformed result is the caller's bug and is not queued.

    `boundary` is the calibrated decision boundary the engine used; the history does not know the
    engine, so it comes from the caller or from `result.boundary`.
    """
    verdict = getattr(result.verdict, "value", result.verdict)
    if verdict not in VERDICTS:
        raise HistoryError(f"unknown verdict {verdict!r}")
    boundary = boundary if boundary is not None else getattr(result, "boundary", None)
    if boundary is None:
        raise HistoryError("the decision boundary of the verdict is unknown: pass boundary=")
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise HistoryError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")
    anomaly_map = np.asarray(result.anomaly_map, dtype=np.float32)
    if anomaly_map.ndim != 2:
        raise HistoryError(f"anomaly_map must be H x W, got {anomaly_map.shape}")
    regions = [region_to_dict(r) for r in result.regions]
    when = time or utcnow()
    fields = {
        "time": when.isoformat(), "station": station, "operator": operator, "source": source,
        "lot": _label(lot), "serial": _label(serial), "part_id": _label(part_id), "verdict": verdict,
        "effective_verdict": verdict, "score": float(result.score),
        "raw_score": float(getattr(result, "raw_score", 0.0)),
        "boundary": float(boundary), "raw_boundary": raw_boundary, "regions": regions,
        "region_count": len(regions), "image_width": int(image.shape[1]),
        "image_height": int(image.shape[0]), "latency_ms": float(result.latency_ms),
        "mode": str(getattr(result, "mode", "fewshot")), "engine_version": engine_version,
        "model_version": model_version, "nearest_reference": getattr(result, "nearest_reference", None),
        "models": models, "reference_fingerprint": reference_fingerprint,
        "calibrated_at": calibrated_at.isoformat() if calibrated_at else None,
    }
    return PendingRecord(uuid.uuid4().hex, fields, str(result.product), image, anomaly_map)


def build_failure(
    verdict: str, reason: str, *, product: str, station: str, operator: str, source: str,
    lot: str | None = None, serial: str | None = None, engine_version: str = "", model_version: str = "",
    boundary: float = 0.5, raw_boundary: float | None = None, models: dict[str, Any] | None = None,
    reference_fingerprint: str | None = None, calibrated_at: dt.datetime | None = None,
    time: dt.datetime | None = None, part_id: str | None = None,
) -> PendingRecord:
    """A part that reached the station but was not judged (NO IMAGE: unreadable file or frame;
    ERROR: the inspection itself failed). Counted apart from OK/REVIEW/NG, with the reason."""
    if verdict not in NOT_JUDGED:
        raise HistoryError(f"a part that was not judged is {' or '.join(NOT_JUDGED)}, not {verdict!r}")
    if not reason.strip():
        raise HistoryError("say why the part was not inspected")
    fields = {
        "time": (time or utcnow()).isoformat(), "station": station, "operator": operator, "source": source,
        "lot": _label(lot), "serial": _label(serial), "part_id": _label(part_id), "verdict": verdict,
        "effective_verdict": verdict, "score": 0.0,
        "raw_score": 0.0, "boundary": float(boundary), "raw_boundary": raw_boundary, "regions": [],
        "region_count": 0, "image_width": 0, "image_height": 0, "latency_ms": 0.0, "mode": "not inspected",
        "engine_version": engine_version, "model_version": model_version, "nearest_reference": None,
        "models": models, "reference_fingerprint": reference_fingerprint,
        "calibrated_at": calibrated_at.isoformat() if calibrated_at else None, "error": reason.strip(),
    }
    return PendingRecord(uuid.uuid4().hex, fields, product, NO_PICTURE, np.zeros((0, 0), np.float32))


def _journal_dir(files: ContentStore) -> Path:
    files.ensure_root()  # a vanished folder is a clear HistoryError (or made again), not ENOENT
    path = files.root / ".journal"
    path.mkdir(exist_ok=True)
    return path


def insert_row(session: Session, row: Inspection) -> None:
    """The single INSERT of a record; a seam the atomicity tests break on purpose."""
    session.add(row)
    session.flush()


def write_record(
    session: Session, files: ContentStore, pending: PendingRecord, product_id: int,
    retention: str, sample_rate: float,
) -> int:
    """Write files then the row in `session`'s transaction, which the caller commits."""
    fields = dict(pending.fields)
    for key in ("time", "calibrated_at"):
        if fields.get(key):
            fields[key] = dt.datetime.fromisoformat(fields[key])
    row = Inspection(uid=pending.uid, product_id=product_id, **fields)
    created: list[str] = []
    journal = _journal_dir(files) / f"{pending.uid}.json"
    try:
        if pending.image.size and keeps_files(retention, fields["verdict"], pending.uid, sample_rate):
            image_bytes = encode_image_png(pending.image)
            heatmap_bytes = encode_heatmap_png(pending.anomaly_map)
            names = [files.relpath(_sha(image_bytes)), files.relpath(_sha(heatmap_bytes))]
            journal.write_text(json.dumps({"uid": pending.uid, "pid": os.getpid(),
                                           "host": socket.gethostname(), "files": names}))
            for data, prefix in ((image_bytes, "image"), (heatmap_bytes, "heatmap")):
                stored = files.put(data)
                if stored.created:
                    created.append(stored.path)
                setattr(row, f"{prefix}_sha256", stored.sha256)
                setattr(row, f"{prefix}_path", stored.path)
        insert_row(session, row)
        session.commit()
    except BaseException:
        session.rollback()
        _undo_files(session, files, created, journal)
        raise
    journal.unlink(missing_ok=True)
    return row.id


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _undo_files(session: Session, files: ContentStore, created: list[str], journal: Path) -> None:
    """Delete files this write created unless a concurrent writer's row now shares them.

    If the database cannot even be read, keep files and journal: recovery finishes the job later.
    """
    try:
        for rel in created:
            if not _referenced(session, rel):
                files.delete(rel)
        session.rollback()
    except Exception:
        return
    journal.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (used to tell stale claims from live ones)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphans(session: Session, files: ContentStore, stale_after_s: float = 3600.0) -> int:
    """Delete files of writes that died between file and row; returns how many files went."""
    removed = 0
    now = dt.datetime.now().timestamp()
    for entry in sorted(_journal_dir(files).glob("*.json")):
        try:
            info = json.loads(entry.read_text())
        except (OSError, ValueError):
            entry.unlink(missing_ok=True)
            continue
        same_host = info.get("host") == socket.gethostname()
        dead = same_host and not process_alive(int(info.get("pid", -1)))
        if not dead and now - entry.stat().st_mtime < stale_after_s:
            continue  # a live writer (here or on another station) may be between its steps
        committed = session.scalar(select(Inspection.id).where(Inspection.uid == info["uid"]))
        if committed is None:
            for rel in info.get("files", []):
                if not _referenced(session, rel):
                    files.delete(rel)
                    removed += 1
        entry.unlink(missing_ok=True)
    return removed


def _referenced(session: Session, rel: str) -> bool:
    hit = session.scalar(
        select(Inspection.id).where(or_(Inspection.image_path == rel, Inspection.heatmap_path == rel)).limit(1)
    )
    if hit is not None:
        return True
    from desktop_app.history.models import ReferenceImage

    return session.scalar(select(ReferenceImage.id).where(ReferenceImage.path == rel).limit(1)) is not None
