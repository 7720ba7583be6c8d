"""The whole station on the line: a software PLC triggers over OPC UA, results go to a real
mosquitto, frames come from Aravis's simulated GigE camera. Loopback (127.0.0.1) only."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from desktop_app.line.config import LineSettings, with_line_settings
from desktop_app.line.local_services import CollectingConsumer, free_port
from desktop_app.line.plc_sim import SimulatedPlc
from desktop_app.settings import Settings
from tests.app.conftest import make_station
from tests.line import conftest as line_services

broker, fake_camera = line_services.broker, line_services.fake_camera  # the same fixtures as tests/line

TOPIC = "plant/st-test/inspections"


def line_settings(broker_port: int, tmp_path, **changes) -> Settings:
    fields = dict(station_name="st-test", opcua_enabled=True, opcua_port=free_port(), mqtt_enabled=True,
                  mqtt_port=broker_port, mqtt_topic="plant/{station}/inspections",
                  outbox_path=str(tmp_path / "outbox.sqlite3"))
    line = LineSettings(**{**fields, **changes})
    return with_line_settings(Settings(), line)


def run_plc(qtbot, endpoint: str, parts: list[str], timeout_s: float = 120, lot: str = ""):
    """Run the PLC in its own thread while the Qt event loop keeps turning here."""
    box: dict = {}

    async def plc():
        async with SimulatedPlc(endpoint) as p:
            assert await p.wait_ready(30)
            return [await p.cycle(part, serial=f"SN-{part}", lot=lot) for part in parts]

    def main():
        try:
            box["outcomes"] = asyncio.run(plc())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=int(timeout_s * 1000))
    if "error" in box:
        raise box["error"]
    return box["outcomes"]


def messages(consumer) -> dict[str, dict]:
    by_id = {}
    for payload in consumer.received:
        message = json.loads(payload)
        by_id.setdefault(message["inspection_id"], message)
    return by_id


def test_plc_trigger_inspects_records_answers_and_publishes(qtbot, engine, calibrated_data_dir, broker, tmp_path):
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    station = make_station(qtbot, engine, line_settings(broker.port, tmp_path))
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok and line.status.mqtt_connected, timeout=30_000)
        shown = []
        station.controller.recordShown.connect(shown.append)
        outcomes = run_plc(qtbot, line.server.endpoint, [f"P{i}" for i in range(6)])
        assert [o.result for o in outcomes] == [
            r.result.verdict.value for r in station.controller.records.values() if r.source == "plc"
        ]
        assert all(o.result in ("OK", "NG", "REVIEW") and o.error == "" for o in outcomes)
        qtbot.waitUntil(lambda: len(messages(consumer)) >= 6, timeout=10_000)
        published = messages(consumer)
        for o in outcomes:
            message = published[o.inspection_id]
            assert (message["part_id"], message["serial"], message["verdict"]) == (o.part_id, f"SN-{o.part_id}",
                                                                                    o.result)
            assert message["station"] == "st-test" and message["models"]["engine_version"]
            assert abs(message["score"] - o.score) < 1e-3 and isinstance(message["regions"], list)
        assert [published[o.inspection_id]["seq"] for o in outcomes] == sorted(
            published[o.inspection_id]["seq"] for o in outcomes)
        qtbot.waitUntil(lambda: len(shown) >= 6, timeout=10_000)  # the screen shows PLC parts too
        qtbot.waitUntil(lambda: line.status.queued == 0 and line.status.cycles == 6, timeout=5_000)
        panel = line.panel
        qtbot.waitUntil(lambda: "delivered" in panel.queue_light.text(), timeout=5_000)
        assert "connected" in panel.mqtt_light.text() and "6 trigger(s)" in panel.cycle_label.text()
    finally:
        station.shutdown(save=False)
        consumer.stop()


def test_plc_part_id_serial_and_lot_reach_the_history_and_the_review(qtbot, engine, calibrated_data_dir, tmp_path):
    """The ids the PLC wrote are columns of the history row, shown and found by serial in the review."""
    from desktop_app.history import HistoryFilter
    from tests.app.test_station_review import _open_review, _shot

    settings = with_line_settings(Settings(), LineSettings(opcua_enabled=True, opcua_port=free_port()))
    station = make_station(qtbot, engine, settings, record_history=True)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok, timeout=30_000)
        outcomes = run_plc(qtbot, line.server.endpoint, ["P1", "P2", "P3"], lot="LOT-42")
        assert all(o.result in ("OK", "NG", "REVIEW") for o in outcomes)
        store = station.history.store
        qtbot.waitUntil(lambda: store.count() == 3, timeout=10_000)
        (row,) = store.query(HistoryFilter(serial="SN-P2"))
        assert (row.part_id, row.serial, row.lot) == ("P2", "SN-P2", "LOT-42")
        assert row.effective_verdict == outcomes[1].result

        review, browser = _open_review(qtbot, station)
        browser.serial.setText("SN-P2")  # typed or scanned into the filter bar
        qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=5_000)
        browser.table.selectRow(0)
        text = browser.details.toPlainText()
        assert "serial SN-P2" in text and "part id P2" in text and "lot LOT-42" in text
        _shot(review, "16_history_serial_filter")
    finally:
        station.shutdown(save=False)


def test_a_trigger_without_a_frame_is_a_history_row_with_its_serial(qtbot, engine, calibrated_data_dir):
    """No camera frame: the PLC reads ERROR, and the shift's record still shows the part, by serial."""
    from desktop_app.history import HistoryFilter

    line = LineSettings(opcua_enabled=True, opcua_port=free_port(), trigger_source="camera")
    station = make_station(qtbot, engine, with_line_settings(Settings(), line), record_history=True)
    try:
        qtbot.waitUntil(lambda: station.line.status.opcua_ok, timeout=30_000)
        (outcome,) = run_plc(qtbot, station.line.server.endpoint, ["X9"], lot="LOT-7")
        assert outcome.result == "ERROR" and "no camera frame" in outcome.error
        store = station.history.store
        qtbot.waitUntil(lambda: store.count(HistoryFilter(serial="SN-X9")) == 1, timeout=10_000)
        (row,) = store.query(HistoryFilter(serial="SN-X9"))
        assert (row.verdict, row.part_id, row.lot, row.source) == ("NO IMAGE", "X9", "LOT-7", "plc")
        assert "no camera frame" in row.error and station.controller.counts.total == 0
    finally:
        station.shutdown(save=False)


def test_manual_inspections_are_published_too(qtbot, engine, calibrated_data_dir, broker, tmp_path):
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    station = make_station(qtbot, engine, line_settings(broker.port, tmp_path, opcua_enabled=False))
    try:
        with qtbot.waitSignal(station.controller.recordShown, timeout=30_000):
            station.controller.step(+1)
        qtbot.waitUntil(lambda: len(messages(consumer)) == 1, timeout=15_000)
        (message,) = messages(consumer).values()
        assert message["source"].endswith(".jpg") and message["part_id"] == "" and message["cycle"] == 0
    finally:
        station.shutdown(save=False)
        consumer.stop()


def test_plc_product_that_does_not_exist_makes_the_station_not_ready(qtbot, engine, calibrated_data_dir, tmp_path):
    settings = with_line_settings(Settings(), LineSettings(opcua_enabled=True, opcua_port=free_port()))
    station = make_station(qtbot, engine, settings)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok and line.server.value("Ready") is True, timeout=30_000)
        box = {}

        async def plc():
            async with SimulatedPlc(line.server.endpoint) as p:
                await p.write(Product="no-such-product")
                assert await p.wait_for(lambda v: v.get("Ready") is False, 5)
                await p.write(Trigger=True)
                await asyncio.sleep(0.2)
                box["text"] = await p.read("ErrorText")

        thread = threading.Thread(target=lambda: asyncio.run(plc()))
        thread.start()
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=30_000)
        assert "no-such-product" in box["text"]
        assert station.controller.counts.total == 0
    finally:
        station.shutdown(save=False)


def test_gige_camera_frames_stay_with_their_part(qtbot, engine, calibrated_data_dir, broker, fake_camera, tmp_path):
    """Fake GigE camera free-running at 10 fps, PLC triggers: each part gets a fresh frame of its own."""
    consumer = CollectingConsumer(broker.port, TOPIC).start()
    settings = line_settings(broker.port, tmp_path, trigger_source="gige", gige_camera_id="127.0.0.1",
                             gige_interface="127.0.0.1", gige_trigger="free", gige_pixel_format="Mono8")
    station = make_station(qtbot, engine, settings)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok and line.gige is not None and line.gige.is_open,
                        timeout=30_000)
        outcomes = run_plc(qtbot, line.server.endpoint, [f"G{i}" for i in range(8)])
        assert all(o.error == "" and o.result in ("OK", "NG", "REVIEW") for o in outcomes), [
            (o.cycle, o.result, o.error) for o in outcomes if o.error or o.result == "ERROR"]
        qtbot.waitUntil(lambda: len(messages(consumer)) >= 8, timeout=10_000)
        published = messages(consumer)
        frames = [published[o.inspection_id]["extra"]["camera_frame_id"] for o in outcomes]
        steps = [(b - a) % 65535 for a, b in zip(frames, frames[1:])]  # GigE Vision 1.x ids wrap at 16 bits
        assert all(step > 0 for step in steps), f"a frame served two parts or came out of order: {frames}"
        records = [r for r in station.controller.records.values() if r.source == "plc"]
        assert len(records) == 8 and all(r.image.shape == (512, 512, 3) for r in records)
    finally:
        station.shutdown(save=False)
        consumer.stop()


@pytest.mark.parametrize("name", ["07_line_status"])
def test_line_tab_screenshot(qtbot, engine, calibrated_data_dir, broker, tmp_path, name):
    from tests.app.test_screenshots import save

    station = make_station(qtbot, engine, line_settings(broker.port, tmp_path))
    release, holder = threading.Event(), threading.Thread(target=lambda: None)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok and line.status.mqtt_connected, timeout=30_000)
        run_plc(qtbot, line.server.endpoint, ["A1", "A2", "A3"])

        async def plc_stays_connected():
            async with SimulatedPlc(line.server.endpoint):
                await asyncio.to_thread(release.wait, 30)

        holder = threading.Thread(target=lambda: asyncio.run(plc_stays_connected()))
        holder.start()
        station.window.tabs.setCurrentWidget(line.panel)
        qtbot.waitUntil(lambda: "cycle 3:" in line.panel.cycle_label.text() and line.status.delivered == 3
                        and "1 client(s)" in line.panel.plc_light.text(), timeout=10_000)
        save(station, name)
    finally:
        release.set()
        if holder.ident is not None:
            holder.join(10)
        station.shutdown(save=False)


def test_line_tab_applies_and_saves_settings_without_code(qtbot, engine, calibrated_data_dir, broker):
    from desktop_app.line.config import line_settings as read_line
    from desktop_app.settings import load_settings

    station = make_station(qtbot, engine)  # the line starts off
    try:
        panel = station.line.panel
        assert station.line.status.opcua == "off" and station.line.server is None
        port = free_port()
        panel.opcua_enabled.setChecked(True)
        panel.opcua_port.setValue(port)
        panel.mqtt_enabled.setChecked(True)
        panel.mqtt_port.setValue(broker.port)
        panel.mqtt_topic.setText("plant/{station}/results")
        panel.station_name.setText("cell-4")
        panel.apply_button.click()
        qtbot.waitUntil(lambda: station.line.status.opcua_ok and station.line.status.mqtt_connected, timeout=30_000)
        assert station.line.server.endpoint == f"opc.tcp://127.0.0.1:{port}/anomalygpt/"
        saved = read_line(load_settings())
        assert (saved.opcua_enabled, saved.opcua_port, saved.mqtt_port, saved.topic()) == (
            True, port, broker.port, "plant/cell-4/results")
        panel.opcua_host.setText("0.0.0.0")  # beyond loopback without a password: refused, and said so
        panel.apply_button.click()
        qtbot.waitUntil(lambda: "username and password" in panel.problem_label.text(), timeout=5_000)
        assert station.line.server is None
    finally:
        station.shutdown(save=False)


def test_plc_dropping_mid_cycle_leaves_the_station_consistent_and_says_so(
    qtbot, engine, calibrated_data_dir, broker, fake_camera, tmp_path
):
    """Hardware trigger that never fires: the cycle stays Busy ~2 s while the PLC drops its link."""
    settings = line_settings(broker.port, tmp_path, trigger_source="gige", gige_camera_id="127.0.0.1",
                             gige_interface="127.0.0.1", gige_trigger="Line0")
    station = make_station(qtbot, engine, settings)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok and line.gige is not None and line.gige.is_open,
                        timeout=30_000)
        box: dict = {}

        async def first_plc():
            plc = await SimulatedPlc(line.server.endpoint).connect()
            assert await plc.wait_ready(30)
            await plc.write(PartId="dropped", Trigger=True)
            assert await plc.wait_for(lambda v: v.get("Busy") is True, 5)
            await asyncio.sleep(0.3)
            await plc.disconnect()

        async def second_plc():
            async with SimulatedPlc(line.server.endpoint) as plc:
                assert await plc.wait_for(lambda v: v.get("Done") is True, 10)
                box["result"] = (await plc.read("Result"), await plc.read("ErrorText"), await plc.read("Busy"))
                await plc.write(Trigger=False)
                box["ready"] = await plc.wait_for(lambda v: v.get("Done") is False and v.get("Ready") is True, 5)

        for coroutine in (first_plc, second_plc):
            thread = threading.Thread(target=lambda c=coroutine: box.setdefault("errors", []).append(
                None if asyncio.run(c()) is None else "x"))
            thread.start()
            if coroutine is first_plc:
                qtbot.waitUntil(lambda: "disconnected during cycle" in line.panel.plc_light.text(), timeout=10_000)
            qtbot.waitUntil(lambda t=thread: not t.is_alive(), timeout=30_000)
        result, error_text, busy = box["result"]
        assert result == "ERROR" and "no frame" in error_text and busy is False and box["ready"]
        assert station.controller.counts.total == 0  # no frame, no inspection: nothing half-recorded
    finally:
        station.shutdown(save=False)


def test_trigger_takes_the_station_camera_frame(qtbot, engine, calibrated_data_dir, broker, tmp_path):
    from tests.app.test_capture import write_video

    video = tmp_path / "camera.avi"
    write_video(video, frames=300, size=(320, 240))
    settings = line_settings(broker.port, tmp_path, trigger_source="camera").with_changes(camera_source=str(video))
    station = make_station(qtbot, engine, settings)
    try:
        line = station.line
        qtbot.waitUntil(lambda: line.status.opcua_ok, timeout=30_000)
        (closed,) = run_plc(qtbot, line.server.endpoint, ["no-camera"])
        assert closed.result == "ERROR" and "no camera frame" in closed.error  # never a stale frame
        with qtbot.waitSignal(station.camera.frameReady, timeout=10_000):
            station.controller.toggle_camera()
        (shot,) = run_plc(qtbot, line.server.endpoint, ["from-camera"])
        assert shot.result in ("OK", "NG", "REVIEW")
        record = next(r for r in station.controller.records.values() if r.source == "plc")
        assert record.image.shape == (240, 320, 3)
    finally:
        station.shutdown(save=False)


def test_line_tab_secures_the_plc_link_with_a_certificate_made_here(qtbot, engine, calibrated_data_dir, tmp_path):
    """Security from the Line tab: refused beyond loopback without a certificate, then the station's
    own certificate made with one click, and a PLC that connects with Basic256Sha256 SignAndEncrypt."""
    from desktop_app.line.certificates import create_self_signed, default_paths
    from desktop_app.paths import user_data_dir
    from tests.app.test_screenshots import save

    station = make_station(qtbot, engine, record_history=True)
    try:
        panel, line = station.line.panel, station.line
        panel.opcua_enabled.setChecked(True)
        panel.opcua_port.setValue(free_port())
        panel.opcua_host.setText("0.0.0.0")
        panel.opcua_user.setText("plc")
        panel.opcua_password.setText("s3cret")
        panel.apply_button.click()  # auto security beyond loopback, and no certificate yet: refused
        qtbot.waitUntil(lambda: "Create certificate" in panel.problem_label.text(), timeout=5_000)
        assert line.server is None
        panel.opcua_security.setCurrentIndex(panel.opcua_security.findData("none"))
        panel.apply_button.click()
        qtbot.waitUntil(lambda: "security cannot be off" in panel.problem_label.text(), timeout=5_000)
        assert line.server is None

        panel.certificate_button.click()
        qtbot.waitUntil(lambda: panel.certificate_label.text().startswith("Created"), timeout=30_000)
        cert, key = default_paths(user_data_dir())
        assert cert.is_file() and key.is_file() and panel.opcua_certificate.text() == ""
        panel.opcua_host.setText("127.0.0.1")  # the tests stay on loopback; security is chosen explicitly
        panel.opcua_security.setCurrentIndex(panel.opcua_security.findData("Basic256Sha256"))
        panel.apply_button.click()
        qtbot.waitUntil(lambda: line.status.opcua_ok, timeout=30_000)
        assert "Basic256Sha256 SignAndEncrypt" in panel.plc_light.text() and panel.problem_label.text() == ""

        create_self_signed(tmp_path / "plc.der", tmp_path / "plc.pem", application_uri="urn:test:plc",
                           common_name="plc")
        box: dict = {}

        async def plc():
            async with SimulatedPlc(line.server.endpoint, "plc", "s3cret", certificate=tmp_path / "plc.der",
                                    private_key=tmp_path / "plc.pem") as p:
                assert await p.wait_ready(30)
                box["outcome"] = await p.cycle("S1", serial="SN-SECURE")
            try:
                async with SimulatedPlc(line.server.endpoint, "plc", "s3cret"):  # the same password, in clear
                    box["plain"] = "connected"
            except Exception as exc:
                box["plain"] = type(exc).__name__

        thread = threading.Thread(target=lambda: asyncio.run(plc()))
        thread.start()
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
        assert box["outcome"].result in ("OK", "NG", "REVIEW") and box["plain"] != "connected"
        from desktop_app.history import HistoryFilter

        qtbot.waitUntil(lambda: station.history.store.count(HistoryFilter(serial="SN-SECURE")) == 1, timeout=10_000)
        station.window.tabs.setCurrentWidget(panel)
        qtbot.waitUntil(lambda: "cycle 1:" in panel.cycle_label.text(), timeout=5_000)
        save(station, "16_line_security")
    finally:
        station.shutdown(save=False)
