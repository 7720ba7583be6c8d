"""GigE Vision / GenICam cameras through Aravis 0.8 (GObject introspection), Qt-free.

Aravis is a C library; Python reaches it through PyGObject. Debian ships both
(`gir1.2-aravis-0.8`, `python3-gi`); a virtual environment on another Python build may not see the
system's `gi`, so `load_aravis()` falls back to importing the system's `gi` package directly when its
compiled module matches this interpreter (it does for Debian 12's python3-gi and CPython 3.11).
`pip install "PyGObject<3.51"` (needs libgirepository1.0-dev, libcairo2-dev) is the other way.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
_lock = threading.Lock()
_aravis = None
_error = ""
SYSTEM_SITE_DIRS = ("/usr/lib/python3/dist-packages", "/usr/lib64/python3/site-packages")


class CameraError(RuntimeError):
    """A camera that cannot be found, opened, configured or read; the message says which."""


def _import_system_gi() -> None:
    """Import the distribution's `gi` package into this interpreter (only that package)."""
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    for site in SYSTEM_SITE_DIRS:
        package = Path(site) / "gi"
        if package.is_dir() and glob.glob(str(package / f"_gi.{tag}*.so")):
            spec = importlib.util.spec_from_file_location("gi", package / "__init__.py",
                                                          submodule_search_locations=[str(package)])
            module = importlib.util.module_from_spec(spec)
            sys.modules["gi"] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                sys.modules.pop("gi", None)
                raise
            return
    raise ImportError("PyGObject (gi) is not installed for this Python (Debian: apt-get install python3-gi)")


def load_aravis():
    """The `Aravis` module, or raise CameraError saying what is missing (cached)."""
    global _aravis, _error
    with _lock:
        if _aravis is not None:
            return _aravis
        if _error:
            raise CameraError(_error)
        try:
            try:
                import gi  # noqa: F401
            except ImportError:
                _import_system_gi()
            import gi

            gi.require_version("Aravis", "0.8")
            from gi.repository import Aravis
        except (ImportError, ValueError) as exc:
            _error = f"Aravis is not available: {exc} (Debian: apt-get install gir1.2-aravis-0.8 python3-gi)"
            raise CameraError(_error) from exc
        _aravis = Aravis
        return Aravis


def aravis_available() -> bool:
    try:
        load_aravis()
        return True
    except CameraError:
        return False


@dataclass(frozen=True)
class CameraInfo:
    device_id: str
    vendor: str
    model: str
    serial: str
    address: str
    protocol: str


def list_cameras(addresses: list[str] | None = None) -> list[CameraInfo]:
    """Cameras Aravis can see. Without `addresses`: Aravis's discovery (broadcast on every network
    interface, plus USB3 Vision). With `addresses`: ask only those GigE Vision addresses (unicast),
    e.g. ["127.0.0.1"] for the simulated camera, without a broadcast on the plant network."""
    Aravis = load_aravis()
    if addresses is not None:
        found = []
        for address in addresses:
            try:
                camera = _open_gv(Aravis, address, address)
            except CameraError:
                continue
            found.append(CameraInfo(camera.get_device_id(), camera.get_vendor_name(), camera.get_model_name(),
                                    camera.get_device_serial_number(), address, "GigEVision"))
            del camera
        return found
    Aravis.update_device_list()
    return [
        CameraInfo(Aravis.get_device_id(i), Aravis.get_device_vendor(i), Aravis.get_device_model(i),
                   Aravis.get_device_serial_nbr(i), Aravis.get_device_address(i) or "", Aravis.get_device_protocol(i))
        for i in range(Aravis.get_n_devices())
    ]


def _open_gv(Aravis, interface: str, device: str):
    from gi.repository import Gio, GLib

    try:
        gv = Aravis.GvDevice.new(Gio.InetAddress.new_from_string(interface), Gio.InetAddress.new_from_string(device))
        return Aravis.Camera.new_with_device(gv)
    except (GLib.Error, TypeError) as exc:
        raise CameraError(f"no GigE Vision camera answers at {device} (from {interface}): {exc}") from exc


class GigECamera:
    """One opened camera: configure, then `grab()` frames (RGB uint8). Use from one thread at a time."""

    def __init__(self, camera_id: str, interface: str = "") -> None:
        Aravis = load_aravis()
        from gi.repository import GLib

        self._aravis = Aravis
        self.camera_id = camera_id
        if interface:  # e.g. 127.0.0.1 -> 127.0.0.1: no discovery broadcast at all
            self.camera = _open_gv(Aravis, interface, camera_id)
        else:
            try:
                self.camera = Aravis.Camera.new(camera_id or None)
            except GLib.Error as exc:
                raise CameraError(f"camera {camera_id!r} could not be opened: {exc.message}") from exc
        self.stream = None
        self._in_use = threading.RLock()  # a close from another thread waits for a grab to end
        self.trigger = "free"
        self.frames = 0
        self.incomplete = 0  # frames dropped for lost packets (replaced where the trigger allows)

    # -- configuration ------------------------------------------------------------------------------
    @property
    def pixel_formats(self) -> list[str]:
        return list(self.camera.dup_available_pixel_formats_as_strings())

    def configure(self, exposure_us: float = 0.0, gain_db: float = -1.0, pixel_format: str = "",
                  trigger: str = "software", frame_rate: float = 0.0) -> None:
        """Set what is given (0 / negative / empty: leave the camera's value); trigger: software,
        free (free-running), or a hardware line such as Line0."""
        from gi.repository import GLib

        cam = self.camera
        try:
            if pixel_format:
                if pixel_format not in self.pixel_formats:
                    raise CameraError(f"pixel format {pixel_format} not offered (has {', '.join(self.pixel_formats)})")
                cam.set_pixel_format_from_string(pixel_format)
            if exposure_us > 0 and cam.is_exposure_time_available():
                cam.set_exposure_time(exposure_us)
            if gain_db >= 0 and cam.is_gain_available():
                cam.set_gain(gain_db)
            if frame_rate > 0:
                cam.set_frame_rate(frame_rate)
            if trigger == "software":
                cam.set_trigger("Software")
            elif trigger == "free":
                cam.clear_triggers()
            else:
                cam.set_trigger(trigger)  # a hardware line: the frame starts on the line's edge
        except GLib.Error as exc:
            raise CameraError(f"camera {self.camera_id}: {exc.message}") from exc
        self.trigger = trigger

    def settings(self) -> dict:
        cam = self.camera
        return {"pixel_format": cam.get_pixel_format_as_string(), "exposure_us": cam.get_exposure_time(),
                "gain_db": cam.get_gain(), "trigger": self.trigger, "region": tuple(cam.get_region())}

    # -- acquisition --------------------------------------------------------------------------------
    def start(self, buffers: int = 4) -> None:
        if self.stream is not None:
            return
        Aravis = self._aravis
        self.stream = self.camera.create_stream(None, None)
        if hasattr(Aravis, "GvStreamSocketBuffer") and isinstance(self.stream, Aravis.GvStream):
            # Size the kernel's receive buffer to the frame, so a busy host drops fewer UDP packets.
            self.stream.set_property("socket-buffer", Aravis.GvStreamSocketBuffer.AUTO)
        payload = self.camera.get_payload()
        for _ in range(buffers):
            self.stream.push_buffer(Aravis.Buffer.new_allocate(payload))
        self.camera.start_acquisition()

    def drain(self) -> int:
        """Drop frames already waiting (taken before the part arrived); returns how many."""
        dropped = 0
        while self.stream is not None:
            buffer = self.stream.try_pop_buffer()
            if buffer is None:
                return dropped
            self.stream.push_buffer(buffer)
            dropped += 1
        return dropped

    def grab(self, timeout_s: float = 2.0) -> tuple[np.ndarray, int]:
        """One frame as (RGB uint8 HxWx3, camera frame id) taken after this call: in software-trigger
        mode this fires the trigger, free-running it waits for the next frame, with a hardware
        trigger it takes the line's frame (which may have been exposed just before the call).

        A frame that arrives incomplete (UDP packets lost on a busy link or host) is replaced by a
        new one within the timeout, except with a hardware trigger: that exposure was the part's one.
        """
        with self._in_use:
            if self.camera is None:
                raise CameraError(f"camera {self.camera_id}: closed")
            frame, frame_id = self._grab_frame(timeout_s)
        self.frames += 1
        return frame, frame_id

    def _grab_frame(self, timeout_s: float) -> tuple[np.ndarray, int]:
        """`grab` under the camera's lock: the stream cannot be closed while a buffer is out."""
        self.start()
        if self.trigger in ("software", "free"):
            self.drain()  # a frame already waiting was taken before this part was in place
        stream = self.stream
        deadline = time.monotonic() + timeout_s
        while True:
            if self.trigger == "software":
                self.camera.software_trigger()
            remaining = deadline - time.monotonic()
            buffer = stream.timeout_pop_buffer(max(1, int(remaining * 1e6))) if remaining > 0 else None
            if buffer is None:
                raise CameraError(f"camera {self.camera_id}: no frame within {timeout_s:.1f} s")
            status = buffer.get_status()
            if status == self._aravis.BufferStatus.SUCCESS:
                break
            stream.push_buffer(buffer)
            self.incomplete += 1
            if self.trigger not in ("software", "free") or time.monotonic() >= deadline:
                raise CameraError(f"camera {self.camera_id}: incomplete frame ({status.value_nick})")
        try:
            frame = to_rgb(bytes(buffer.get_data()), buffer.get_image_width(), buffer.get_image_height(),
                           buffer.get_image_pixel_format())
            frame_id = int(buffer.get_frame_id())
        finally:
            stream.push_buffer(buffer)
        return frame, frame_id

    def close(self) -> None:
        """Stop streaming and give up control at once, so another client may take the camera."""
        with self._in_use:
            self._close()

    def _close(self) -> None:
        if self.camera is None:
            return
        if self.stream is not None:
            try:
                self.camera.stop_acquisition()
            except Exception as exc:  # an unplugged camera may refuse even this
                log.debug("stop_acquisition: %s", exc)
            self.stream = None
        device = self.camera.get_device()
        if hasattr(device, "leave_control"):
            try:
                device.leave_control()
            except Exception as exc:
                log.debug("leave_control: %s", exc)
        self.camera = None


# GenICam PFNC codes of the formats we convert
MONO8, MONO16, RGB8 = 0x01080001, 0x01100007, 0x02180014
BAYER8 = {0x0108000B: "BG", 0x0108000A: "GB", 0x01080008: "GR", 0x01080009: "RG"}


def to_rgb(data: bytes, width: int, height: int, pixel_format: int) -> np.ndarray:
    """Camera bytes -> RGB uint8, the one image type the capture path and the engine take."""
    import cv2

    if pixel_format == MONO8:
        mono = np.frombuffer(data, np.uint8, width * height).reshape(height, width)
        return np.ascontiguousarray(np.repeat(mono[:, :, None], 3, axis=2))
    if pixel_format == MONO16:
        mono = (np.frombuffer(data, "<u2", width * height).reshape(height, width) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(mono[:, :, None], 3, axis=2))
    if pixel_format == RGB8:
        return np.frombuffer(data, np.uint8, width * height * 3).reshape(height, width, 3).copy()
    if pixel_format in BAYER8:
        raw = np.frombuffer(data, np.uint8, width * height).reshape(height, width)
        code = getattr(cv2, f"COLOR_Bayer{BAYER8[pixel_format]}2RGB")
        return cv2.cvtColor(raw, code)
    raise CameraError(f"pixel format 0x{pixel_format:08x} is not supported; choose Mono8, Mono16, RGB8 or Bayer*8")
