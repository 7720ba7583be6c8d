"""Inspection history: a Qt-free quality record (SQLAlchemy + content-addressed files + exports)."""
from __future__ import annotations

from desktop_app.history.errors import (
    HistoryError,
    NotFoundError,
    RecordQueuedError,
    StorageFullError,
    StoreBusyError,
)
from desktop_app.history.queries import HistoryFilter, InspectionRow, Sort
from desktop_app.history.retention import Retention
from desktop_app.history.review import ReasonCode
from desktop_app.history.store import HistoryStore, StoredInspection

__all__ = [
    "HistoryError", "HistoryFilter", "HistoryStore", "InspectionRow", "NotFoundError", "StoredInspection",
    "ReasonCode", "RecordQueuedError", "Retention", "Sort", "StorageFullError", "StoreBusyError",
]
