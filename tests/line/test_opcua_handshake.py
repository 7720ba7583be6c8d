"""The PLC handshake over OPC UA on 127.0.0.1: a real asyncua server and a software PLC."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asyncua import ua

from desktop_app.line.config import LineConfigError
from desktop_app.line.local_services import free_port
from desktop_app.line.opcua_server import CycleResult, StationOpcUaServer, TriggerRequest
from desktop_app.line.plc_sim import SimulatedPlc


class FakeStation:
    """Answers each trigger after `delay_s` from another thread, as the engine worker does."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.requests: list[TriggerRequest] = []
        self.server: StationOpcUaServer | None = None
        self.products: list[str] = []

    def on_trigger(self, request: TriggerRequest) -> None:
        self.requests.append(request)

        def answer() -> None:
            time.sleep(self.delay_s)
            verdict = "NG" if request.part_id.endswith("7") else "OK"
            self.server.complete(request.cycle, CycleResult(verdict, 0.8 if verdict == "NG" else 0.1,
                                                            f"insp-{request.part_id}"))

        threading.Thread(target=answer).start()


@pytest.fixture(scope="module")
def running_server():
    """One server for the module: asyncua builds its standard address space in about 3 s."""
    fake = FakeStation()
    server = StationOpcUaServer("127.0.0.1", free_port(), on_trigger=lambda r: fake.on_trigger(r),
                                on_product=lambda name: fake.products.append(name),
                                on_clients=lambda n: fake.clients.append(n))
    fake.server = server
    server.start()
    yield fake, server
    server.stop()


@pytest.fixture
def station(running_server):
    _old, server = running_server
    fake = FakeStation()
    fake.server, fake.clients = server, []
    server.on_trigger = fake.on_trigger
    server.on_product = fake.products.append
    server.on_clients = fake.clients.append
    server.set_available(True)
    time.sleep(0.05)
    yield fake
    server.set_available(False, "between tests")


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_each_trigger_gets_its_own_result(station):
    async def plc():
        async with SimulatedPlc(station.server.endpoint) as p:
            assert await p.wait_ready(5)
            return [await p.cycle(f"part-{i}", serial=f"SN{i}") for i in range(20)]

    outcomes = run(plc())
    assert [o.inspection_id for o in outcomes] == [f"insp-part-{i}" for i in range(20)]
    assert [o.result for o in outcomes] == ["NG" if i == 7 or i == 17 else "OK" for i in range(20)]
    assert [o.cycle - outcomes[0].cycle for o in outcomes] == list(range(20))
    assert [(r.part_id, r.serial) for r in station.requests] == [(f"part-{i}", f"SN{i}") for i in range(20)]
    assert all(o.elapsed_ms < 1000 for o in outcomes)


def test_a_trigger_while_busy_is_refused_and_starts_nothing(station):
    station.delay_s = 0.5

    async def plc():
        async with SimulatedPlc(station.server.endpoint) as p:
            await p.write(PartId="a", Trigger=True)
            assert await p.wait_for(lambda v: v.get("Busy") is True, 5)
            await p.write(Trigger=False)  # a PLC pulsing its trigger ...
            await p.write(PartId="b", Trigger=True)  # ... and pulsing again while the station is busy
            refused = await p.read("ErrorText")
            assert await p.wait_for(lambda v: v.get("Done") is True, 5)
            result = await p.read("InspectionId")
            await p.write(Trigger=False)
            assert await p.wait_for(lambda v: v.get("Done") is False and v.get("Ready") is True, 5)
            return refused, result

    refused, result = run(plc())
    assert "busy" in refused and result == "insp-a" and len(station.requests) == 1


def test_a_plc_that_drops_mid_cycle_finds_its_result_on_reconnect(station):
    station.delay_s = 0.4

    async def plc():
        first = await SimulatedPlc(station.server.endpoint).connect()
        await first.write(PartId="lost-link", Trigger=True)
        assert await first.wait_for(lambda v: v.get("Busy") is True, 5)
        await asyncio.sleep(0.2)
        await first.disconnect()  # the PLC drops the connection mid-cycle
        await asyncio.sleep(0.6)  # the station finishes the cycle meanwhile
        async with SimulatedPlc(station.server.endpoint) as again:
            done, busy = await again.read("Done"), await again.read("Busy")
            result, inspection = await again.read("Result"), await again.read("InspectionId")
            await again.write(Trigger=False)  # the handshake completes as usual
            assert await again.wait_for(lambda v: v.get("Done") is False and v.get("Ready") is True, 5)
            nxt = await again.cycle("after")
            first_cycle = await again.read("Cycle") - 1
        return done, busy, result, inspection, nxt, first_cycle

    done, busy, result, inspection, nxt, first_cycle = run(plc())
    assert (done, busy, result, inspection) == (True, False, "OK", "insp-lost-link")
    assert nxt.inspection_id == "insp-after" and nxt.cycle == first_cycle + 1
    assert 0 in station.clients  # the station noticed the PLC going away


def test_unavailable_station_refuses_with_a_reason(station):
    station.server.set_available(False, "no calibrated product loaded")

    async def plc():
        async with SimulatedPlc(station.server.endpoint) as p:
            assert await p.wait_for(lambda v: v.get("Ready") is False, 5)
            await p.write(Trigger=True)
            await asyncio.sleep(0.1)
            return await p.read("ErrorText"), await p.read("Busy")

    text, busy = run(plc())
    assert "no calibrated product" in text and busy is False and not station.requests


def test_plc_selects_the_product_and_heartbeat_ticks(station):
    async def plc():
        async with SimulatedPlc(station.server.endpoint) as p:
            await p.write(Product="bracket")
            first = await p.read("Heartbeat")
            await asyncio.sleep(1.3)
            return first, await p.read("Heartbeat")

    first, later = run(plc())
    assert station.products == ["bracket"] and later > first


def test_stale_results_are_ignored(station):
    before = station.server.value("InspectionId")
    station.server.complete(10_000, CycleResult("NG", 0.9, "ghost"))
    time.sleep(0.1)
    assert station.server.value("InspectionId") == before != "ghost"


def test_username_and_password_when_configured():
    port = free_port()
    server = StationOpcUaServer("127.0.0.1", port, username="plc", password="s3cret", on_trigger=lambda r: None)
    server.start()
    try:
        async def connect(user: str, password: str) -> bool:
            plc = SimulatedPlc(server.endpoint, user, password)
            try:
                await plc.connect()
            except (ua.UaError, OSError, asyncio.TimeoutError):
                return False
            await plc.disconnect()
            return True

        assert run(connect("plc", "s3cret")) is True
        assert run(connect("plc", "wrong")) is False
    finally:
        server.stop()


def test_listening_beyond_loopback_without_a_password_is_refused_before_binding():
    with pytest.raises(LineConfigError, match="username and password"):
        StationOpcUaServer("0.0.0.0", free_port(), on_trigger=lambda r: None)
