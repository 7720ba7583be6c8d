"""Regression floor on the real evaluation data (../shared/data); skipped where it is absent.

The floors sit a little under what the default engine measured: 1-shot mvtec15 over seeds 0-1,
image AUROC 91.3, accuracy 76.7 (2026-12-02, subspace-bounded distances and the held-out-weighted
1-shot tail rule, issue 11). A drop below them means a change made detection worse.
"""
from __future__ import annotations

import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.evaluation.datasets import discover_categories
from anomalygpt_engine.evaluation.runner import evaluate
from anomalygpt_engine.generators import drain

pytestmark = pytest.mark.data


def test_one_shot_mvtec15_stays_above_floor(shared_data):
    engine = Engine(EngineConfig(device="cpu"))
    categories = discover_categories(shared_data / "mvtec15")
    assert len(categories) == 15
    report = drain(evaluate(engine, categories, shots=[1], seeds=[0, 1]))
    mean = report["shots"]["1"]["mean"]
    assert mean["image_auroc"] >= 0.89
    assert mean["pixel_auroc"] >= 0.93
    assert mean["aupro"] >= 0.80
    assert mean["accuracy"] >= 0.74
