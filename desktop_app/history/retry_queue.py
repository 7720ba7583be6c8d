"""Records the database refused (locked, full, unreachable) wait here: in memory and in a spool folder.

The spool survives a restart of the station; each file is written atomically and claimed by
renaming before it is replayed, so two processes sharing a spool never replay one record twice.
"""
from __future__ import annotations

import io
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.history.recording import PendingRecord, process_alive

log = logging.getLogger(__name__)


@dataclass
class PendingChat:
    """A chat message whose inspection is referenced by id or by the uid of a queued record."""

    inspection: int | str
    role: str
    text: str
    time: str  # ISO, aware
    key: str = ""
    model: str | None = None  # which model answered (assistant turns)
    cancelled: bool = False
    operator: str | None = None  # who asked


class RetryQueue:
    def __init__(self, spool_dir: Path | None) -> None:
        self.spool_dir = spool_dir
        self._memory: dict[str, tuple[PendingRecord | PendingChat, Path | None]] = {}
        if spool_dir is not None:
            try:
                spool_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("retry spool %s unavailable (%s); queue is memory-only", spool_dir, exc)
                self.spool_dir = None
        self._release_dead_claims()

    def _release_dead_claims(self, stale_after_s: float = 3600.0) -> None:
        """A process killed while replaying leaves `<name>.claimed-<host>-<pid>`: give those back.

        Without this, a station killed in the middle of a flush would never replay those records.
        Claims of a live process here, or young claims of another host, are left alone.
        """
        if self.spool_dir is None:
            return
        for path in self.spool_dir.glob("*.claimed-*"):
            original, _, owner = path.name.partition(".claimed-")
            host, _, pid = owner.rpartition("-")
            try:
                dead = host == _HOST and pid.isdigit() and not process_alive(int(pid))
                if dead or time.time() - path.stat().st_mtime > stale_after_s:
                    os.rename(path, path.with_name(original))
                    log.warning("replaying %s: its claim by %s was left by a dead process", original, owner)
            except OSError as exc:
                log.warning("could not release %s: %s", path, exc)

    def __len__(self) -> int:
        return len(self._memory) + len(self._foreign_spool_files())

    def push(self, item: PendingRecord | PendingChat) -> None:
        """Keep `item`; a spool failure (e.g. the same full disk) leaves it in memory only."""
        key = item.uid if isinstance(item, PendingRecord) else (item.key or uuid.uuid4().hex)
        if isinstance(item, PendingChat):
            item.key = key
        path = None
        try:
            path = self._spool(key, item)
        except OSError as exc:
            log.warning("could not spool %s (%s); kept in memory", key, exc)
        self._memory[key] = (item, path)

    def _spool(self, key: str, item: PendingRecord | PendingChat) -> Path | None:
        if self.spool_dir is None:
            return None
        stamp = f"{time.time_ns():020d}"
        if isinstance(item, PendingRecord):
            buf = io.BytesIO()
            meta = {"uid": item.uid, "product": item.product, "fields": item.fields}
            np.savez(buf, image=item.image, anomaly_map=item.anomaly_map,
                     meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
            data, name = buf.getvalue(), f"{stamp}-rec-{key}.npz"
        else:
            data = json.dumps(item.__dict__).encode()
            name = f"{stamp}-chat-{key}.json"
        target = self.spool_dir / name
        tmp = target.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        return target

    def _foreign_spool_files(self) -> list[Path]:
        """Spooled items not in this process's memory (left by an earlier run or another process)."""
        if self.spool_dir is None:
            return []
        mine = {p for _, p in self._memory.values() if p is not None}
        return [p for p in sorted(self.spool_dir.glob("*-*-*.*"))
                if p.suffix in (".npz", ".json") and p not in mine]

    def take_all(self) -> list[tuple[PendingRecord | PendingChat, Path | None]]:
        """Claim every queued item, records first (chat messages may point at their uids)."""
        foreign = self._foreign_spool_files()
        items = list(self._memory.values())
        self._memory.clear()
        for path in foreign:
            claimed = path.with_name(path.name + f".claimed-{_HOST}-{os.getpid()}")
            try:
                os.rename(path, claimed)
                items.append((_load(claimed), claimed))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("could not claim spooled %s: %s", path, exc)
        items.sort(key=lambda pair: (isinstance(pair[0], PendingChat), _when(pair[0])))
        return items

    def done(self, path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)

    def put_back(self, item: PendingRecord | PendingChat, path: Path | None) -> None:
        key = item.uid if isinstance(item, PendingRecord) else item.key
        if path is not None and ".claimed-" in path.name:
            original = path.with_name(path.name.split(".claimed-")[0])
            os.rename(path, original)
            path = original
        self._memory[key] = (item, path)


_HOST = socket.gethostname()


def _when(item: PendingRecord | PendingChat) -> str:
    return item.fields["time"] if isinstance(item, PendingRecord) else item.time


def _load(path: Path) -> PendingRecord | PendingChat:
    if ".npz" in path.name:
        with np.load(path) as data:
            meta: dict[str, Any] = json.loads(data["meta"].tobytes().decode())
            return PendingRecord(meta["uid"], meta["fields"], meta["product"],
                                 data["image"].copy(), data["anomaly_map"].copy())
    return PendingChat(**json.loads(path.read_text()))
