"""Throwaway line services on loopback for tests, benchmarks and demos: a mosquitto broker and
Aravis's simulated GigE Vision camera. Both bind to 127.0.0.1 only; both are real programs
(`apt-get install mosquitto aravis-tools`), found on PATH or in /usr/sbin.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def find_program(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)


def wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Mosquitto:
    """A mosquitto on 127.0.0.1 with on-disk persistence, so queued QoS 1 messages survive a restart."""

    def __init__(self, port: int | None = None, folder: Path | None = None,
                 users: dict[str, str] | None = None) -> None:
        self.binary = find_program("mosquitto")
        if self.binary is None:
            raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.port = port or free_port()
        self.folder = Path(folder or tempfile.mkdtemp(prefix="agpt-mqtt-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = self.folder / "mosquitto.conf"
        access = "allow_anonymous true\n"
        if users:  # only these users may connect
            passwords = self.folder / "passwords"
            passwords.write_text("")
            for name, secret in users.items():
                subprocess.run([find_program("mosquitto_passwd") or "mosquitto_passwd", "-b", str(passwords), name,
                                secret], check=True, capture_output=True)
            access = f"allow_anonymous false\npassword_file {passwords}\n"
        self.config.write_text(
            f"listener {self.port} {LOOPBACK}\n"
            + access
            + "persistence true\n"
            f"persistence_location {self.folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"  # 0: no limit; the consumer in a benchmark may fall behind
            "max_inflight_messages 100\n"
            "log_type none\n"
            # Run as root, mosquitto switches to user "mosquitto", which cannot write our folder.
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_port(self.port, timeout):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on {LOOPBACK}:{self.port}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: mosquitto writes its persistence file, as a service stop would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


class FakeGigECamera:
    """`arv-fake-gv-camera-0.8 -i 127.0.0.1`: a simulated camera speaking GigE Vision on loopback."""

    def __init__(self, serial: str = "GV01") -> None:
        self.binary = find_program("arv-fake-gv-camera-0.8")
        if self.binary is None:
            raise FileNotFoundError("arv-fake-gv-camera-0.8 is not installed (Debian: apt-get install aravis-tools)")
        self.serial = serial
        self.process: subprocess.Popen | None = None

    @property
    def device_id(self) -> str:
        return f"Aravis-Fake-{self.serial}"

    def start(self, settle_s: float = 0.5) -> FakeGigECamera:
        self.process = subprocess.Popen(
            [self.binary, "-i", LOOPBACK, "-s", self.serial], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(settle_s)  # it answers GVCP within milliseconds; there is no port to poll (UDP)
        if self.process.poll() is not None:
            raise RuntimeError("arv-fake-gv-camera-0.8 exited at start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> FakeGigECamera:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


class CollectingConsumer:
    """A plant-side MQTT consumer for tests and benchmarks: persistent session (QoS 1), reconnects at
    once after a broker restart, records every payload in arrival order."""

    def __init__(self, port: int, topic: str, client_id: str = "agpt-test-consumer", username: str = "",
                 password: str = "") -> None:
        import paho.mqtt.client as mqtt

        self.port, self.topic = port, topic
        self.received: list[bytes] = []
        self._stop = False
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if username:
            self._client.username_pw_set(username, password)
        self._client.on_connect = lambda c, _u, _f, rc, _p: c.subscribe(self.topic, qos=1)
        self._client.on_message = lambda _c, _u, m: self.received.append(bytes(m.payload))
        self._ok = mqtt.MQTT_ERR_SUCCESS
        self._thread = None

    def start(self) -> CollectingConsumer:
        import threading

        self._thread = threading.Thread(target=self._run, name="TestConsumer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop:
            try:
                self._client.connect(LOOPBACK, self.port, keepalive=5)
            except OSError:
                time.sleep(0.05)
                continue
            while not self._stop and self._client.loop(0.05) == self._ok:
                pass
            try:
                self._client.disconnect()
            except Exception:
                pass

    def stop(self) -> None:
        self._stop = True
        if self._thread is not None:
            self._thread.join(5)
