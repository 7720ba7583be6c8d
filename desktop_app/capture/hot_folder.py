"""Hot folder: inspect new image files as they arrive, never a half-written one.

Polling, not only QFileSystemWatcher: network shares and some writers never send change events.
A new file is handed on once its size and mtime are unchanged over two consecutive polls, it can be
opened for reading (Windows writers hold a lock until done) and, for JPEG and PNG, its trailer is
present: a writer that pauses longer than the poll interval still cannot hand us half an image.
Files present when watching starts are left alone. A file that stays unchanged for GIVE_UP_S but
never looks complete (no trailer, zero bytes, still locked) is handed on anyway: the loader then
refuses it with a readable message, instead of the file waiting unseen for ever.

A folder that disappears (a network share that drops, a USB disk pulled) does not disarm the
watcher: it says so once and keeps looking, and when the folder is back it watches again from that
moment: files it had seen before are left alone, files new to it are inspected (written while the
share was away), so a station is never silently deaf after a share reconnects. A folder armed while
missing (re-armed after a restart before its share is mounted) starts like `start()` once it appears:
files already there are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from anomalygpt_engine.imageio import is_image_path


class HotFolderWatcher(QObject):
    """Emits `fileReady(path)` once per new, completely written image file."""

    fileReady = Signal(object)  # Path
    failed = Signal(str)
    restored = Signal(str)  # the folder is readable again after it had gone: watching again

    GIVE_UP_S = 10.0

    def __init__(self, interval_ms: int = 400, stable_polls: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.stable_polls = stable_polls
        self.give_up_polls = max(stable_polls, round(self.GIVE_UP_S * 1000 / max(1, interval_ms)))
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._seen: set[str] = set()
        self._pending: dict[str, tuple[int, int, int]] = {}  # name -> (size, mtime_ns, stable count)
        self.waiting = False  # armed, but the folder is gone for now: polling until it is back
        self._baseline_on_return = False  # True when armed while missing: its first contents are old

    @property
    def is_watching(self) -> bool:
        """Armed (also while waiting for a vanished folder to come back)."""
        return self._timer.isActive()

    def start(self, folder: str | Path, wait_if_missing: bool = False) -> bool:
        """Watch `folder`; a missing folder is refused, or with `wait_if_missing` (re-arming after
        a restart, when a share may not be mounted yet) waited for."""
        folder = Path(folder)
        self.folder = folder
        self._pending.clear()
        if not folder.is_dir():
            if not wait_if_missing:
                self.failed.emit(f"Hot folder {folder} does not exist or is not a folder")
                return False
            self._seen = set()
            self._baseline_on_return = True  # never seen: what is there when it appears is old
            self._lose(f"Hot folder {folder} is not there yet")
            self._timer.start()
            return True
        self.waiting = False
        entries = self._scan()
        self._baseline_on_return = entries is None  # unreadable right away: like a missing folder
        self._seen = {entry.name for entry in entries or []}
        self._timer.start()
        return True

    def stop(self) -> None:
        self._timer.stop()
        self.waiting = False

    def _lose(self, message: str) -> None:
        """Said once per loss; polling goes on."""
        if not self.waiting:
            self.waiting = True
            self.failed.emit(f"{message}; waiting for it to come back")

    def _scan(self) -> list[os.DirEntry] | None:
        """The image files now in the folder; None while the folder cannot be read."""
        try:
            with os.scandir(self.folder) as entries:
                return [
                    e for e in entries if e.is_file() and is_image_path(e.name) and not e.name.startswith(".")
                ]
        except OSError as exc:
            self._lose(f"Hot folder {self.folder} is no longer readable ({exc.strerror or exc})")
            return None

    def poll(self) -> None:
        """One pass: track growing files, release the stable ones."""
        entries = self._scan()
        if entries is None:
            self._pending.clear()
            return
        if self.waiting:  # back: files seen before the loss stay seen, new ones are inspected
            self.waiting = False
            if self._baseline_on_return:
                self._baseline_on_return = False
                self._seen = {entry.name for entry in entries}
            self.restored.emit(f"Hot folder {self.folder} is back: watching it again")
        # Forget names no longer in the folder: months of files moved away must not pile up here
        # (a later file of the same name is new and is inspected).
        present = {entry.name for entry in entries}
        self._seen &= present
        for name in [n for n in self._pending if n not in present]:
            del self._pending[name]
        for entry in entries:
            if entry.name in self._seen:
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue  # deleted between scan and stat
            size, mtime = stat.st_size, stat.st_mtime_ns
            old = self._pending.get(entry.name)
            count = old[2] + 1 if old and old[:2] == (size, mtime) else 0
            self._pending[entry.name] = (size, mtime, count)
            stable = count >= self.stable_polls - 1 and old is not None
            complete = size > 0 and self._openable(Path(entry.path))
            if (stable and complete) or count >= self.give_up_polls:
                self._seen.add(entry.name)
                del self._pending[entry.name]
                self.fileReady.emit(Path(entry.path))

    @staticmethod
    def _openable(path: Path) -> bool:
        """Readable now, and the format's end marker is there where the format has one."""
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - 64))
                tail = handle.read()
        except OSError:
            return False
        suffix = path.suffix.lower()
        if suffix in (".jpg", ".jpeg"):
            return b"\xff\xd9" in tail[-16:]  # EOI (some cameras pad a few bytes after it)
        if suffix == ".png":
            return b"IEND" in tail[-16:]
        return True
