"""What passes between the OPC UA server and the station: a trigger in, a cycle's result out.

Kept apart from `opcua_server` so the station can name them without importing asyncua (~1 s).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerRequest:
    cycle: int
    part_id: str
    serial: str
    lot: str
    product: str


@dataclass(frozen=True)
class CycleResult:
    verdict: str  # OK / NG / REVIEW / ERROR
    score: float = 0.0
    inspection_id: str = ""
    error: str = ""
