"""The life cycle every camera source shares: a reader QObject on its own QThread, frames out as
signals, the newest frame kept for capture, and a shutdown that releases the device inside the
reader's thread before that thread ends.

A camera's read blocks (an IP stream for seconds when it drops, a GigE camera until its next
frame), so it never runs on the GUI thread. `CameraSource` (OpenCV or a free-running GigE camera)
and `GigeSource` (GigE frames requested per PLC trigger) differ only in what their reader does.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QThread, Signal, Slot

from desktop_app.worker import register_thread


class SourceReader(QObject):
    """Lives in the source's thread and owns the device; subclasses implement `close()`."""

    opened = Signal(str)
    failed = Signal(str)

    @Slot()
    def close(self) -> None:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def release(self) -> None:
        """Objects that must die in the reader's thread (a QTimer); called by `shutdown`."""

    @Slot()
    def shutdown(self) -> None:
        """Release the device in this thread, then hand the reader back so Python can delete it."""
        self.close()
        self.release()
        self.moveToThread(QCoreApplication.instance().thread())


class ThreadedSource(QObject):
    """GUI-side handle: starts the reader's thread on the first open, keeps `latest_frame` and
    `is_open`, closes and stops. Subclasses add their own open/grab requests as queued signals."""

    opened = Signal(str)
    failed = Signal(str)
    frameReady = Signal(object)  # RGB uint8: the newest frame, for the preview

    def __init__(self, reader: SourceReader, thread_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest_frame: np.ndarray | None = None
        self.is_open = False
        self._reader = reader
        self._thread = register_thread(QThread())
        self._thread.setObjectName(thread_name)
        reader.moveToThread(self._thread)
        reader.opened.connect(self._on_opened)
        reader.failed.connect(self._on_failed)

    def _ensure_thread(self) -> None:
        if not self._thread.isRunning():
            self._thread.start()

    def close(self) -> None:
        """Queue the reader's close into its own thread. Invoked by name, not through a signal: PySide
        ran the signal's slot in the GUI thread, releasing a capture while the reader thread was
        inside its read (OpenCV then deadlocked: seen in CI)."""
        self.is_open = False
        if self._thread.isRunning():
            QMetaObject.invokeMethod(self._reader, "close", Qt.ConnectionType.QueuedConnection)

    def capture(self) -> np.ndarray | None:
        """A copy of the newest frame (None before the first one)."""
        return None if self.latest_frame is None else self.latest_frame.copy()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Release the device and end the thread; called on exit."""
        self.is_open = False
        if not self._thread.isRunning():
            return True
        QMetaObject.invokeMethod(self._reader, "shutdown", Qt.ConnectionType.BlockingQueuedConnection)
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def _on_frame(self, frame: np.ndarray) -> None:
        self.latest_frame = frame
        self.frameReady.emit(frame)

    def _on_opened(self, source: str) -> None:
        self.is_open = True
        self.opened.emit(source)

    def _on_failed(self, message: str) -> None:
        self.is_open = False
        self.failed.emit(message)
