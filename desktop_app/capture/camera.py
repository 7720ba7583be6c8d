"""Camera source: the station's camera on its own QThread, frames out as signals.

`cv2.VideoCapture` takes a device index, a URL or a video file alike, which is how the tests drive
this code without a camera. `gige:<camera id or address>[@<local interface>]` opens a GigE Vision /
GenICam camera through Aravis instead, free-running, so Space and continuous inspection take its
frames exactly like a webcam's (the PLC-triggered path, a frame per part, is `GigeSource`).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.capture.threaded import SourceReader, ThreadedSource

log = logging.getLogger(__name__)
GIGE_PREFIX = "gige:"


def parse_gige(source: int | str) -> tuple[str, str] | None:
    """(camera id, interface) of a `gige:` source, None for an OpenCV one."""
    if not isinstance(source, str) or not source.lower().startswith(GIGE_PREFIX):
        return None
    camera, _, interface = source[len(GIGE_PREFIX):].strip().partition("@")
    return camera.strip(), interface.strip()


class _CameraReader(SourceReader):
    """Lives in the camera thread; owns the VideoCapture or the GigE camera."""

    frame = Signal(object)  # RGB uint8
    ended = Signal()
    GIGE_TIMEOUT_S = 2.0

    def __init__(self, interval_ms: int) -> None:
        super().__init__()
        self._interval_ms = interval_ms
        self._capture: cv2.VideoCapture | None = None
        self._gige = None  # desktop_app.line.aravis_camera.GigECamera while a gige: source is open
        self._timer: QTimer | None = None
        self._source: int | str = 0

    @Slot(object)
    def open(self, source: int | str) -> None:
        self.close()
        self._source = source
        gige = parse_gige(source)
        if gige is not None:
            if not self._open_gige(*gige):
                return
        else:
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

    def _open_gige(self, camera_id: str, interface: str) -> bool:
        from desktop_app.line.aravis_camera import CameraError, GigECamera

        if not camera_id:
            self.failed.emit("GigE camera: give its id or address, e.g. gige:192.168.0.20")
            return False
        camera = None
        try:
            camera = GigECamera(camera_id, interface)
            camera.configure(trigger="free")  # the camera's own exposure, gain and format
            camera.start()
        except CameraError as exc:
            if camera is not None:
                camera.close()
            self.failed.emit(f"GigE camera {camera_id} could not be opened: {exc}")
            return False
        self._gige = camera
        return True

    @Slot()
    def _grab(self) -> None:
        if self._gige is not None:
            self._grab_gige()
            return
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

    def _grab_gige(self) -> None:
        """The camera's next frame (RGB already); a camera that stops answering is a message."""
        from desktop_app.line.aravis_camera import CameraError

        try:
            frame, _frame_id = self._gige.grab(self.GIGE_TIMEOUT_S)
        except CameraError as exc:
            self.close()
            self.failed.emit(f"GigE camera stopped delivering frames: {exc}")
            return
        self.frame.emit(frame)

    @Slot()
    def close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._gige is not None:
            self._gige.close()  # gives up control at once: the camera is free for another client
            self._gige = None

    def release(self) -> None:
        """A QTimer must die in the thread it lives in."""
        if self._timer is not None:
            self._timer.deleteLater()
            self._timer = None


class CameraSource(ThreadedSource):
    """GUI-side handle: open/close a camera, keep the latest frame for capture, stop the thread."""

    ended = Signal()
    _open = Signal(object)

    def __init__(self, interval_ms: int = 33, parent: QObject | None = None) -> None:
        reader = _CameraReader(interval_ms)
        super().__init__(reader, "Camera", parent)
        self._open.connect(reader.open)
        reader.frame.connect(self._on_frame)
        reader.ended.connect(self._on_ended)

    def open(self, source: int | str) -> None:
        self._ensure_thread()
        self._open.emit(source)

    def _on_ended(self) -> None:
        self.is_open = False
        self.ended.emit()
