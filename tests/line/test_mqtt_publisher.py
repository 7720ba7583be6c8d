"""Results to MQTT against a real mosquitto on 127.0.0.1: order, outages, restarts, last will."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.line.local_services import CollectingConsumer
from desktop_app.line.mqtt_publisher import MqttPublisher
from desktop_app.line.outbox import Outbox

TOPIC = "plant/st1/inspections"
STATUS = "plant/st1/status"


def queue(box: Outbox, first: int, count: int, publisher: MqttPublisher | None = None) -> None:
    for i in range(first, first + count):
        box.put(f"insp-{i}", TOPIC, lambda seq, i=i: json.dumps({"inspection_id": f"insp-{i}", "seq": seq}).encode())
        if publisher is not None:
            publisher.notify()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def unique_in_order(payloads: list[bytes]) -> tuple[list[int], int]:
    """Sequence numbers after de-duplication by inspection id, and how many arrived out of order."""
    seen, order, late = set(), [], 0
    for payload in payloads:
        message = json.loads(payload)
        if message["inspection_id"] in seen:
            continue
        seen.add(message["inspection_id"])
        late += bool(order) and message["seq"] < order[-1]
        order.append(message["seq"])
    return order, late


def publisher_for(box: Outbox, port: int) -> MqttPublisher:
    return MqttPublisher(box, "127.0.0.1", port, client_id="station-st1", status_topic=STATUS)


def test_results_arrive_in_order_and_leave_the_outbox(broker, tmp_path):
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    box = Outbox(tmp_path / "outbox.sqlite3")
    publisher = publisher_for(box, broker.port)
    try:
        assert wait_until(lambda: consumer._client.is_connected(), 5)
        publisher.start()
        queue(box, 0, 300, publisher)
        assert wait_until(lambda: len(consumer.received) >= 300, 20)
        order, late = unique_in_order(consumer.received)
        assert order == list(range(1, 301)) and late == 0
        assert wait_until(lambda: len(box) == 0, 5) and publisher.status().connected
    finally:
        publisher.stop()
        consumer.stop()


def test_broker_outages_delay_but_never_lose_or_reorder(broker, tmp_path):
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    box = Outbox(tmp_path / "outbox.sqlite3")
    publisher = publisher_for(box, broker.port)
    publisher.start()
    try:
        assert wait_until(lambda: consumer._client.is_connected() and publisher.connected, 5)
        for block in range(3):
            queue(box, block * 400, 400, publisher)
            time.sleep(0.05)  # some of the block is in flight when the broker goes
            broker.stop()
            assert wait_until(lambda: not publisher.connected, 5)
            queue(box, 10_000 + block * 50, 50, publisher)  # produced while the broker is down
            assert len(box) >= 50
            broker.start()
        assert wait_until(lambda: len(box) == 0, 30), f"{len(box)} messages still queued"
        assert wait_until(lambda: len(unique_in_order(consumer.received)[0]) == 1350, 20)
        order, late = unique_in_order(consumer.received)
        assert order == list(range(1, 1351)) and late == 0
    finally:
        publisher.stop()
        consumer.stop()


def test_nothing_is_lost_across_a_station_restart(broker, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    broker.stop()
    box = Outbox(path)
    first = publisher_for(box, broker.port)
    first.start()
    queue(box, 0, 120, first)  # the broker is down: everything waits on disk
    time.sleep(0.2)
    first.stop()
    box.close()  # the station exits
    broker.start()
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    reopened = Outbox(path)  # ... and starts again
    second = publisher_for(reopened, broker.port)
    try:
        assert len(reopened) == 120
        assert wait_until(lambda: consumer._client.is_connected(), 5)
        second.start()
        assert wait_until(lambda: len(consumer.received) >= 120, 20)
        order, late = unique_in_order(consumer.received)
        assert order == list(range(1, 121)) and late == 0
        assert wait_until(lambda: len(reopened) == 0, 5)
    finally:
        second.stop()
        consumer.stop()


def test_status_topic_says_online_then_offline(broker, tmp_path):
    watcher = CollectingConsumer(broker.port, STATUS, client_id="status-watcher").start()
    publisher = publisher_for(Outbox(tmp_path / "o.sqlite3"), broker.port)
    try:
        publisher.start()
        assert wait_until(lambda: b"online" in watcher.received, 10)
        publisher.stop()
        assert wait_until(lambda: watcher.received[-1:] == [b"offline"], 10)
    finally:
        publisher.stop()
        watcher.stop()


def test_last_will_reports_a_station_that_vanished(broker, tmp_path):
    """The broker itself publishes "offline" when the station dies without a goodbye (SIGKILL)."""
    watcher = CollectingConsumer(broker.port, STATUS, client_id="status-watcher").start()
    code = (
        "import sys, time; from desktop_app.line.outbox import Outbox; "
        "from desktop_app.line.mqtt_publisher import MqttPublisher; "
        f"p = MqttPublisher(Outbox(sys.argv[1]), '127.0.0.1', {broker.port}, client_id='station-st1', "
        f"status_topic='{STATUS}'); p.start(); time.sleep(60)"
    )
    station = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "o.sqlite3")],
                               cwd=Path(__file__).resolve().parents[2])
    try:
        assert wait_until(lambda: b"online" in watcher.received, 20)
        station.send_signal(signal.SIGKILL)
        station.wait(5)
        assert wait_until(lambda: watcher.received[-1:] == [b"offline"], 10)
    finally:
        station.kill()
        station.wait()
        watcher.stop()


def test_unreachable_broker_is_a_status_not_a_failure(tmp_path):
    from desktop_app.line.local_services import free_port

    box = Outbox(tmp_path / "o.sqlite3")
    publisher = publisher_for(box, free_port())  # nothing listens there
    publisher.start()
    try:
        queue(box, 0, 3, publisher)
        assert wait_until(lambda: "unreachable" in publisher.status().error, 5)
        assert publisher.status().queued == 3 and not publisher.status().connected
    finally:
        publisher.stop()


def test_broker_with_passwords_accepts_the_station_and_refuses_a_wrong_one(tmp_path):
    from desktop_app.line.local_services import Mosquitto, find_program

    if find_program("mosquitto") is None or find_program("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto); MQTT tests skipped")
    users = {"station": "line-pw", "mes": "mes-pw"}
    with Mosquitto(folder=tmp_path / "broker", users=users) as secured:
        consumer = CollectingConsumer(secured.port, TOPIC, username="mes", password="mes-pw").start()
        wrong = MqttPublisher(Outbox(tmp_path / "wrong.sqlite3"), "127.0.0.1", secured.port, client_id="intruder",
                              status_topic=STATUS, username="station", password="nope")
        box = Outbox(tmp_path / "o.sqlite3")
        right = MqttPublisher(box, "127.0.0.1", secured.port, client_id="station-st1", status_topic=STATUS,
                              username="station", password="line-pw")
        try:
            wrong.start()
            queue(wrong.outbox, 0, 2, wrong)
            assert wait_until(lambda: "refused" in wrong.status().error, 10) and wrong.status().queued == 2
            right.start()
            queue(box, 0, 5, right)
            assert wait_until(lambda: len(consumer.received) >= 5, 10)
            assert unique_in_order(consumer.received)[0] == [1, 2, 3, 4, 5]
        finally:
            wrong.stop()
            right.stop()
            consumer.stop()
