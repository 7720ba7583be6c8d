"""Stream evidence: a product's recent good parts teach the boundary (and, optionally, score parts).

At the line, parts come one at a time. The raw scores of the parts judged OK teach the boundary the
spread of good parts: median + `stream_spread` robust sigmas (1.4826 x MAD), which a truncated sample
(only OK parts are kept) barely biases; the lot uses the same rule on its good half. With
`stream_pool`, the last `stream_capacity` parts judged OK also form a pool that scores the next part
(evidence.py). A quality system's guards: parts judged NG or REVIEW never teach; the boundary stays
within `stream_bounds` x the reference boundary; every move is recorded (old, new, why, when, how
many parts); an engineer can freeze or reset it; and `save` / `load` keep it across restarts.
"""
from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from anomalygpt_engine.calibration import Calibration, good_spread_boundary, logit_scale
from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.evidence import PatchPool
from anomalygpt_engine.types import InspectionResult, Verdict

MAX_SCORES = 400  # good parts' scores kept for the boundary
MIN_MOVE = 0.005  # relative boundary changes below this are not worth a record
STATE_FILE, POOL_FILE = "stream.json", "stream_pool.safetensors"


@dataclass(frozen=True)
class BoundaryChange:
    """One recorded move of the stream's boundary (raw units)."""

    at: float
    old: float
    new: float
    reason: str
    parts: int


class StreamEvidence:
    """Per product: the pool of recent good parts and the guarded, learned boundary."""

    def __init__(self, reference: Calibration, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.reference = reference
        self.pool = PatchPool([])
        self.scores: deque[float] = deque(maxlen=MAX_SCORES)
        self.boundary: float | None = None  # None: the reference boundary applies
        self.frozen = False
        self.changes: list[BoundaryChange] = []
        self.seen = 0

    @property
    def pool_ready(self) -> bool:
        """Whether the pool scores the next part: only with `stream_pool` on and enough parts in it."""
        return self.config.stream_pool and len(self.pool) >= self.config.stream_min_pool

    @property
    def bounds(self) -> tuple[float, float]:
        low, high = self.config.stream_bounds
        return low * self.reference.boundary, high * self.reference.boundary

    def calibration(self, reference: Calibration) -> Calibration:
        """The calibration to judge the next part with: the reference one until the stream learned."""
        if abs(reference.boundary - self.reference.boundary) > 1e-9:
            self.reset(reference, reason="the reference set was recalibrated")
        if self.boundary is None:
            return reference
        scale = logit_scale(self.boundary, float(np.median(self.scores)))
        return replace(reference, boundary=self.boundary, scale=scale, method="stream")

    def observe(self, layers: list[torch.Tensor], result: InspectionResult, part_id: str = "") -> None:
        """Learn from one judged part: only parts judged OK teach, and only while not frozen."""
        self.seen += 1
        if self.frozen or result.verdict is not Verdict.OK:
            return
        if self.pool_ready or not self.config.stream_pool:  # scored as the parts to come will be
            self.scores.append(float(result.raw_score))
        if self.config.stream_pool:
            self.pool.append([fm.detach().float().cpu() for fm in layers], part_id or str(self.seen),
                             self.config.stream_capacity)
        self._relearn()

    def _relearn(self) -> None:
        if len(self.scores) < self.config.stream_min_scores:
            return
        learned, median, sigma = good_spread_boundary(self.scores, self.reference.boundary,
                                                      self.config.stream_spread, self.config.stream_bounds)
        old = self.reference.boundary if self.boundary is None else self.boundary
        if abs(learned - old) > MIN_MOVE * self.reference.boundary:
            clamp = " (held at the guard's bound)" if learned in self.bounds else ""
            self._record(old, learned, f"learned from {len(self.scores)} good parts: median {median:.4f}, "
                                       f"robust sigma {sigma:.4f}{clamp}")
            self.boundary = learned

    def _record(self, old: float, new: float, reason: str) -> None:
        self.changes.append(BoundaryChange(time.time(), old, new, reason, len(self.scores)))

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or resume) learning: the pool and the boundary stay as they are."""
        if frozen != self.frozen:
            self.frozen = frozen
            current = self.boundary if self.boundary is not None else self.reference.boundary
            self._record(current, current, "frozen by an engineer" if frozen else "unfrozen by an engineer")

    def reset(self, reference: Calibration | None = None, reason: str = "reset by an engineer") -> None:
        """Forget the pool and the learned boundary; the reference calibration applies again."""
        old = self.boundary if self.boundary is not None else self.reference.boundary
        self.reference = reference or self.reference
        self.pool, self.boundary = PatchPool([]), None
        self.scores.clear()
        self._record(old, self.reference.boundary, reason)

    # -- persistence ------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.pool):
            save_file({f"layer{i}": t.contiguous() for i, t in enumerate(self.pool.layers)}, str(folder / POOL_FILE))
        state = {"reference_boundary": self.reference.boundary, "boundary": self.boundary, "frozen": self.frozen,
                 "scores": list(self.scores), "ids": self.pool.ids, "seen": self.seen,
                 "changes": [asdict(c) for c in self.changes]}
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(folder / STATE_FILE)
        return folder

    @classmethod
    def load(cls, folder: str | Path, reference: Calibration, config: EngineConfig | None = None) -> StreamEvidence:
        """Restore a saved stream; a stream saved for another reference calibration starts afresh."""
        stream = cls(reference, config)
        folder = Path(folder)
        if not (folder / STATE_FILE).is_file():
            return stream
        try:
            state = json.loads((folder / STATE_FILE).read_text())
            stream.changes = [BoundaryChange(**c) for c in state.get("changes", [])]
            if abs(float(state["reference_boundary"]) - reference.boundary) > 1e-9:
                stream.reset(reference, reason="the reference set was recalibrated since the stream was saved")
                return stream
            stream.boundary = state["boundary"]
            stream.frozen = bool(state["frozen"])
            stream.scores.extend(float(v) for v in state["scores"])
            stream.seen = int(state.get("seen", 0))
            if (folder / POOL_FILE).is_file():
                tensors = load_file(str(folder / POOL_FILE))
                stream.pool = PatchPool([tensors[f"layer{i}"] for i in range(len(tensors))], list(state["ids"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReferenceSetError(f"stream state in {folder} is unreadable: {exc}") from exc
        return stream
