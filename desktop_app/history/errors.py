"""Error types of the history store: callers catch these instead of driver-specific exceptions."""
from __future__ import annotations


class HistoryError(Exception):
    """Base class: anything the history store refuses or cannot do."""


class StoreBusyError(HistoryError):
    """The database is locked by another writer or unreachable for now; retrying later may work."""


class StorageFullError(HistoryError):
    """The disk holding the database or the image files is full (ENOSPC / SQLITE_FULL)."""


class RecordQueuedError(HistoryError):
    """The record could not be written now; it sits in the retry queue and is not lost.

    `uid` names the queued inspection so chat messages can still be attached to it.
    """

    def __init__(self, message: str, uid: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.uid = uid
        self.cause = cause


class NotFoundError(HistoryError, KeyError):
    """The inspection, product or reference asked for does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
