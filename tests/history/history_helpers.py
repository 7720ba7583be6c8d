"""Synthetic engine results and a one-call recorder, shared by the history tests (and the app tests)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from anomalygpt_engine.types import DECISION_BOUNDARY, InspectionResult, Region, Verdict
from desktop_app.history import HistoryStore


def make_result(verdict: str = "NG", score: float = 0.8, product: str = "bracket", size: int = 48,
                seed: int = 0) -> tuple[InspectionResult, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (size, size + 16, 3), dtype=np.uint8)
    amap = np.zeros((size, size + 16), np.float32)
    if verdict != "OK":
        amap[size // 4:size // 2, size // 4:size // 2] = score
    region = Region((size // 4, size // 4, size // 4, size // 4), (size // 4) ** 2, 0.06,
                    (size * 0.375, size * 0.375), "top left", score)
    result = InspectionResult(Verdict(verdict), score, amap, (region,) if verdict != "OK" else (),
                              (size + 16, size), product, latency_ms=12.5, raw_score=score * 2)
    return result, image


def record(store: HistoryStore, verdict: str = "NG", score: float = 0.8, product: str = "bracket",
           seed: int = 0, **kw) -> int:
    result, image = make_result(verdict, score, product, seed=seed)
    kw.setdefault("station", "st1")
    kw.setdefault("operator", "ann")
    kw.setdefault("source", "camera0")
    kw.setdefault("boundary", DECISION_BOUNDARY)
    return store.record_inspection(result, image, engine_version="0.1.0", model_version="lite0", **kw)


def at(hours: float) -> dt.datetime:
    return dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.timezone.utc) + dt.timedelta(hours=hours)
