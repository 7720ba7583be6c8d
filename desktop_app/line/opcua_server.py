"""The station's OPC UA server: the PLC handshake (asyncua, on its own asyncio thread, Qt-free).

Address space (namespace `urn:anomalygpt:inspector`, object `Objects/Station`):

| variable     | type    | who writes | meaning                                                      |
|--------------|---------|------------|--------------------------------------------------------------|
| Trigger      | Boolean | PLC        | rising edge: inspect the part in the fixture now              |
| PartId       | String  | PLC        | optional, written before Trigger                              |
| Serial       | String  | PLC        | optional, written before Trigger                              |
| Lot          | String  | PLC        | optional                                                      |
| Product      | String  | PLC/station| the PLC may select the product; the station shows its current |
| Busy         | Boolean | station    | a triggered cycle is running                                  |
| Ready        | Boolean | station    | a rising edge of Trigger will be accepted now                 |
| Done         | Boolean | station    | Result/Score/InspectionId belong to the current trigger       |
| Result       | String  | station    | OK / NG / REVIEW / ERROR                                      |
| Score        | Double  | station    | calibrated score, 0.5 = the product's boundary                |
| InspectionId | String  | station    | the same id as in the MQTT message and the history            |
| Cycle        | UInt32  | station    | trigger count since start                                     |
| Heartbeat    | UInt32  | station    | +1 every second while the station runs                        |
| ErrorText    | String  | station    | why Result is ERROR or a trigger was refused; empty otherwise  |

Security: on loopback the server offers NoSecurity unless asked; beyond loopback it refuses to start
unless the channel is Basic256Sha256 SignAndEncrypt (server certificate + key, see certificates.py)
and the client is authenticated: a username and password, and/or a certificate found in the trusted
clients folder. Security on offers only the encrypted endpoint: a NoSecurity client cannot connect.

Handshake: PLC sets Trigger -> station Busy=1, Ready=0, Done=0 -> station writes Result, Score,
InspectionId, then Busy=0, Done=1, Ready=1 -> PLC reads them and resets Trigger -> Done=0. A trigger
while Busy is refused with ErrorText and never starts a second cycle; a PLC that pulses Trigger
(resets it before the result) gets Done=1 with the result all the same.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from desktop_app.line.config import LineConfigError, is_loopback
from desktop_app.line.handshake import CycleResult, TriggerRequest

log = logging.getLogger(__name__)
NAMESPACE = "urn:anomalygpt:inspector"
_VARIABLES: dict[str, tuple[object, ua.VariantType, bool]] = {  # name: (initial, type, PLC-writable)
    "Trigger": (False, ua.VariantType.Boolean, True),
    "PartId": ("", ua.VariantType.String, True),
    "Serial": ("", ua.VariantType.String, True),
    "Lot": ("", ua.VariantType.String, True),
    "Product": ("", ua.VariantType.String, True),
    "Busy": (False, ua.VariantType.Boolean, False),
    "Ready": (False, ua.VariantType.Boolean, False),
    "Done": (False, ua.VariantType.Boolean, False),
    "Result": ("", ua.VariantType.String, False),
    "Score": (0.0, ua.VariantType.Double, False),
    "InspectionId": ("", ua.VariantType.String, False),
    "Cycle": (0, ua.VariantType.UInt32, False),
    "Heartbeat": (0, ua.VariantType.UInt32, False),
    "ErrorText": ("", ua.VariantType.String, False),
}


class _PasswordUsers:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username == self.username and hmac.compare_digest(str(password or "").encode(), self.password.encode()):
            return User(role=UserRole.User, name=username)
        return None


_OPEN_REQUESTS = (  # discovery a client needs before it can open an encrypted channel
    ua.NodeId(ua.ObjectIds.GetEndpointsRequest_Encoding_DefaultBinary),
    ua.NodeId(ua.ObjectIds.FindServersRequest_Encoding_DefaultBinary),
    ua.NodeId(ua.ObjectIds.FindServersOnNetworkRequest_Encoding_DefaultBinary),
)


def _install_channel_guard() -> None:
    """Make `iserver.channel_guard` (when a server sets one) see every request with its channel.

    asyncua 2.1 offers only the configured endpoints but still serves a session on a NoSecurity
    channel (a client that skips the endpoint check reads and writes everything), and it checks a
    client certificate only as sent in CreateSession, not the one that opened the channel. The
    guard closes both: it runs before any request is served and answers a ServiceFault. Servers
    without a guard (loopback, security off) are untouched."""
    from asyncua.server.uaprocessor import UaProcessor

    if getattr(UaProcessor, "_station_guard", False):
        return
    original = UaProcessor._process_message

    async def guarded(self, typeid, requesthdr, seqhdr, body):
        guard = getattr(self.iserver, "channel_guard", None)
        if guard is not None and typeid not in _OPEN_REQUESTS:
            guard(self._connection.security_policy)
        return await original(self, typeid, requesthdr, seqhdr, body)

    UaProcessor._process_message = guarded
    UaProcessor._station_guard = True


class StationOpcUaServer:
    """Start/stop from any thread; callbacks run in the server's thread and must only hand work over."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4840,
        *,
        username: str = "",
        password: str = "",
        on_trigger: Callable[[TriggerRequest], None],
        on_product: Callable[[str], None] | None = None,
        on_clients: Callable[[int], None] | None = None,
        security: bool = False,
        certificate: Path | str | None = None,
        private_key: Path | str | None = None,
        trusted_clients: Path | str | None = None,
    ) -> None:
        """`security`: Basic256Sha256 SignAndEncrypt with `certificate` / `private_key`;
        `trusted_clients`: a folder of client certificates, the only ones then accepted."""
        from desktop_app.line.certificates import TrustedClients, check_pair

        beyond = not is_loopback(host)
        if beyond and not (username and password) and not trusted_clients:
            raise LineConfigError(f"OPC UA on {host} (beyond loopback) needs a username and password "
                                  "or trusted client certificates")
        if beyond and not security:
            raise LineConfigError(f"OPC UA on {host} (beyond loopback) needs security on (Basic256Sha256)")
        if trusted_clients and not security:
            raise LineConfigError("trusted client certificates need security on (Basic256Sha256)")
        self.certificate_info = None
        self.trusted = None
        if security:
            if not certificate or not private_key:
                raise LineConfigError("OPC UA security needs a server certificate and its private key")
            self.certificate_info = check_pair(Path(certificate), Path(private_key))
            self.trusted = TrustedClients(Path(trusted_clients)) if trusted_clients else None
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.security = security
        self.certificate, self.private_key = certificate, private_key
        self.on_trigger, self.on_product, self.on_clients = on_trigger, on_product, on_clients
        self.endpoint = f"opc.tcp://{host}:{port}/anomalygpt/"
        self.clients = 0
        self._values: dict[str, object] = {name: spec[0] for name, spec in _VARIABLES.items()}
        self._nodes: dict[str, ua.NodeId] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_event: asyncio.Event | None = None
        self._available = False
        self._unavailable_reason = "starting"
        self._cycle = 0

    # -- life cycle (any thread) ---------------------------------------------------------------
    def start(self, timeout: float | None = 30.0) -> None:
        """Start the server thread; wait until it listens (None: return at once, see `running`/`failed`).
        Building asyncua's standard address space takes a few seconds, so a GUI does not wait."""
        self._thread = threading.Thread(target=self._thread_main, name="OpcUaServer", daemon=True)
        self._thread.start()
        if timeout is None:
            return
        if not self._started.wait(timeout):
            raise TimeoutError("the OPC UA server did not start in time")
        if self._start_error is not None:
            raise self._start_error

    @property
    def running(self) -> bool:
        return self._started.is_set() and self._start_error is None and self._thread is not None

    @property
    def failed(self) -> str:
        return "" if self._start_error is None else f"{type(self._start_error).__name__}: {self._start_error}"

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop_event is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout)
        self._thread = None

    def value(self, name: str) -> object:
        return self._values[name]

    # -- station side (any thread) -------------------------------------------------------------
    def complete(self, cycle: int, result: CycleResult) -> None:
        """The result of trigger `cycle`; a stale cycle (already superseded) is ignored."""
        self._call(self._complete(cycle, result))

    def set_available(self, available: bool, reason: str = "") -> None:
        """Whether the station can inspect at all (engine loaded, product calibrated)."""
        self._call(self._set_available(available, reason))

    def set_product(self, name: str) -> None:
        self._call(self._write(Product=name))

    def _call(self, coroutine) -> None:
        if self._loop is None or not self._loop.is_running():
            coroutine.close()
            return
        asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    # -- the server thread ---------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); a failed bind must not pass silently
            self._start_error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = Server(user_manager=_PasswordUsers(self.username, self.password) if self.username else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("AnomalyGPT Inspector station")
        if self.security:
            from desktop_app.line.certificates import station_uri

            # the URI in the certificate: clients that check it (UaExpert, PLC stacks) then agree
            await server.set_application_uri(self.certificate_info.application_uri or station_uri())
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            if self.trusted is not None:
                server.set_certificate_validator(self.trusted)
            _install_channel_guard()
            server.iserver.channel_guard = self._check_channel
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        # a password when one is set; else anonymous (on loopback, or over a channel whose client
        # certificate the trusted folder vouched for)
        server.set_identity_tokens([ua.UserNameIdentityToken] if self.username else [ua.AnonymousIdentityToken])
        index = await server.register_namespace(NAMESPACE)
        station = await server.nodes.objects.add_object(ua.NodeId("Station", index), ua.QualifiedName("Station", index))
        for name, (initial, vtype, writable) in _VARIABLES.items():
            node = await station.add_variable(ua.NodeId(name, index), ua.QualifiedName(name, index),
                                              ua.Variant(initial, vtype))
            if writable:
                await node.set_writable()
            self._nodes[name] = node.nodeid
        aspace = server.iserver.aspace
        aspace.add_datachange_callback(self._nodes["Trigger"], ua.AttributeIds.Value, self._trigger_changed)
        aspace.add_datachange_callback(self._nodes["Product"], ua.AttributeIds.Value, self._product_changed)
        for name in ("PartId", "Serial", "Lot"):
            aspace.add_datachange_callback(self._nodes[name], ua.AttributeIds.Value, self._mirror(name))
        self._server = server
        async with server:
            self._started.set()
            await self._heartbeat_until_stopped()

    def _check_channel(self, policy) -> None:
        """Security on: only an encrypted channel, opened with a trusted certificate when a trusted
        folder is set, gets a session or any service (see _install_channel_guard)."""
        from asyncua.common.utils import ServiceError

        if getattr(policy, "Mode", ua.MessageSecurityMode.None_) != ua.MessageSecurityMode.SignAndEncrypt:
            raise ServiceError(ua.StatusCodes.BadSecurityModeRejected)
        if self.trusted is not None and not self.trusted.accepts(getattr(policy, "peer_certificate", None)):
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    async def _heartbeat_until_stopped(self) -> None:
        beat, tick = 0, 0
        while not self._stop_event.is_set():
            try:
                await asyncio.wait_for(self._stop_event.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
            tick += 1
            if tick % 10 == 0:
                beat = (beat + 1) % 2**32
                await self._write(Heartbeat=beat)
            await self._watch_clients()

    async def _watch_clients(self) -> None:
        bserver = getattr(self._server, "bserver", None)
        clients = len(getattr(bserver, "clients", []) or [])
        if clients != self.clients:
            lost_mid_cycle = clients < self.clients and self._values["Busy"]
            self.clients = clients
            if lost_mid_cycle:
                log.warning("PLC disconnected during cycle %d; its result will wait for it", self._cycle)
            if self.on_clients is not None:
                self.on_clients(clients)

    async def _write(self, **values: object) -> None:
        for name, value in values.items():
            vtype = _VARIABLES[name][1]
            self._values[name] = value
            await self._server.write_attribute_value(self._nodes[name], ua.DataValue(ua.Variant(value, vtype)))

    def _mirror(self, name: str):
        async def changed(_handle, datavalue) -> None:
            self._values[name] = datavalue.Value.Value if datavalue.Value is not None else ""
        return changed

    # -- handshake -----------------------------------------------------------------------------
    async def _trigger_changed(self, _handle, datavalue) -> None:
        value = bool(datavalue.Value.Value) if datavalue.Value is not None else False
        previous = self._values["Trigger"]
        self._values["Trigger"] = value
        if value and not previous:
            await self._rising_edge()
        elif not value and previous and self._values["Done"]:
            await self._write(Done=False)

    async def _rising_edge(self) -> None:
        if self._values["Busy"] or not self._available:
            why = "busy with the previous part" if self._values["Busy"] else self._unavailable_reason
            await self._write(ErrorText=f"trigger refused: {why}")
            return
        self._cycle += 1
        request = TriggerRequest(self._cycle, str(self._values["PartId"]), str(self._values["Serial"]),
                                 str(self._values["Lot"]), str(self._values["Product"]))
        await self._write(Busy=True, Ready=False, Done=False, Result="", ErrorText="", Cycle=self._cycle)
        try:
            self.on_trigger(request)
        except Exception as exc:
            log.exception("trigger handler failed")
            await self._complete(request.cycle, CycleResult("ERROR", error=f"trigger failed: {exc}"))

    async def _complete(self, cycle: int, result: CycleResult) -> None:
        if cycle != self._cycle or not self._values["Busy"]:
            log.warning("ignoring the result of cycle %d (current cycle %d)", cycle, self._cycle)
            return
        await self._write(Result=result.verdict, Score=float(result.score), InspectionId=result.inspection_id,
                          ErrorText=result.error)
        await self._write(Busy=False, Done=True, Ready=self._available)

    async def _set_available(self, available: bool, reason: str) -> None:
        self._available, self._unavailable_reason = available, reason or "station not ready"
        await self._write(Ready=available and not self._values["Busy"])
        if not available and not self._values["Busy"]:
            await self._write(ErrorText=self._unavailable_reason)
        elif available and self._values["ErrorText"].startswith(("trigger refused", "station", "no ")):
            await self._write(ErrorText="")

    async def _product_changed(self, _handle, datavalue) -> None:
        name = str(datavalue.Value.Value) if datavalue.Value is not None else ""
        previous, self._values["Product"] = self._values["Product"], name
        if name != previous and self.on_product is not None and name:
            self.on_product(name)
