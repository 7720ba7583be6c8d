"""GigE Vision / GenICam camera source (Aravis) on its own QThread: frames into the capture path.

The Qt-free camera is `desktop_app.line.aravis_camera.GigECamera`; this wrapper keeps every Aravis
call in one thread and hands frames over as signals, like `CameraSource` does for OpenCV. A frame
requested for a part carries that part's tag back (`frameCaptured(tag, frame, frame_id)`), so a
frame can never be paired with another part's trigger.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QThread, Signal, Slot

from desktop_app.worker import register_thread

log = logging.getLogger(__name__)


class _GigeReader(QObject):
    OPEN_ATTEMPTS = 3
    opened = Signal(str)
    failed = Signal(str)
    frameCaptured = Signal(object, object, int)  # tag, RGB uint8, camera frame id
    captureFailed = Signal(object, str)  # tag, message

    def __init__(self) -> None:
        super().__init__()
        self.camera = None

    @Slot(object)
    def open(self, options: dict) -> None:
        from desktop_app.line.aravis_camera import CameraError, GigECamera

        self.close()
        for attempt in range(self.OPEN_ATTEMPTS):
            camera = None
            try:
                camera = GigECamera(options["camera_id"], options.get("interface", ""))
                camera.configure(options.get("exposure_us", 0.0), options.get("gain_db", -1.0),
                                 options.get("pixel_format", ""), options.get("trigger", "software"),
                                 options.get("frame_rate", 0.0))
                camera.start()
                break
            except CameraError as exc:
                # A register write can time out on a busy host or link (GVCP is UDP): try again.
                if camera is not None:
                    camera.close()
                if attempt + 1 == self.OPEN_ATTEMPTS:
                    self.failed.emit(str(exc))
                    return
                log.info("GigE camera open attempt %d failed: %s", attempt + 1, exc)
        self.camera = camera
        self.opened.emit(options["camera_id"])

    @Slot(object, float)
    def grab(self, tag: object, timeout_s: float) -> None:
        from desktop_app.line.aravis_camera import CameraError

        if self.camera is None:
            self.captureFailed.emit(tag, "the GigE camera is not open")
            return
        try:
            frame, frame_id = self.camera.grab(timeout_s)
        except CameraError as exc:
            self.captureFailed.emit(tag, str(exc))
            return
        self.frameCaptured.emit(tag, frame, frame_id)

    @Slot()
    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
            self.camera = None

    @Slot()
    def shutdown(self) -> None:
        self.close()
        self.moveToThread(QCoreApplication.instance().thread())


class GigeSource(QObject):
    """GUI-side handle: open with settings, `request_frame(tag)`, latest frame for capture(), stop()."""

    opened = Signal(str)
    failed = Signal(str)
    frameReady = Signal(object)
    frameCaptured = Signal(object, object, int)
    captureFailed = Signal(object, str)
    _open = Signal(object)
    _grab = Signal(object, float)
    _close = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.is_open = False
        self.latest_frame: np.ndarray | None = None
        self._reader = _GigeReader()
        self._thread = register_thread(QThread())
        self._thread.setObjectName("GigECamera")
        self._reader.moveToThread(self._thread)
        self._open.connect(self._reader.open)
        self._grab.connect(self._reader.grab)
        self._close.connect(self._reader.close)
        self._reader.opened.connect(self._on_opened)
        self._reader.failed.connect(self._on_failed)
        self._reader.frameCaptured.connect(self._on_frame)
        self._reader.captureFailed.connect(self.captureFailed)

    def open(self, camera_id: str, interface: str = "", exposure_us: float = 0.0, gain_db: float = -1.0,
             pixel_format: str = "", trigger: str = "software", frame_rate: float = 0.0) -> None:
        if not self._thread.isRunning():
            self._thread.start()
        self._open.emit(dict(camera_id=camera_id, interface=interface, exposure_us=exposure_us, gain_db=gain_db,
                             pixel_format=pixel_format, trigger=trigger, frame_rate=frame_rate))

    def request_frame(self, tag: object, timeout_s: float = 2.0) -> None:
        """Trigger (software) or await (hardware) one frame for `tag`; answered by a signal."""
        if not self._thread.isRunning():
            self.captureFailed.emit(tag, "the GigE camera is not open")
            return
        self._grab.emit(tag, timeout_s)

    def capture(self) -> np.ndarray | None:
        return None if self.latest_frame is None else self.latest_frame.copy()

    def close(self) -> None:
        self.is_open = False
        if self._thread.isRunning():
            self._close.emit()

    def stop(self, timeout_ms: int = 5000) -> bool:
        self.is_open = False
        if not self._thread.isRunning():
            return True
        QMetaObject.invokeMethod(self._reader, "shutdown", Qt.ConnectionType.BlockingQueuedConnection)
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def _on_opened(self, camera_id: str) -> None:
        self.is_open = True
        self.opened.emit(camera_id)

    def _on_failed(self, message: str) -> None:
        self.is_open = False
        self.failed.emit(message)

    def _on_frame(self, tag: object, frame: np.ndarray, frame_id: int) -> None:
        self.latest_frame = frame
        self.frameReady.emit(frame)
        self.frameCaptured.emit(tag, frame, frame_id)
