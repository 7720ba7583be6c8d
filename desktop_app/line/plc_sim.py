"""A PLC played in software (asyncua client): runs the station's trigger handshake, for tests,
the benchmark and commissioning without a PLC. Loopback endpoints in tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from asyncua import Client, ua

from desktop_app.line.opcua_server import NAMESPACE


@dataclass(frozen=True)
class CycleOutcome:
    part_id: str
    result: str
    score: float
    inspection_id: str
    cycle: int
    error: str
    elapsed_ms: float  # Trigger written -> Done seen


class _Watch:
    """Subscription handler: remembers the newest value of each watched variable."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.names: dict[object, str] = {}
        self.changed = asyncio.Event()

    def datachange_notification(self, node, value, _data) -> None:
        self.values[self.names[node.nodeid]] = value
        self.changed.set()


class SimulatedPlc:
    """`async with SimulatedPlc(endpoint) as plc: outcome = await plc.cycle("part-1")`."""

    def __init__(self, endpoint: str, username: str = "", password: str = "", period_ms: float = 5,
                 certificate: Path | str | None = None, private_key: Path | str | None = None) -> None:
        """`certificate` / `private_key`: connect with Basic256Sha256 SignAndEncrypt as that client."""
        self.endpoint, self.period_ms = endpoint, period_ms
        self.client = Client(endpoint, timeout=10)
        self.certificate, self.private_key = certificate, private_key
        if username:
            self.client.set_user(username)
            self.client.set_password(password)
        self.nodes: dict[str, object] = {}
        self.watch = _Watch()
        self._subscription = None

    async def connect(self) -> SimulatedPlc:
        if self.certificate is not None:
            from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

            from desktop_app.line.certificates import describe

            uri = describe(Path(self.certificate)).application_uri
            if uri:  # a client's ApplicationUri is the one in its certificate
                self.client.application_uri = uri
            await self.client.set_security(SecurityPolicyBasic256Sha256, str(self.certificate),
                                           str(self.private_key), mode=ua.MessageSecurityMode.SignAndEncrypt)
        await self.client.connect()
        index = await self.client.get_namespace_index(NAMESPACE)
        for name in ("Trigger", "PartId", "Serial", "Lot", "Product", "Busy", "Ready", "Done", "Result", "Score",
                     "InspectionId", "Cycle", "Heartbeat", "ErrorText"):
            self.nodes[name] = self.client.get_node(ua.NodeId(name, index))
        self._subscription = await self.client.create_subscription(self.period_ms, self.watch)
        watched = [self.nodes[n] for n in ("Done", "Busy", "Ready", "InspectionId", "ErrorText")]
        for node in watched:
            self.watch.names[node.nodeid] = next(k for k, v in self.nodes.items() if v is node)
        await self._subscription.subscribe_data_change(watched, queuesize=10)
        await self.wait_for(lambda v: "Done" in v and "Ready" in v, 5.0)
        return self

    async def disconnect(self) -> None:
        try:
            await self.client.disconnect()
        except Exception:  # the station may already be gone; a PLC simply drops the line then
            pass

    async def __aenter__(self) -> SimulatedPlc:
        return await self.connect()

    async def __aexit__(self, *_exc) -> None:
        await self.disconnect()

    async def write(self, **values: object) -> None:
        types = {bool: ua.VariantType.Boolean, str: ua.VariantType.String}
        nodes = [self.nodes[name] for name in values]
        data = [ua.DataValue(ua.Variant(v, types[type(v)])) for v in values.values()]
        await self.client.write_values(nodes, data)

    async def read(self, name: str) -> object:
        return await self.nodes[name].read_value()

    async def wait_for(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition(self.watch.values):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.watch.changed.clear()
            try:
                await asyncio.wait_for(self.watch.changed.wait(), remaining)
            except asyncio.TimeoutError:
                return False
        return True

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        return await self.wait_for(lambda v: v.get("Ready") is True and v.get("Busy") is False, timeout)

    async def cycle(self, part_id: str = "", serial: str = "", timeout: float = 30.0, lot: str = "") -> CycleOutcome:
        """One part: write its ids and Trigger, wait for Done, read the result, reset Trigger."""
        start = time.perf_counter()
        await self.write(PartId=part_id, Serial=serial, Lot=lot, Trigger=True)
        done = await self.wait_for(lambda v: v.get("Done") is True, timeout)
        elapsed = (time.perf_counter() - start) * 1000
        if not done:
            await self.write(Trigger=False)
            raise TimeoutError(f"no result for part {part_id!r} within {timeout} s")
        result, score, inspection_id, cycle, error = [
            await n.read_value() for n in (self.nodes[k] for k in ("Result", "Score", "InspectionId", "Cycle",
                                                                    "ErrorText"))
        ]
        await self.write(Trigger=False)
        await self.wait_for(lambda v: v.get("Done") is False, timeout)
        return CycleOutcome(part_id, result, score, inspection_id, cycle, error, elapsed)
