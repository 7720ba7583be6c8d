"""Hot folder: inspect new image files as they arrive, never a half-written one.

Polling, not only QFileSystemWatcher: network shares and some writers never send change events.
A new file is handed on once its size and mtime are unchanged over two consecutive polls, it can be
opened for reading (Windows writers hold a lock until done) and, for JPEG and PNG, its trailer is
present: a writer that pauses longer than the poll interval still cannot hand us half an image.
Files present when watching starts are left alone. A file that stays unchanged for GIVE_UP_S but
never looks complete (no trailer, zero bytes, still locked) is handed on anyway: the loader then
refuses it with a readable message, instead of the file waiting unseen for ever.
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

    @property
    def is_watching(self) -> bool:
        return self._timer.isActive()

    def start(self, folder: str | Path) -> bool:
        folder = Path(folder)
        if not folder.is_dir():
            self.failed.emit(f"Hot folder {folder} does not exist or is not a folder")
            return False
        self.folder = folder
        self._seen = {entry.name for entry in self._scan()}
        self._pending.clear()
        self._timer.start()
        return True

    def stop(self) -> None:
        self._timer.stop()

    def _scan(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.folder) as entries:
                return [
                    e for e in entries if e.is_file() and is_image_path(e.name) and not e.name.startswith(".")
                ]
        except OSError as exc:
            self.stop()
            self.failed.emit(f"Hot folder {self.folder} is no longer readable: {exc}")
            return []

    def poll(self) -> None:
        """One pass: track growing files, release the stable ones."""
        entries = self._scan()
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
