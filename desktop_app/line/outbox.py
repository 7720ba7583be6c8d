"""Durable, ordered outbox for line messages: a small SQLite file that survives restarts and outages.

Every inspection result is written here first (one committed row) and only removed once the broker
has acknowledged it, so a broker outage, a network cut or a station restart delays messages but never
loses or reorders them. `seq` is an AUTOINCREMENT key: SQLite never reuses it, so it is a
monotonic per-station sequence a consumer can check order with, even across restarts.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    message_id: str
    topic: str
    payload: bytes


class Outbox:
    """Thread-safe FIFO on one SQLite connection; WAL so a crash never leaves it half written."""

    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives a crash of the process (the station restarting);
        # FULL also survives a power cut at the cost of one fsync per inspection.
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)

    def put(self, message_id: str, topic: str, payload: bytes | Callable[[int], bytes]) -> int:
        """Append one message and return its sequence number; a message id already queued is kept once.

        `payload` may be a function of the sequence number, so the message can carry its own `seq`
        (assigned and stored in one step, under the lock).
        """
        with self._lock:
            row = self._db.execute("SELECT seq FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
            if row is not None:
                return int(row[0])
            last = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            seq = (int(last[0]) if last else 0) + 1
            body = payload(seq) if callable(payload) else payload
            self._db.execute(
                "INSERT INTO outbox (seq, message_id, topic, payload, created) VALUES (?, ?, ?, ?, ?)",
                (seq, message_id, topic, body, time.time()),
            )
            return seq

    def peek(self, limit: int, after: int = 0) -> list[OutboxMessage]:
        """The oldest `limit` messages with seq > after, in order; nothing is removed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, message_id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OutboxMessage(int(s), m, t, bytes(p)) for s, m, t, p in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget delivered messages (one transaction)."""
        seqs = list(seqs)
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
