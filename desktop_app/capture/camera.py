"""Camera source: cv2.VideoCapture on its own QThread, frames out as signals.

`read()` blocks until the camera delivers (and an IP stream may block for seconds when it drops),
so it never runs on the GUI thread. A device index, a URL or a video file all work the same way,
which is how the tests drive this code without a camera.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QThread, QTimer, Signal, Slot

from desktop_app.worker import register_thread

log = logging.getLogger(__name__)


class _CameraReader(QObject):
    """Lives in the camera thread; owns the VideoCapture."""

    frame = Signal(object)  # RGB uint8
    opened = Signal(str)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, interval_ms: int) -> None:
        super().__init__()
        self._interval_ms = interval_ms
        self._capture: cv2.VideoCapture | None = None
        self._timer: QTimer | None = None
        self._source: int | str = 0

    @Slot(object)
    def open(self, source: int | str) -> None:
        self.close()
        self._source = source
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            self.failed.emit(f"Camera {source!r} could not be opened (unplugged, busy or wrong address?)")
            return
        self._capture = capture
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.timeout.connect(self._grab)
        self._timer.start(self._interval_ms)
        self.opened.emit(str(source))

    @Slot()
    def _grab(self) -> None:
        if self._capture is None:
            return
        ok, frame = self._capture.read()
        if not ok or frame is None:
            is_device = isinstance(self._source, int)
            self.close()
            if is_device:
                self.failed.emit(f"Camera {self._source!r} stopped delivering frames (unplugged?)")
            else:
                self.ended.emit()
            return
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        else:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        self.frame.emit(np.ascontiguousarray(frame))

    @Slot()
    def close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    @Slot()
    def shutdown(self) -> None:
        """Release everything inside the camera thread: a QTimer must die in the thread it lives in."""
        self.close()
        if self._timer is not None:
            self._timer.deleteLater()
            self._timer = None
        self.moveToThread(QCoreApplication.instance().thread())  # so Python can delete it later


class CameraSource(QObject):
    """GUI-side handle: open/close a camera, keep the latest frame for capture, stop the thread."""

    frameReady = Signal(object)
    opened = Signal(str)
    failed = Signal(str)
    ended = Signal()
    _open = Signal(object)
    _close = Signal()

    def __init__(self, interval_ms: int = 33, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest_frame: np.ndarray | None = None
        self.is_open = False
        self._reader = _CameraReader(interval_ms)
        self._thread = register_thread(QThread())
        self._thread.setObjectName("Camera")
        self._reader.moveToThread(self._thread)
        self._open.connect(self._reader.open)
        self._close.connect(self._reader.close)
        self._reader.frame.connect(self._on_frame)
        self._reader.opened.connect(self._on_opened)
        self._reader.failed.connect(self._on_failed)
        self._reader.ended.connect(self._on_ended)

    def open(self, source: int | str) -> None:
        if not self._thread.isRunning():
            self._thread.start()
        self._open.emit(source)

    def close(self) -> None:
        self.is_open = False
        if self._thread.isRunning():
            self._close.emit()

    def capture(self) -> np.ndarray | None:
        """A copy of the newest frame (None before the first one)."""
        return None if self.latest_frame is None else self.latest_frame.copy()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Release the camera and end the thread; called on exit."""
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

    def _on_ended(self) -> None:
        self.is_open = False
        self.ended.emit()
