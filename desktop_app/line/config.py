"""Line integration settings: one frozen dataclass, stored in the station's settings.json under
`extra["line"]`, so integrators configure endpoints, topics and the camera without code."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

TRIGGER_SOURCES = ("camera", "files", "gige")  # what a PLC trigger inspects
GIGE_TRIGGERS = ("software", "Line0", "free")  # software trigger per part, hardware line, free-running
# OPC UA message security: "auto" is off on loopback and Basic256Sha256 SignAndEncrypt beyond it.
OPCUA_SECURITY = ("auto", "none", "Basic256Sha256")


class LineConfigError(ValueError):
    """A line setting that cannot work (e.g. an open endpoint without a password)."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LineSettings:
    station_name: str = ""  # empty: the machine's host name
    opcua_enabled: bool = False
    opcua_host: str = "127.0.0.1"  # loopback by default; any other address requires a password
    opcua_port: int = 4840
    opcua_username: str = ""
    opcua_password: str = ""
    opcua_security: str = "auto"  # see OPCUA_SECURITY
    opcua_certificate: str = ""  # server certificate (DER/PEM); empty: <data>/opcua/station_cert.der
    opcua_private_key: str = ""  # its key (PEM/DER, unencrypted); empty: <data>/opcua/station_key.pem
    opcua_trusted_clients: str = ""  # folder of the PLCs' certificates; set: only those may connect
    mqtt_enabled: bool = False
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_topic: str = "anomalygpt/{station}/inspections"
    mqtt_status_topic: str = "anomalygpt/{station}/status"
    outbox_path: str = ""  # empty: line_outbox.sqlite3 in the user's data folder
    trigger_source: str = "files"  # camera (the station's camera), files (next image), gige
    gige_camera_id: str = ""  # Aravis device id ("Aravis-Fake-GV01", "Basler-21234567") or IP address
    gige_interface: str = ""  # local address to reach the camera from; empty: Aravis decides
    gige_exposure_us: float = 0.0  # 0: leave the camera's own value
    gige_gain_db: float = -1.0  # < 0: leave the camera's own value
    gige_pixel_format: str = ""  # e.g. Mono8, RGB8, BayerRG8; empty: leave it
    gige_trigger: str = "software"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LineSettings:
        known = {f.name: f.type for f in fields(cls)}
        clean: dict[str, Any] = {}
        defaults = cls()
        for key, value in (data or {}).items():
            if key not in known:
                continue
            kind = type(getattr(defaults, key))
            try:
                clean[key] = value if isinstance(value, kind) else kind(value)
            except (TypeError, ValueError):
                continue  # a damaged value keeps its default rather than failing the start
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, **changes: Any) -> LineSettings:
        return replace(self, **changes)

    @property
    def station(self) -> str:
        return self.station_name or socket.gethostname()

    def topic(self) -> str:
        return self.mqtt_topic.replace("{station}", self.station)

    def status_topic(self) -> str:
        return self.mqtt_status_topic.replace("{station}", self.station)

    @property
    def opcua_encrypted(self) -> bool:
        """Whether the server offers only Basic256Sha256 SignAndEncrypt (else only NoSecurity)."""
        if self.opcua_security == "auto":
            return not is_loopback(self.opcua_host)
        return self.opcua_security == "Basic256Sha256"

    def opcua_problems(self) -> list[str]:
        """Why this OPC UA server must not start. Beyond loopback the channel is encrypted and the
        client authenticated (password or trusted certificate): a PLC network is not a trusted one."""
        problems = []
        if self.opcua_security not in OPCUA_SECURITY:
            problems.append(f"OPC UA security must be one of {', '.join(OPCUA_SECURITY)}")
        if bool(self.opcua_username) != bool(self.opcua_password):
            problems.append("OPC UA: set both a username and a password, or neither")
        if not is_loopback(self.opcua_host):
            beyond = f"OPC UA on {self.opcua_host} listens beyond this machine"
            if not self.opcua_encrypted:
                problems.append(f"{beyond}: security cannot be off there (choose auto or Basic256Sha256)")
            if not (self.opcua_username and self.opcua_password) and not self.opcua_trusted_clients:
                problems.append(f"{beyond}: set a username and password, or a folder of trusted client "
                                "certificates")
        return problems

    def validate(self) -> list[str]:
        """Readable problems; empty when the settings can work."""
        problems = []
        if self.opcua_enabled:
            problems.extend(self.opcua_problems())
        if self.trigger_source not in TRIGGER_SOURCES:
            problems.append(f"trigger source must be one of {', '.join(TRIGGER_SOURCES)}")
        if self.gige_trigger not in GIGE_TRIGGERS:
            problems.append(f"GigE trigger must be one of {', '.join(GIGE_TRIGGERS)}")
        if self.trigger_source == "gige" and not self.gige_camera_id:
            problems.append("choose a GigE Vision camera for the trigger source 'gige'")
        for name in ("opcua_port", "mqtt_port"):
            if not 0 < getattr(self, name) < 65536:
                problems.append(f"{name} must be a TCP port (1-65535)")
        return problems


def line_settings(settings) -> LineSettings:
    """The line part of the station's Settings (its `extra` dict)."""
    return LineSettings.from_dict((getattr(settings, "extra", None) or {}).get("line"))


def with_line_settings(settings, line: LineSettings):
    """Settings with the line part replaced (Settings is frozen; `extra` is copied)."""
    extra = dict(getattr(settings, "extra", None) or {})
    extra["line"] = line.to_dict()
    return settings.with_changes(extra=extra)
