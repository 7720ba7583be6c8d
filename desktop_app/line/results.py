"""From inspection outcomes to queued MQTT messages (Qt-free; called in the engine worker's thread).

The message is committed to the outbox before anyone is told the result, so an inspection the PLC
has seen is never missing from the plant's record, even if the station dies the next moment.
"""

from __future__ import annotations

import threading
from typing import Any

from desktop_app.line.config import LineSettings
from desktop_app.line.messages import (
    PartContext,
    encode,
    error_message,
    inspection_message,
    model_identity,
    new_inspection_id,
)
from desktop_app.line.outbox import Outbox


class ResultQueue:
    """Queues one message per inspection (or failed trigger) and nudges the MQTT publisher."""

    def __init__(self, line: LineSettings, outbox: Outbox, publisher=None, engine_version: str = "") -> None:
        self.line, self.outbox, self.publisher = line, outbox, publisher
        self.engine_version = engine_version
        self._identity: tuple[int, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def inspection(self, record, part: PartContext, refs=None, engine=None) -> str:
        """Queue the message of one InspectionRecord; returns its inspection id."""
        inspection_id = new_inspection_id()
        extra = dict(part.extra)
        if getattr(record, "history_key", None) is not None:
            extra["history_key"] = record.history_key  # the row in the station's history store
        part = PartContext(part.part_id, part.serial, part.lot, part.operator, part.cycle, extra)
        models, line = self.models(refs, engine), self.line

        def payload(seq: int) -> bytes:
            return encode(inspection_message(
                inspection_id=inspection_id, seq=seq, station=line.station, result=record.result, part=part,
                models=models, source=str(record.path or record.source), timestamp=record.timestamp,
            ))

        self._put(inspection_id, payload)
        return inspection_id

    def error(self, part: PartContext, product: str, message: str) -> str:
        """Queue the message of a trigger that produced no verdict; returns its inspection id."""
        inspection_id, line = new_inspection_id(), self.line
        self._put(inspection_id, lambda seq: encode(error_message(
            inspection_id=inspection_id, seq=seq, station=line.station, product=product, part=part, error=message)))
        return inspection_id

    def models(self, refs, engine=None) -> dict[str, Any]:
        """Model identity of the reference set in use, computed once per set."""
        with self._lock:
            if self._identity is not None and self._identity[0] == id(refs):
                return self._identity[1]
            identity = model_identity(None, refs, self.engine_version)
            try:  # the engine's one-line identity (backbone@hash + decoder@hash + llm), where it has one
                from anomalygpt_engine.identity import short_name

                identity["model_version"] = short_name(engine.identity())
            except Exception:
                pass
            self._identity = (id(refs), identity)
            return identity

    def _put(self, inspection_id: str, payload) -> None:
        self.outbox.put(inspection_id, self.line.topic(), payload)
        if self.publisher is not None:
            self.publisher.notify()
