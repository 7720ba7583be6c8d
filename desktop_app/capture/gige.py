"""GigE Vision / GenICam camera source (Aravis) on its own QThread: a frame per PLC trigger.

The Qt-free camera is `desktop_app.line.aravis_camera.GigECamera`; this wrapper keeps every Aravis
call in one thread (the life cycle it shares with `CameraSource` is in threaded.py). A frame
requested for a part carries that part's tag back (`frameCaptured(tag, frame, frame_id)`), so a
frame can never be paired with another part's trigger. For Space / continuous capture from a GigE
camera, the station camera takes a `gige:` source instead (camera.py).
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.capture.threaded import SourceReader, ThreadedSource

log = logging.getLogger(__name__)


class _GigeReader(SourceReader):
    OPEN_ATTEMPTS = 3
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


class GigeSource(ThreadedSource):
    """GUI-side handle: open with settings, `request_frame(tag)`, latest frame for capture(), stop()."""

    frameCaptured = Signal(object, object, int)
    captureFailed = Signal(object, str)
    _open = Signal(object)
    _grab = Signal(object, float)

    def __init__(self, parent: QObject | None = None) -> None:
        reader = _GigeReader()
        super().__init__(reader, "GigECamera", parent)
        self._open.connect(reader.open)
        self._grab.connect(reader.grab)
        reader.frameCaptured.connect(self._on_captured)
        reader.captureFailed.connect(self.captureFailed)

    def open(self, camera_id: str, interface: str = "", exposure_us: float = 0.0, gain_db: float = -1.0,
             pixel_format: str = "", trigger: str = "software", frame_rate: float = 0.0) -> None:
        self._ensure_thread()
        self._open.emit(dict(camera_id=camera_id, interface=interface, exposure_us=exposure_us, gain_db=gain_db,
                             pixel_format=pixel_format, trigger=trigger, frame_rate=frame_rate))

    def request_frame(self, tag: object, timeout_s: float = 2.0) -> None:
        """Trigger (software) or await (hardware) one frame for `tag`; answered by a signal."""
        if not self._thread.isRunning():
            self.captureFailed.emit(tag, "the GigE camera is not open")
            return
        self._grab.emit(tag, timeout_s)

    def _on_captured(self, tag: object, frame: np.ndarray, frame_id: int) -> None:
        self._on_frame(frame)
        self.frameCaptured.emit(tag, frame, frame_id)
