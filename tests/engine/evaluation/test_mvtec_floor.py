"""Regression floor on the real evaluation data (../shared/data); skipped where it is absent.

The floors sit a little under what the default engine measured: 1-shot mvtec15 over seeds 0-1,
image AUROC 91.3, accuracy 76.7 (2026-12-02, subspace-bounded distances and the held-out-weighted
1-shot tail rule, issue 11); the accurate preset (320 px, decoder fused at 0.0375) measured image
AUROC 93.5, pixel AUROC 96.2, AUPRO 90.3, accuracy 76.2 on the same draws. A drop below them means a
change made detection worse.
"""
from __future__ import annotations

import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.config import preset
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


def test_accurate_preset_ranks_and_outlines_mvtec15_better_than_the_default_floor(shared_data):
    engine = Engine(preset("accurate").with_changes(device="cpu"))
    assert engine.mode == "fused"
    report = drain(evaluate(engine, discover_categories(shared_data / "mvtec15"), shots=[1], seeds=[0, 1]))
    mean = report["shots"]["1"]["mean"]
    assert mean["image_auroc"] >= 0.92
    assert mean["pixel_auroc"] >= 0.955
    assert mean["aupro"] >= 0.88
    assert mean["accuracy"] >= 0.74
