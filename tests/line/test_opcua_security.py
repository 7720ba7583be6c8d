"""OPC UA security on 127.0.0.1: the station's self-signed certificate, Basic256Sha256
SignAndEncrypt with asyncua's own client, trusted client certificates, passwords over the encrypted
channel, and the rules that keep a server beyond loopback from starting open."""

from __future__ import annotations

import asyncio
import stat
import threading
import time
from pathlib import Path

import pytest
from asyncua import Client, ua

from desktop_app.line.certificates import check_pair, create_self_signed, describe, station_uri
from desktop_app.line.config import LineConfigError, LineSettings
from desktop_app.line.local_services import free_port
from desktop_app.line.opcua_server import NAMESPACE, CycleResult, StationOpcUaServer, TriggerRequest
from desktop_app.line.plc_sim import SimulatedPlc


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """The station's pair, one trusted PLC (in trusted/) and one stranger, all made here."""
    folder = tmp_path_factory.mktemp("certs")
    (folder / "trusted").mkdir()
    create_self_signed(folder / "station.der", folder / "station.pem", application_uri=station_uri("st"),
                       common_name="station")
    create_self_signed(folder / "trusted" / "plc.der", folder / "plc.pem", application_uri="urn:test:plc",
                       common_name="plc")
    create_self_signed(folder / "stranger.der", folder / "stranger.pem", application_uri="urn:test:stranger",
                       common_name="stranger")
    return folder


def _answering_server(**kw) -> StationOpcUaServer:
    """A started server whose station answers every trigger OK at once (from another thread)."""
    box: dict = {}

    def on_trigger(request: TriggerRequest) -> None:
        threading.Thread(target=lambda: box["server"].complete(
            request.cycle, CycleResult("OK", 0.1, f"id-{request.part_id}"))).start()

    server = StationOpcUaServer("127.0.0.1", free_port(), on_trigger=on_trigger, **kw)
    box["server"] = server
    server.start()
    server.set_available(True)
    return server


@pytest.fixture(scope="module")
def trusted_server(certs):
    server = _answering_server(security=True, certificate=certs / "station.der", private_key=certs / "station.pem",
                               trusted_clients=certs / "trusted")
    yield server
    server.stop()


async def _attempt(endpoint: str, **kw) -> str:
    """'ok' after a whole handshake cycle, else the status the server answered."""
    plc = SimulatedPlc(endpoint, **kw)
    try:
        await plc.connect()
    except (ua.UaError, OSError, asyncio.TimeoutError) as exc:
        return type(exc).__name__
    try:
        assert await plc.wait_ready(10)
        outcome = await plc.cycle("P1", serial="SN-1")
        return "ok" if outcome.result == "OK" and outcome.inspection_id == "id-P1" else f"bad {outcome}"
    finally:
        await plc.disconnect()


def test_self_signed_certificate_is_a_usable_opc_ua_application_certificate(certs):
    info = check_pair(certs / "station.der", certs / "station.pem")
    assert info.application_uri == station_uri("st") and info.common_name == "station"
    assert stat.S_IMODE((certs / "station.pem").stat().st_mode) == 0o600  # the key is the owner's only
    assert describe(certs / "station.der").fingerprint != describe(certs / "stranger.der").fingerprint
    with pytest.raises(LineConfigError, match="does not belong"):
        check_pair(certs / "station.der", certs / "stranger.pem")
    with pytest.raises(LineConfigError, match="Create certificate"):
        check_pair(certs / "missing.der", certs / "station.pem")


def test_trusted_client_runs_a_cycle_over_basic256sha256_sign_and_encrypt(trusted_server, certs):
    endpoint = trusted_server.endpoint
    assert run(_attempt(endpoint, certificate=certs / "trusted" / "plc.der", private_key=certs / "plc.pem")) == "ok"
    assert run(_attempt(endpoint, certificate=certs / "stranger.der",
                        private_key=certs / "stranger.pem")) == "BadCertificateUntrusted"
    assert run(_attempt(endpoint)) in ("BadSecurityModeRejected", "UaError")  # plain client: no session


def test_a_client_that_skips_the_endpoint_check_gets_nothing_without_encryption(trusted_server, monkeypatch):
    """asyncua alone would serve this NoSecurity session; the station's channel guard refuses it."""
    monkeypatch.setattr(Client, "find_endpoint", staticmethod(lambda endpoints, mode, uri: list(endpoints)[0]))
    before = trusted_server.value("Cycle")

    async def rogue() -> str:
        client = Client(trusted_server.endpoint, timeout=5)
        try:
            await client.connect()
            index = await client.get_namespace_index(NAMESPACE)
            await client.get_node(ua.NodeId("Trigger", index)).write_value(True)
            return "served"
        except ua.UaStatusCodeError as exc:
            return type(exc).__name__
        finally:
            try:
                await client.disconnect()
            except Exception:
                pass

    assert run(rogue()) == "BadSecurityModeRejected"
    time.sleep(0.2)
    assert trusted_server.value("Cycle") == before and trusted_server.value("Trigger") is False


def test_password_over_the_encrypted_channel(certs):
    server = _answering_server(username="plc", password="s3cret", security=True,
                               certificate=certs / "station.der", private_key=certs / "station.pem")
    try:
        cert = {"certificate": certs / "stranger.der", "private_key": certs / "stranger.pem"}  # no trust list
        assert run(_attempt(server.endpoint, username="plc", password="s3cret", **cert)) == "ok"
        assert run(_attempt(server.endpoint, username="plc", password="wrong", **cert)) != "ok"
        assert run(_attempt(server.endpoint, username="plc", password="s3cret")) != "ok"  # unencrypted
    finally:
        server.stop()


def test_beyond_loopback_the_server_never_starts_open(certs):
    pair = {"certificate": certs / "station.der", "private_key": certs / "station.pem"}
    with pytest.raises(LineConfigError, match="security on"):
        StationOpcUaServer("0.0.0.0", free_port(), username="plc", password="pw", on_trigger=print)
    with pytest.raises(LineConfigError, match="username and password or trusted client"):
        StationOpcUaServer("0.0.0.0", free_port(), security=True, on_trigger=print, **pair)
    with pytest.raises(LineConfigError, match="Create certificate"):
        StationOpcUaServer("0.0.0.0", free_port(), username="plc", password="pw", security=True, on_trigger=print,
                           certificate=certs / "none.der", private_key=certs / "none.pem")
    empty = certs / "no-plc-yet"
    empty.mkdir(exist_ok=True)
    with pytest.raises(LineConfigError, match="no client certificate"):
        StationOpcUaServer("0.0.0.0", free_port(), security=True, trusted_clients=empty, on_trigger=print, **pair)
    # accepted (constructed, not started): encrypted, and the client is authenticated
    StationOpcUaServer("0.0.0.0", free_port(), security=True, trusted_clients=certs / "trusted", on_trigger=print,
                       **pair)


@pytest.mark.parametrize("changes, problem", [
    ({"opcua_host": "127.0.0.1"}, None),  # loopback: off by default
    ({"opcua_host": "0.0.0.0"}, "username and password, or a folder of trusted client certificates"),
    ({"opcua_host": "0.0.0.0", "opcua_username": "plc", "opcua_password": "pw"}, None),  # auto: encrypted
    ({"opcua_host": "0.0.0.0", "opcua_trusted_clients": "/plc-certs"}, None),
    ({"opcua_host": "0.0.0.0", "opcua_username": "plc", "opcua_password": "pw", "opcua_security": "none"},
     "security cannot be off"),
    ({"opcua_host": "127.0.0.1", "opcua_username": "plc"}, "both a username and a password"),
    ({"opcua_host": "127.0.0.1", "opcua_security": "TLS"}, "must be one of"),
])
def test_settings_say_what_is_missing(changes, problem):
    line = LineSettings(opcua_enabled=True, **changes)
    problems = line.validate()
    assert (problem is None and not problems) or any(problem in p for p in problems), problems
    assert line.opcua_encrypted is (changes["opcua_host"] != "127.0.0.1" and changes.get("opcua_security") != "none")
