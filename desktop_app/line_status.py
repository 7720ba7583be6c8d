"""Line status for the Line tab: the PLC link, the broker, the queue, the last cycle (GUI thread).

A mixin of LineBridge, kept apart so each file stays readable; every STATUS_MS its `_tick` also
keeps the OPC UA server's Ready and Product in step with the controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineStatus:
    opcua: str = "off"  # endpoint, "off", or the reason it is not running
    opcua_ok: bool = False
    plc_clients: int = 0
    plc_note: str = ""
    mqtt: str = "off"
    mqtt_connected: bool = False
    mqtt_error: str = ""
    queued: int = 0
    delivered: int = 0
    camera: str = ""
    cycles: int = 0
    last_result: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

class LineStatusMixin:
    def _on_clients(self, count: int) -> None:  # OPC UA thread: only plain assignments
        if count == 0 and self.server is not None and self.server.value("Busy"):
            self._plc_note = f"PLC disconnected during cycle {self.server.value('Cycle')}; result kept for it"
        elif count:
            self._plc_note = ""

    def _tick(self) -> None:
        c = self.controller
        if self.server is not None and self.server.failed:  # e.g. the port is taken
            self._problems.append(f"OPC UA server not started: {self.server.failed}")
            self.server.stop()
            self.server = None
        if self.server is not None and self.server.running:
            ready = c.refs is not None and c.refs.product == c.product and c.batch_request is None
            reason = "" if ready else ("a batch is running" if c.batch_request is not None else
                                       "no calibrated product loaded")
            if self._product_problem:
                ready, reason = False, self._product_problem
            if (ready, reason) != self._available:
                self._available = (ready, reason)
                self.server.set_available(ready, reason)
            if (c.product or "") != self._product_shown:
                if self._product_shown is not None:
                    self._product_problem = ""  # the station's product changed: that answers the PLC
                self._product_shown = c.product or ""
                self.server.set_product(self._product_shown)
        line = self.line
        pub = self.publisher.status() if self.publisher is not None else None
        self.status = LineStatus(
            opcua=self._opcua_text(),
            opcua_ok=self.server is not None and self.server.running,
            plc_clients=self.server.clients if self.server else 0,
            plc_note=self._plc_note,
            mqtt=f"{line.mqtt_host}:{line.mqtt_port} → {line.topic()}" if line.mqtt_enabled else "off",
            mqtt_connected=bool(pub and pub.connected),
            mqtt_error=pub.error if pub else "",
            queued=pub.queued if pub else 0,
            delivered=pub.delivered if pub else 0,
            camera=self._camera_text(),
            cycles=self._cycles,
            last_result=self._last_result,
            problems=tuple(self._problems),
        )
        self.statusChanged.emit(self.status)

    def _opcua_text(self) -> str:
        if self.server is not None:
            secure = " · Basic256Sha256 SignAndEncrypt" if self.server.security else " · no security (loopback)"
            return self.server.endpoint + secure if self.server.running else "starting…"
        return "off" if not self.line.opcua_enabled else "not running"

    def _camera_text(self) -> str:
        source = self.line.trigger_source
        if source == "gige":
            state = "open" if self.gige is not None and self.gige.is_open else "not open"
            return f"GigE Vision {self.line.gige_camera_id or '(none chosen)'}: {state}"
        if source == "camera":
            return f"station camera {self.controller.settings.camera_source}"
        return "next image of the current list"
