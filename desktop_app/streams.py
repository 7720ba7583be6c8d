"""The station's stream evidence: one StreamEvidence per product, kept on disk across restarts.

Lives with the worker (only the worker thread touches the streams while inspecting); the GUI asks
for freeze / reset through the worker like any other request. Each product's stream sits in
`<folder>/<product key>/` (stream.json + the pool's safetensors); a stream saved for an older
calibration of the product starts afresh (StreamEvidence.load decides).
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from anomalygpt_engine import EngineConfig, ReferenceSet
from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.stream import BoundaryChange, StreamEvidence

log = logging.getLogger(__name__)
SAVE_EVERY_S = 10.0  # a crash loses at most this much stream learning; a boundary move saves at once


def product_key(product: str) -> str:
    """A folder name for any product name (names may hold characters a file system refuses)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in product)[:40]
    return f"{safe}-{hashlib.sha1(product.encode()).hexdigest()[:8]}"


class StationStreams:
    """Per-product streams, loaded lazily and saved after boundary moves and at most every 10 s."""

    def __init__(self, config: EngineConfig, folder: Path | None) -> None:
        self.config = config
        self.folder = folder
        self._streams: dict[str, StreamEvidence] = {}
        self._saved_at: dict[str, float] = {}
        self._changes_saved: dict[str, int] = {}

    def stream_for(self, refs: ReferenceSet) -> StreamEvidence:
        stream = self._streams.get(refs.product)
        if stream is None:
            stream = self._load(refs)
            self._streams[refs.product] = stream
            self._changes_saved[refs.product] = len(stream.changes)
        return stream

    def _load(self, refs: ReferenceSet) -> StreamEvidence:
        if self.folder is None:
            return StreamEvidence(refs.calibration, self.config)
        try:
            return StreamEvidence.load(self.folder / product_key(refs.product), refs.calibration, self.config)
        except ReferenceSetError as exc:  # a damaged stream file costs its learning, never the station
            log.warning("%s; starting the stream afresh", exc)
            return StreamEvidence(refs.calibration, self.config)

    def saved(self, product: str, force: bool = False) -> None:
        """Persist after an inspection: at once when the boundary moved, else at most every 10 s."""
        stream = self._streams.get(product)
        if stream is None or self.folder is None:
            return
        moved = len(stream.changes) != self._changes_saved.get(product, 0)
        if force or moved or time.monotonic() - self._saved_at.get(product, 0.0) > SAVE_EVERY_S:
            try:
                stream.save(self.folder / product_key(product))
            except OSError as exc:
                log.warning("could not save the stream of %r: %s", product, exc)
                return
            self._saved_at[product] = time.monotonic()
            self._changes_saved[product] = len(stream.changes)

    def save_all(self) -> None:
        """At shutdown: every stream as it stands."""
        for product in list(self._streams):
            self.saved(product, force=True)

    def freeze(self, refs: ReferenceSet, frozen: bool) -> list[BoundaryChange]:
        stream = self.stream_for(refs)
        stream.freeze(frozen)
        self.saved(refs.product, force=True)
        return list(stream.changes)

    def reset(self, refs: ReferenceSet) -> list[BoundaryChange]:
        stream = self.stream_for(refs)
        stream.reset()
        self.saved(refs.product, force=True)
        return list(stream.changes)

    def status(self, refs: ReferenceSet) -> dict:
        """What the reference manager shows: pool size, boundaries, frozen, and the change log."""
        stream = self.stream_for(refs)
        return {"pool": len(stream.pool), "good_scores": len(stream.scores), "frozen": stream.frozen,
                "reference_boundary": stream.reference.boundary, "boundary": stream.boundary,
                "bounds": stream.bounds, "changes": list(stream.changes)}
