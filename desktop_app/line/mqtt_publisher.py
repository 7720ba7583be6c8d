"""Results to MQTT: drains the durable outbox to the broker in order, QoS 1, with a last will.

One thread owns one paho client at a time and drives it with `client.loop()` (no paho thread), so
the order of events is ours: connect, announce "online" (retained), publish a window of queued
messages, and remove each from the outbox only when the broker has acknowledged it and every older
one. A broken connection drops the client; the next one starts again from the oldest unacknowledged
message. Messages the broker got but did not acknowledge may therefore arrive twice: each carries
its inspection id and sequence number so a consumer drops duplicates; none is lost or reordered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from desktop_app.line.outbox import Outbox

log = logging.getLogger(__name__)
StatusCallback = Callable[["PublisherStatus"], None]


@dataclass(frozen=True)
class PublisherStatus:
    connected: bool
    queued: int
    delivered: int
    error: str = ""


class MqttPublisher:
    """Owns the broker connection; `notify()` after queuing a message wakes it at once."""

    CONNECT_TIMEOUT_S = 5.0

    def __init__(
        self,
        outbox: Outbox,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        client_id: str,
        status_topic: str,
        username: str = "",
        password: str = "",
        window: int = 100,
        keepalive: int = 10,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.outbox, self.host, self.port = outbox, host, port
        self.client_id, self.status_topic = client_id, status_topic
        self.username, self.password = username, password
        self.window, self.keepalive = window, keepalive
        self.on_status = on_status
        self.connected = False
        self.delivered = 0
        self.error = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._acked: set[int] = set()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._session_state: str = "idle"  # "connecting", "up", "down"

    # -- public -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="MqttPublisher", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def status(self) -> PublisherStatus:
        return PublisherStatus(self.connected, len(self.outbox), self.delivered, self.error)

    def stop(self, timeout: float = 5.0) -> None:
        """Say "offline" (retained) if connected, disconnect, end the thread; queued messages stay."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- connection loop ---------------------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if self.username:
            client.username_pw_set(self.username, self.password or None)
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(self.window)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            client = self._new_client()
            try:
                client.connect(self.host, self.port, self.keepalive)
            except OSError as exc:
                self._set_status(False, f"broker {self.host}:{self.port} unreachable: {exc.strerror or exc}")
                self._stop.wait(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            if self._await_connack(client):
                backoff = 0.1
                self._drain(client)
                self._close(client)
            else:  # refused (credentials) or no answer: do not hammer the broker
                self._close(client)
                self._stop.wait(backoff)
                backoff = min(2.0, backoff * 2)
        self._set_status(False, "stopped")

    def _await_connack(self, client: mqtt.Client) -> bool:
        self._session_state = "connecting"
        deadline = time.monotonic() + self.CONNECT_TIMEOUT_S
        while self._session_state == "connecting" and time.monotonic() < deadline and not self._stop.is_set():
            if client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                return False
        return self._session_state == "up"

    def _drain(self, client: mqtt.Client) -> None:
        """Publish queued messages in order while connected; forget each one the broker acknowledged."""
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self._set_status(True, "")
        self._inflight.clear()
        self._acked.clear()
        order: deque[int] = deque()
        last_sent = 0
        while not self._stop.is_set() and self._session_state == "up":
            room = self.window - len(order)
            sent = 0
            if room > 0:
                for message in self.outbox.peek(room, after=last_sent):
                    info = client.publish(message.topic, message.payload, qos=1)
                    if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
                        return
                    self._inflight[info.mid] = message.seq
                    order.append(message.seq)
                    last_sent, sent = message.seq, sent + 1
            if not order and not sent:
                self._wake.wait(0.05)  # idle: woken by notify(), keepalive handled below
                self._wake.clear()
            if client.loop(0.01 if order else 0.0) != mqtt.MQTT_ERR_SUCCESS:
                return
            done = []
            while order and order[0] in self._acked:
                seq = order.popleft()
                self._acked.discard(seq)
                done.append(seq)
            if done:
                self.outbox.remove(done)
                self.delivered += len(done)
                self._set_status(True, "")

    def _close(self, client: mqtt.Client) -> None:
        was_up = self._session_state == "up"
        try:
            if was_up and self._stop.is_set():
                info = client.publish(self.status_topic, b"offline", qos=1, retain=True)
                deadline = time.monotonic() + 1.0
                while not info.is_published() and time.monotonic() < deadline:
                    if client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                        break
            client.disconnect()
            client.loop(0.01)
        except Exception as exc:  # a dead socket may refuse even a goodbye
            log.debug("closing MQTT client: %s", exc)
        self._session_state = "down"
        if not self._stop.is_set():
            self._set_status(False, self.error or "broker connection lost")

    # -- paho callbacks (called inside client.loop(), i.e. in this thread) -------------------
    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self._session_state = "down"
            self.error = f"broker refused the connection: {reason_code}"
        else:
            self._session_state = "up"

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        was_up, self._session_state = self._session_state == "up", "down"
        if was_up and not self._stop.is_set():  # a refusal keeps its own, more useful, message
            self.error = f"broker connection lost ({reason_code})"

    def _on_publish(self, _client, _userdata, mid, _reason_code, _properties) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is not None:
            self._acked.add(seq)

    def _set_status(self, connected: bool, error: str) -> None:
        changed = connected != self.connected or error != self.error
        self.connected = connected
        if error or connected:
            self.error = error
        if self.on_status is not None and (changed or connected):
            try:
                self.on_status(self.status())
            except Exception:  # a status display must never stop delivery
                log.exception("MQTT status callback failed")
