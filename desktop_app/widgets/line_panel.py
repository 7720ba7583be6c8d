"""Line tab: live status of the PLC link, the broker and the queue, and the line settings form.

No logic beyond reading and writing the form: `applyRequested(LineSettings)` goes to the station,
which saves the settings and restarts the line services on them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.line.config import GIGE_TRIGGERS, OPCUA_SECURITY, TRIGGER_SOURCES, LineSettings

_COLORS = {"ok": "#2e9d4a", "warn": "#d99a00", "bad": "#c8372d", "off": "#8a8f98"}


class _Light(QLabel):
    """A round status light with a text beside it."""

    def set_state(self, state: str, text: str) -> None:
        self.setText(f"<span style='color:{_COLORS[state]}; font-size:16px'>●</span>&nbsp; {text}")
        self.setToolTip(text)


class LinePanel(QWidget):
    applyRequested = Signal(object)  # LineSettings
    _cameras = Signal(object)  # list[CameraInfo] or error text, from the discovery thread
    _certificate = Signal(object)  # CertificateInfo or error text, from the key generation thread

    def __init__(self, line: LineSettings, parent: QWidget | None = None, data_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("linePanel")
        self._line = line
        self.data_dir = data_dir  # where "Create certificate" writes; None: the user's data folder
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self._status_box())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        form_host = QWidget()
        forms = QVBoxLayout(form_host)
        forms.setContentsMargins(0, 0, 0, 0)
        forms.addWidget(self._opcua_box())
        forms.addWidget(self._mqtt_box())
        forms.addWidget(self._camera_box())
        forms.addStretch(1)
        scroll.setWidget(form_host)
        outer.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color:{_COLORS['bad']}")
        self.apply_button = QPushButton("Apply and restart line services")
        self.apply_button.clicked.connect(lambda: self.applyRequested.emit(self.settings()))
        buttons.addWidget(self.problem_label, 1)
        buttons.addWidget(self.apply_button)
        outer.addLayout(buttons)
        self._cameras.connect(self._show_cameras)
        self._certificate.connect(self._show_created_certificate)
        self.load(line)

    # -- building ------------------------------------------------------------------------------
    def _status_box(self) -> QGroupBox:
        box = QGroupBox("Line status")
        grid = QGridLayout(box)
        self.plc_light, self.mqtt_light, self.queue_light = _Light(), _Light(), _Light()
        self.camera_label, self.cycle_label = QLabel(""), QLabel("")
        for row, (name, widget) in enumerate(
            (("PLC (OPC UA)", self.plc_light), ("Broker (MQTT)", self.mqtt_light), ("Queue", self.queue_light),
             ("Trigger source", self.camera_label), ("Last cycle", self.cycle_label))
        ):
            title = QLabel(name)
            title.setStyleSheet("font-weight:600")
            widget.setWordWrap(True)
            widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(title, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(widget, row, 1)
        grid.setColumnStretch(1, 1)
        return box

    def _opcua_box(self) -> QGroupBox:
        box = QGroupBox("PLC link: OPC UA server in this station")
        form = QFormLayout(box)
        self.opcua_enabled = QCheckBox("Enabled")
        self.opcua_host, self.opcua_port = QLineEdit(), _port()
        self.opcua_user, self.opcua_password = QLineEdit(), _secret()
        self.station_name = QLineEdit()
        self.station_name.setPlaceholderText("this computer's name")
        form.addRow(self.opcua_enabled)
        form.addRow("Listen on", _pair(self.opcua_host, self.opcua_port))
        form.addRow("Username", self.opcua_user)
        form.addRow("Password", self.opcua_password)
        form.addRow("Station name", self.station_name)
        self.opcua_security = QComboBox()
        for value, text in zip(OPCUA_SECURITY, ("auto: off on 127.0.0.1, encrypted beyond it", "none",
                                                "Basic256Sha256 SignAndEncrypt")):
            self.opcua_security.addItem(text, value)
        self.opcua_certificate, self.opcua_key, self.trusted_clients = QLineEdit(), QLineEdit(), QLineEdit()
        self.opcua_certificate.setPlaceholderText("the station's own (opcua/station_cert.der in the data folder)")
        self.opcua_key.setPlaceholderText("the station's own (opcua/station_key.pem)")
        self.trusted_clients.setPlaceholderText("any client certificate; set a folder to accept only those")
        self.certificate_button = QPushButton("Create certificate")
        self.certificate_button.setToolTip("A self-signed certificate for this station, made here (nothing is "
                                           "downloaded). PLCs that connect with encryption must trust it.")
        self.certificate_button.clicked.connect(self.create_certificate)
        self.certificate_label = QLabel("")
        self.certificate_label.setWordWrap(True)
        self.certificate_label.setObjectName("hint")
        self.certificate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Security", self.opcua_security)
        form.addRow("Certificate", _pair(self.opcua_certificate, self.certificate_button))
        form.addRow("Private key", self.opcua_key)
        form.addRow("Trusted clients", self.trusted_clients)
        form.addRow(self.certificate_label)
        hint = QLabel("127.0.0.1 = this computer only. Any other address needs security on (the channel "
                      "encrypted with the station's certificate) and a username and password or a folder of "
                      "trusted PLC certificates; the station refuses to start the server otherwise.")
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        form.addRow(hint)
        return box

    def _mqtt_box(self) -> QGroupBox:
        box = QGroupBox("Results to MQTT")
        form = QFormLayout(box)
        self.mqtt_enabled = QCheckBox("Enabled")
        self.mqtt_host, self.mqtt_port = QLineEdit(), _port()
        self.mqtt_user, self.mqtt_password = QLineEdit(), _secret()
        self.mqtt_topic, self.mqtt_status_topic, self.outbox_path = QLineEdit(), QLineEdit(), QLineEdit()
        self.outbox_path.setPlaceholderText("line_outbox.sqlite3 in the data folder")
        form.addRow(self.mqtt_enabled)
        form.addRow("Broker", _pair(self.mqtt_host, self.mqtt_port))
        form.addRow("Username", self.mqtt_user)
        form.addRow("Password", self.mqtt_password)
        form.addRow("Results topic", self.mqtt_topic)
        form.addRow("Status topic", self.mqtt_status_topic)
        form.addRow("Queue file", self.outbox_path)
        return box

    def _camera_box(self) -> QGroupBox:
        box = QGroupBox("What a trigger inspects")
        form = QFormLayout(box)
        self.trigger_source = QComboBox()
        self.trigger_source.addItems(TRIGGER_SOURCES)
        self.gige_camera = QComboBox()
        self.gige_camera.setEditable(True)
        self.find_button = QPushButton("Find cameras")
        self.find_button.clicked.connect(self.find_cameras)
        self.gige_interface = QLineEdit()
        self.gige_interface.setPlaceholderText("automatic")
        self.exposure = QDoubleSpinBox()
        self.exposure.setRange(0, 10_000_000)
        self.exposure.setSuffix(" µs")
        self.exposure.setSpecialValueText("camera's own")
        self.gain = QDoubleSpinBox()
        self.gain.setRange(-1, 48)
        self.gain.setSuffix(" dB")
        self.gain.setSpecialValueText("camera's own")
        self.pixel_format = QComboBox()
        self.pixel_format.setEditable(True)
        self.pixel_format.addItems(["", "Mono8", "Mono16", "RGB8", "BayerRG8", "BayerBG8", "BayerGR8", "BayerGB8"])
        self.gige_trigger = QComboBox()
        self.gige_trigger.addItems(GIGE_TRIGGERS)
        form.addRow("Source", self.trigger_source)
        form.addRow("GigE camera", _pair(self.gige_camera, self.find_button))
        form.addRow("From interface", self.gige_interface)
        form.addRow("Exposure", self.exposure)
        form.addRow("Gain", self.gain)
        form.addRow("Pixel format", self.pixel_format)
        form.addRow("Camera trigger", self.gige_trigger)
        return box

    # -- form <-> settings ---------------------------------------------------------------------
    def load(self, line: LineSettings) -> None:
        self._line = line
        self.opcua_enabled.setChecked(line.opcua_enabled)
        self.opcua_host.setText(line.opcua_host)
        self.opcua_port.setValue(line.opcua_port)
        self.opcua_user.setText(line.opcua_username)
        self.opcua_password.setText(line.opcua_password)
        self.station_name.setText(line.station_name)
        self.opcua_security.setCurrentIndex(max(0, self.opcua_security.findData(line.opcua_security)))
        self.opcua_certificate.setText(line.opcua_certificate)
        self.opcua_key.setText(line.opcua_private_key)
        self.trusted_clients.setText(line.opcua_trusted_clients)
        self._describe_certificate()
        self.mqtt_enabled.setChecked(line.mqtt_enabled)
        self.mqtt_host.setText(line.mqtt_host)
        self.mqtt_port.setValue(line.mqtt_port)
        self.mqtt_user.setText(line.mqtt_username)
        self.mqtt_password.setText(line.mqtt_password)
        self.mqtt_topic.setText(line.mqtt_topic)
        self.mqtt_status_topic.setText(line.mqtt_status_topic)
        self.outbox_path.setText(line.outbox_path)
        self.trigger_source.setCurrentText(line.trigger_source)
        self.gige_camera.setEditText(line.gige_camera_id)
        self.gige_interface.setText(line.gige_interface)
        self.exposure.setValue(line.gige_exposure_us)
        self.gain.setValue(line.gige_gain_db)
        self.pixel_format.setCurrentText(line.gige_pixel_format)
        self.gige_trigger.setCurrentText(line.gige_trigger)

    def settings(self) -> LineSettings:
        return self._line.with_changes(
            opcua_enabled=self.opcua_enabled.isChecked(), opcua_host=self.opcua_host.text().strip() or "127.0.0.1",
            opcua_port=self.opcua_port.value(), opcua_username=self.opcua_user.text().strip(),
            opcua_password=self.opcua_password.text(), station_name=self.station_name.text().strip(),
            opcua_security=self.opcua_security.currentData(), opcua_certificate=self.opcua_certificate.text().strip(),
            opcua_private_key=self.opcua_key.text().strip(), opcua_trusted_clients=self.trusted_clients.text().strip(),
            mqtt_enabled=self.mqtt_enabled.isChecked(), mqtt_host=self.mqtt_host.text().strip() or "127.0.0.1",
            mqtt_port=self.mqtt_port.value(), mqtt_username=self.mqtt_user.text().strip(),
            mqtt_password=self.mqtt_password.text(), mqtt_topic=self.mqtt_topic.text().strip(),
            mqtt_status_topic=self.mqtt_status_topic.text().strip(), outbox_path=self.outbox_path.text().strip(),
            trigger_source=self.trigger_source.currentText(), gige_camera_id=self.gige_camera.currentText().strip(),
            gige_interface=self.gige_interface.text().strip(), gige_exposure_us=self.exposure.value(),
            gige_gain_db=self.gain.value(), gige_pixel_format=self.pixel_format.currentText().strip(),
            gige_trigger=self.gige_trigger.currentText(),
        )

    # -- live status ---------------------------------------------------------------------------
    def show_status(self, status) -> None:
        if not status.opcua_ok:
            state = "off" if status.opcua == "off" else ("warn" if status.opcua.startswith("starting") else "bad")
            self.plc_light.set_state(state, f"server {status.opcua}")
        elif status.plc_clients:
            self.plc_light.set_state("ok", f"{status.plc_clients} client(s) connected to {status.opcua}")
        else:
            note = status.plc_note or "waiting for the PLC"
            self.plc_light.set_state("warn", f"{note} · {status.opcua}")
        if status.mqtt == "off":
            self.mqtt_light.set_state("off", "off")
        elif status.mqtt_connected:
            self.mqtt_light.set_state("ok", f"connected · {status.mqtt}")
        else:
            self.mqtt_light.set_state("bad", f"disconnected · {status.mqtt_error or status.mqtt}")
        queue_state = "off" if status.mqtt == "off" else ("ok" if status.queued == 0 else "warn")
        self.queue_light.set_state(queue_state, f"{status.queued} waiting · {status.delivered} delivered this session")
        self.camera_label.setText(status.camera)
        self.cycle_label.setText(f"{status.cycles} trigger(s) · {status.last_result or 'none yet'}")
        self.problem_label.setText("\n".join(status.problems))

    # -- the OPC UA certificate (a thread: an RSA key takes a moment on a busy station) ---------
    def _certificate_paths(self) -> tuple[Path, Path]:
        from desktop_app.line.certificates import default_paths
        from desktop_app.paths import user_data_dir

        cert, key = default_paths(self.data_dir or user_data_dir())
        chosen_cert, chosen_key = self.opcua_certificate.text().strip(), self.opcua_key.text().strip()
        return Path(chosen_cert) if chosen_cert else cert, Path(chosen_key) if chosen_key else key

    def _describe_certificate(self) -> None:
        from desktop_app.line.certificates import describe
        from desktop_app.line.config import LineConfigError

        cert, _key = self._certificate_paths()
        if not cert.is_file():
            self.certificate_label.setText(f"No certificate yet at {cert}.")
            self.certificate_button.setText("Create certificate")
            return
        try:
            self.certificate_label.setText(f"Certificate: {describe(cert).summary()}")
        except (LineConfigError, OSError, ValueError) as exc:
            self.certificate_label.setText(f"Certificate {cert} cannot be read: {exc}")
        self.certificate_button.setText("Create a new one")

    def create_certificate(self) -> None:
        """Make the station's own self-signed certificate and key (replacing its previous ones;
        a plant certificate chosen in the fields is never overwritten: those fields are cleared)."""
        from desktop_app.line.certificates import default_paths
        from desktop_app.paths import user_data_dir

        cert, key = default_paths(self.data_dir or user_data_dir())
        line = self.settings()
        self.certificate_button.setEnabled(False)
        self.certificate_label.setText("Creating the certificate…")

        def work() -> None:
            import socket

            from desktop_app.line.certificates import create_self_signed, station_uri

            host = socket.gethostname()
            hosts = [host, "localhost", "127.0.0.1"]
            if line.opcua_host not in (*hosts, "0.0.0.0", "::", ""):
                hosts.append(line.opcua_host)
            try:
                self._certificate.emit(create_self_signed(
                    cert, key, application_uri=station_uri(host), common_name=f"AnomalyGPT Inspector {line.station}",
                    hosts=hosts))
            except Exception as exc:  # a read-only data folder: say so on the panel
                self._certificate.emit(f"Could not create the certificate: {exc}")

        threading.Thread(target=work, name="OpcUaCertificate", daemon=True).start()

    def _show_created_certificate(self, info) -> None:
        self.certificate_button.setEnabled(True)
        if isinstance(info, str):
            self.certificate_label.setText(info)
            return
        self.opcua_certificate.clear()  # empty = the station's own, which this is
        self.opcua_key.clear()
        self._describe_certificate()
        self.certificate_label.setText(f"Created {info.path.name}: {info.summary()}. PLCs must trust this "
                                       "certificate; Apply (re)starts the server with it.")

    # -- camera discovery (a thread: Aravis discovery waits for answers) -----------------------
    def find_cameras(self) -> None:
        self.find_button.setEnabled(False)
        self.find_button.setText("Searching…")
        threading.Thread(target=self._discover, name="GigEDiscovery", daemon=True).start()

    def _discover(self) -> None:
        from desktop_app.line.aravis_camera import CameraError, list_cameras

        address = self.gige_interface.text().strip()
        try:
            self._cameras.emit(list_cameras([address] if address else None))
        except CameraError as exc:
            self._cameras.emit(str(exc))

    def _show_cameras(self, found) -> None:
        self.find_button.setEnabled(True)
        self.find_button.setText("Find cameras")
        if isinstance(found, str):
            self.problem_label.setText(found)
            return
        current = self.gige_camera.currentText()
        self.gige_camera.clear()
        for info in found:
            self.gige_camera.addItem(f"{info.device_id}", info.address if info.protocol == "GigEVision" else "")
        self.gige_camera.setEditText(current or (found[0].device_id if found else ""))
        self.problem_label.setText("" if found else "No GigE Vision / USB3 Vision camera found")


def _port() -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(1, 65535)
    return spin


def _secret() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


def _pair(first: QWidget, second: QWidget) -> QWidget:
    host = QWidget()
    layout = QHBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(first, 1)
    layout.addWidget(second)
    return host
