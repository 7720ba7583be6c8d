"""The one JSON message a station publishes per inspection (Qt-free, engine types in, bytes out)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA = "anomalygpt.inspection/1"


def new_inspection_id() -> str:
    """Globally unique, so consumers can de-duplicate across stations and restarts."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class PartContext:
    """What the line told the station about the part (all optional)."""

    part_id: str = ""
    serial: str = ""
    lot: str = ""
    operator: str = ""
    cycle: int = 0  # the station's OPC UA trigger cycle, 0 when not triggered by the PLC
    extra: dict[str, Any] = field(default_factory=dict)


def model_identity(result, refs=None, engine_version: str = "") -> dict[str, Any]:
    """Which models and reference set produced the verdict (enough to reproduce or audit it)."""
    identity: dict[str, Any] = {"engine_version": engine_version, "mode": getattr(result, "mode", "")}
    fingerprint = getattr(refs, "fingerprint", None)
    if isinstance(fingerprint, dict):
        identity.update({k: v for k, v in fingerprint.items() if isinstance(v, (str, int, float, list))})
    if refs is not None:
        identity["references"] = int(getattr(refs, "size", 0))
    return identity


def inspection_message(
    *,
    inspection_id: str,
    seq: int,
    station: str,
    result,
    part: PartContext,
    models: dict[str, Any],
    source: str = "",
    timestamp: float | None = None,
) -> dict[str, Any]:
    """The message as a dict; `encode()` makes the bytes. Verdict is OK / NG / REVIEW."""
    when = datetime.fromtimestamp(timestamp, timezone.utc) if timestamp else datetime.now(timezone.utc)
    verdict = getattr(result.verdict, "value", str(result.verdict))
    return {
        "schema": SCHEMA,
        "inspection_id": inspection_id,
        "seq": seq,
        "station": station,
        "timestamp": when.isoformat(timespec="milliseconds"),
        "product": result.product,
        "verdict": verdict,
        "score": round(float(result.score), 4),
        "latency_ms": round(float(result.latency_ms), 1),
        "regions": [
            {
                "bbox": [int(v) for v in r.bbox],
                "area_fraction": round(float(r.area_fraction), 5),
                "location": r.location,
                "peak_score": round(float(r.peak_score), 4),
            }
            for r in result.regions
        ],
        "image_size": list(result.image_size),
        "part_id": part.part_id,
        "serial": part.serial,
        "lot": part.lot,
        "operator": part.operator,
        "cycle": part.cycle,
        "source": source,
        "models": models,
        **({"extra": part.extra} if part.extra else {}),
    }


def error_message(*, inspection_id: str, seq: int, station: str, product: str, part: PartContext,
                  error: str) -> dict[str, Any]:
    """A trigger that produced no verdict (no frame, unreadable file, engine failure)."""
    return {
        "schema": SCHEMA,
        "inspection_id": inspection_id,
        "seq": seq,
        "station": station,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "product": product,
        "verdict": "ERROR",
        "error": error,
        "part_id": part.part_id,
        "serial": part.serial,
        "lot": part.lot,
        "operator": part.operator,
        "cycle": part.cycle,
    }


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
