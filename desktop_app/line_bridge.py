"""Thin Qt adapter between the line (OPC UA, MQTT, GigE camera; Qt-free in desktop_app/line) and
the station's controller and EngineWorker.

A PLC trigger arrives on the OPC UA thread and is queued into the GUI thread, which takes the frame
(station camera, GigE camera or next file) and asks the controller to inspect it, exactly like
Space does. The result is taken *in the worker thread* (direct connection on `worker.inspected`):
it goes into the durable MQTT outbox first, then back to the PLC, without waiting for the GUI to
repaint. The GUI thread never runs model work; the worker never touches widgets.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop_app.history.recording import LABEL_MAX
from desktop_app.line.config import LineConfigError, LineSettings
from desktop_app.line.handshake import CycleResult, TriggerRequest
from desktop_app.line.messages import PartContext, new_inspection_id
from desktop_app.line.results import ResultQueue
from desktop_app.line_status import LineStatus, LineStatusMixin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    cycle: int
    part: PartContext
    refs: object


class LineBridge(LineStatusMixin, QObject):
    statusChanged = Signal(object)  # LineStatus, at most every STATUS_MS
    _trigger = Signal(object)  # TriggerRequest, emitted in the OPC UA thread
    _product = Signal(str)
    STATUS_MS = 250

    def __init__(self, controller, client, line: LineSettings, data_dir: Path | None = None) -> None:
        super().__init__(controller)
        self.controller, self.client, self.line = controller, client, line
        self.data_dir = data_dir
        self.server = None  # StationOpcUaServer while the PLC link is enabled
        self.publisher = None
        self.outbox = None
        self.results: ResultQueue | None = None
        self.gige = None
        self.status = LineStatus()
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._available: tuple[bool, str] | None = None
        self._product_shown: str | None = None
        self._plc_note = ""
        self._cycles = 0
        self._last_result = ""
        self._problems: list[str] = []
        self._product_problem = ""  # the PLC asked for a product this station does not have
        self.operator_name = lambda: os.environ.get("USER") or os.environ.get("USERNAME") or "operator"
        self._trigger.connect(self._on_trigger)
        self._product.connect(self._on_product)
        worker = client.worker
        # Direct: runs in the worker thread right after the inspection (see the module docstring).
        worker.inspected.connect(self._on_inspected, Qt.ConnectionType.DirectConnection)
        worker.error.connect(self._on_error, Qt.ConnectionType.DirectConnection)
        self.timer = QTimer(self)
        self.timer.setInterval(self.STATUS_MS)
        self.timer.timeout.connect(self._tick)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        line, self._problems = self.line, list(self.line.validate())
        if line.mqtt_enabled:
            self._start_mqtt()
        if line.opcua_enabled and not any("OPC UA" in p for p in self._problems):
            self._start_opcua()
        if line.trigger_source == "gige" and line.gige_camera_id:
            self._start_gige()
        self.timer.start()
        self._tick()

    def _start_mqtt(self) -> None:
        from desktop_app.line.mqtt_publisher import MqttPublisher
        from desktop_app.line.outbox import Outbox
        from desktop_app.paths import user_data_dir

        line = self.line
        folder = self.data_dir or user_data_dir()
        path = Path(line.outbox_path) if line.outbox_path else folder / "line_outbox.sqlite3"
        try:
            self.outbox = Outbox(path)
        except Exception as exc:  # sqlite3.Error or OSError: a read-only or full disk
            self._problems.append(f"MQTT outbox {path} cannot be opened: {exc}")
            return
        self.publisher = MqttPublisher(
            self.outbox, line.mqtt_host, line.mqtt_port, client_id=f"anomalygpt-{line.station}",
            status_topic=line.status_topic(), username=line.mqtt_username, password=line.mqtt_password,
        )
        self.publisher.start()
        from anomalygpt_engine import __version__

        with self._lock:
            self.results = ResultQueue(line, self.outbox, self.publisher, __version__)

    def _start_opcua(self) -> None:
        from desktop_app.line.opcua_server import StationOpcUaServer  # asyncua: imported only when enabled

        line = self.line
        certificate, private_key = self.certificate_paths()
        try:
            server = StationOpcUaServer(
                line.opcua_host, line.opcua_port, username=line.opcua_username, password=line.opcua_password,
                on_trigger=self._trigger.emit, on_product=self._product.emit, on_clients=self._on_clients,
                security=line.opcua_encrypted, certificate=certificate, private_key=private_key,
                trusted_clients=line.opcua_trusted_clients or None,
            )
            server.start(timeout=None)  # asyncua needs ~3 s to build its address space: do not wait here
        except LineConfigError as exc:
            self._problems.append(f"OPC UA server not started: {exc}")
            return
        self.server = server
        self._available, self._product_shown = None, None

    def certificate_paths(self) -> tuple[Path, Path]:
        """The OPC UA server's certificate and key: the configured ones, else the station's own."""
        from desktop_app.line.certificates import default_paths
        from desktop_app.paths import user_data_dir

        cert, key = default_paths(self.data_dir or user_data_dir())
        line = self.line
        return (Path(line.opcua_certificate) if line.opcua_certificate else cert,
                Path(line.opcua_private_key) if line.opcua_private_key else key)

    def _start_gige(self) -> None:
        from desktop_app.capture.gige import GigeSource

        line = self.line
        self.gige = GigeSource(self)
        self.gige.frameCaptured.connect(self._on_gige_frame)
        self.gige.frameReady.connect(self.controller.window.controls.show_preview)  # the station's preview
        self.gige.captureFailed.connect(lambda tag, msg: self._finish_error(tag, f"camera: {msg}"))
        self.gige.failed.connect(lambda msg: self._problems.append(msg))
        self.gige.open(line.gige_camera_id, line.gige_interface, line.gige_exposure_us, line.gige_gain_db,
                       line.gige_pixel_format, line.gige_trigger)

    def stop(self) -> None:
        """Stop everything this bridge started; queued MQTT messages stay in the outbox file."""
        self.timer.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None
        with self._lock:  # the worker thread may be queuing a message right now
            self.results = None
            if self.outbox is not None:
                self.outbox.close()
                self.outbox = None
        if self.gige is not None:
            self.gige.stop()
            self.gige = None

    def shutdown(self) -> None:
        self.stop()
        for signal, slot in ((self.client.worker.inspected, self._on_inspected), (self.client.worker.error,
                                                                                 self._on_error)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def apply(self, line: LineSettings) -> None:
        """New settings take effect at once: everything restarts on them."""
        self.stop()
        self.line = line
        self.start()

    # -- trigger path (GUI thread) -------------------------------------------------------------
    def _on_trigger(self, request: TriggerRequest) -> None:
        c = self.controller
        self._cycles += 1
        if c.refs is None:
            self._finish_error(request, "no calibrated product loaded")
            return
        too_long = [name for name, value in (("PartId", request.part_id), ("Serial", request.serial),
                                             ("Lot", request.lot)) if len(value.strip()) > LABEL_MAX]
        if too_long:  # the history could not keep it: refused before a part is judged without its id
            self._finish_error(request, f"{' and '.join(too_long)} longer than {LABEL_MAX} characters")
            return
        source = self.line.trigger_source
        if source == "gige":
            if self.gige is None or not self.gige.is_open:
                self._finish_error(request, "the GigE camera is not open")
            else:
                self.gige.request_frame(request)
            return
        if source == "camera":  # only a running camera: its last frame would be a stale part
            item = c.camera.capture() if c.camera.is_open else None
        else:
            item = self._next_file()
        if item is None:
            self._finish_error(request, "no camera frame" if source == "camera" else "no image to inspect")
            return
        self._inspect(request, item)

    def _on_gige_frame(self, tag: object, frame: np.ndarray, frame_id: int) -> None:
        if isinstance(tag, TriggerRequest):
            self._inspect(tag, frame, {"camera_frame_id": frame_id, "camera": self.line.gige_camera_id})

    def _next_file(self) -> Path | None:
        from desktop_app.references import demo_test_images

        c = self.controller
        if not c.images:
            c.set_images(demo_test_images())
        if not c.images:
            return None
        c.index = (c.index + 1) % len(c.images)
        return c.images[c.index]

    def _inspect(self, request: TriggerRequest, item, extra: dict | None = None) -> None:
        c = self.controller
        part = PartContext(request.part_id, request.serial, request.lot, self.operator_name(), request.cycle,
                           extra or {})
        with self._lock:  # held until _pending knows the request, so the worker cannot answer first
            worker_request = c.inspect(item, "plc", part)  # part id / serial / lot go into the history
            if worker_request is not None:
                self._pending[worker_request] = _Pending(request.cycle, part, c.refs)
        if worker_request is None:
            self._finish_error(request, "the product is not calibrated yet")

    def _finish_error(self, request: object, message: str) -> None:
        """A trigger answered ERROR before any inspection (no frame, refused ids, not calibrated)."""
        if isinstance(request, TriggerRequest):
            part = PartContext(request.part_id, request.serial, request.lot, self.operator_name(), request.cycle)
            self._record_unjudged(part, message)
            self._fail(request.cycle, part, message)

    def _record_unjudged(self, part: PartContext, message: str) -> None:
        """The part reached the station but was not judged: a history row too (NO IMAGE when there
        was no frame or file, else ERROR) with its ids, written in the worker thread like every
        record. Ids too long for the history are left out of it (the reason says so)."""
        recorder = getattr(self.client.worker, "recorder", None)
        product = self.controller.product
        if recorder is None or not product:
            return
        labels = {key: value.strip() for key, value in (("part_id", part.part_id), ("serial", part.serial),
                                                          ("lot", part.lot)) if value.strip()}
        if any(len(value) > LABEL_MAX for value in labels.values()):
            labels = {}
        no_frame = any(word in message for word in ("frame", "camera", "image"))
        verdict = "NO IMAGE" if no_frame else "ERROR"
        self.client.run(lambda _engine: recorder.record_failure(verdict, f"PLC trigger: {message}",
                                                                product=product, source="plc", **labels))

    def _on_product(self, name: str) -> None:
        c = self.controller
        self._product_problem = ""
        if name == c.product:
            return
        if name not in [info.name for info in c.repo.products()]:
            self._product_problem = f"the PLC selected product {name!r}, which this station does not have"
            self._tick()
            return
        c.activate_product(name)

    # -- results (worker thread) ---------------------------------------------------------------
    def _on_inspected(self, request: int, record) -> None:
        with self._lock:
            pending = self._pending.pop(request, None)
            inspection_id = ""
            if self.results is not None:
                refs = pending.refs if pending else self.controller.refs
                part = pending.part if pending else PartContext(operator=self.operator_name())
                engine = getattr(self.client.worker, "engine", None)
                inspection_id = self.results.inspection(record, part, refs, engine)
        if pending is not None:
            result = record.result
            verdict = getattr(result.verdict, "value", str(result.verdict))
            self._last_result = f"cycle {pending.cycle}: {verdict} {result.score:.3f}"
            if self.server is not None:
                self.server.complete(pending.cycle, CycleResult(verdict, float(result.score),
                                                                inspection_id or new_inspection_id()))

    def _on_error(self, request: int, message: str) -> None:
        with self._lock:
            pending = self._pending.pop(request, None)
        if pending is not None:
            self._fail(pending.cycle, pending.part, message)

    def _fail(self, cycle: int, part: PartContext, message: str) -> None:
        with self._lock:
            product = self.controller.product or ""
            inspection_id = self.results.error(part, product, message) if self.results else new_inspection_id()
        self._last_result = f"cycle {cycle}: ERROR ({message})"
        if self.server is not None:
            self.server.complete(cycle, CycleResult("ERROR", 0.0, inspection_id, message))


def attach_line(station) -> LineBridge:
    """Give a Station its line link and a "Line" tab; settings live in settings.json (extra.line)."""
    from desktop_app.line.config import line_settings, with_line_settings
    from desktop_app.settings import save_settings
    from desktop_app.widgets.line_panel import LinePanel

    line = line_settings(station.settings)
    bridge = LineBridge(station.controller, station.client, line)
    default_operator = bridge.operator_name
    # The logged-in operator (issue 12) when the station has one, else the OS user.
    bridge.operator_name = lambda: getattr(getattr(station, "operator", None), "name", None) or default_operator()
    panel = LinePanel(line, data_dir=bridge.data_dir)
    station.window.add_side_tab(panel, "Line")
    bridge.statusChanged.connect(panel.show_status)

    def apply(new: LineSettings) -> None:
        station.settings = station.controller.settings = with_line_settings(station.settings, new)
        try:
            save_settings(station.settings)
        except OSError as exc:
            station.window.show_message(f"Could not save settings: {exc}")
        bridge.apply(new)
        station.window.show_message("Line settings applied")

    panel.applyRequested.connect(apply)
    bridge.panel = panel
    bridge.start()
    return bridge
