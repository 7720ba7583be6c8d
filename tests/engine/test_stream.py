"""Stream evidence: the guard's bounds, defective runs that teach nothing, freeze/reset, persistence."""
from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine import EngineConfig
from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.stream import StreamEvidence
from anomalygpt_engine.types import InspectionResult, Verdict
from tests.engine.conftest import texture_part, with_defect

CONFIG = EngineConfig(stream_pool=True, stream_min_pool=2, stream_min_scores=5, stream_bounds=(0.8, 1.1),
                      stream_spread=3.0)


def _result(raw: float, verdict: Verdict) -> InspectionResult:
    return InspectionResult(verdict=verdict, score=0.1, anomaly_map=np.zeros((4, 4), np.float32), regions=(),
                            image_size=(4, 4), product="p", latency_ms=1.0, raw_score=raw)


def _layers(value: float = 1.0):
    import torch

    return [torch.full((1, 3, 2, 2), value)]


def test_boundary_learns_from_good_parts_within_the_bounds():
    stream = StreamEvidence(Calibration(boundary=1.0, scale=0.1), CONFIG)
    for raw in [0.2, 0.21, 0.19, 0.2, 0.22, 0.2, 0.18, 0.2]:
        stream.observe(_layers(), _result(raw, Verdict.OK))
    assert stream.boundary == pytest.approx(0.8), "far below the reference: held at the lower bound"
    assert "guard" in stream.changes[-1].reason
    assert stream.calibration(stream.reference).boundary == pytest.approx(0.8)


def test_a_run_of_defective_parts_does_not_move_the_boundary():
    stream = StreamEvidence(Calibration(boundary=1.0, scale=0.1), CONFIG)
    for raw in [0.9, 0.95, 0.9, 0.92, 0.91, 0.93]:
        stream.observe(_layers(), _result(raw, Verdict.OK))
    learned = stream.boundary
    changes = len(stream.changes)
    for raw in [3.0] * 20:
        stream.observe(_layers(), _result(raw, Verdict.NG))
        stream.observe(_layers(), _result(raw * 0.4, Verdict.REVIEW))
    assert stream.boundary == learned and len(stream.changes) == changes
    assert len(stream.pool) == 6, "NG and REVIEW parts never join the pool"


def test_freeze_reset_and_restart(tmp_path):
    stream = StreamEvidence(Calibration(boundary=1.0, scale=0.1), CONFIG)
    for raw in [0.9, 0.95, 0.9, 0.92, 0.91, 0.93, 0.94]:
        stream.observe(_layers(), _result(raw, Verdict.OK))
    stream.freeze()
    before = (stream.boundary, len(stream.pool), len(stream.scores))
    stream.observe(_layers(), _result(0.5, Verdict.OK))
    assert (stream.boundary, len(stream.pool), len(stream.scores)) == before, "frozen: nothing is learned"
    stream.save(tmp_path)
    again = StreamEvidence.load(tmp_path, Calibration(boundary=1.0, scale=0.1), CONFIG)
    assert again.boundary == stream.boundary and again.frozen and len(again.pool) == len(stream.pool)
    assert [c.reason for c in again.changes] == [c.reason for c in stream.changes]
    recalibrated = StreamEvidence.load(tmp_path, Calibration(boundary=2.0, scale=0.1), CONFIG)
    assert recalibrated.boundary is None and len(recalibrated.pool) == 0
    again.reset()
    assert again.boundary is None and len(again.pool) == 0 and "reset" in again.changes[-1].reason


@pytest.mark.parametrize("pool", [True, False], ids=["with-pool", "default"])
def test_engine_stream_learns_and_still_catches_defects(engine, brick_refs, pool):
    stream = StreamEvidence(brick_refs.calibration, engine.config.with_changes(stream_min_scores=6, stream_pool=pool))
    goods = [engine.inspect(texture_part(seed), brick_refs, stream=stream) for seed in range(40, 52)]
    assert (len(stream.pool) >= 8 if pool else len(stream.pool) == 0) and stream.boundary is not None
    low, high = stream.bounds
    assert low <= stream.boundary <= high
    pooled = len(stream.pool)
    bad = [engine.inspect(with_defect(texture_part(seed), (120, 60)), brick_refs, stream=stream)
           for seed in range(60, 65)]
    assert all(r.verdict.is_defective for r in bad)
    assert len(stream.pool) == pooled
    assert sum(r.verdict is Verdict.OK for r in goods) >= 10


def test_without_the_pool_good_parts_teach_the_boundary_from_the_first_part():
    """stream_pool off: no patch pool is kept (nothing to score against), yet every part judged OK
    teaches the boundary, which moves once stream_min_scores parts have been seen."""
    config = CONFIG.with_changes(stream_pool=False, stream_min_scores=4, stream_bounds=(0.7, 1.3))
    stream = StreamEvidence(Calibration(boundary=1.0, scale=0.1), config)
    for raw in [0.9, 0.95, 0.9, 0.92]:
        stream.observe(_layers(), _result(raw, Verdict.OK))
        assert not stream.pool_ready and len(stream.pool) == 0
    assert len(stream.scores) == 4 and stream.boundary is not None
    assert 0.92 < stream.boundary < 1.0
    stream.observe(_layers(), _result(5.0, Verdict.NG))
    assert len(stream.scores) == 4, "NG parts never teach"
