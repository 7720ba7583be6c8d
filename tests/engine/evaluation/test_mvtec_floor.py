"""Regression floors on the real evaluation data (../shared/data); skipped where it is absent.

The floors sit a little under what the engine measured at 1 shot on mvtec15 (README, "Verdicts"):
the default (320 px, decoder fused at 0.0375) over seeds 0-1 measured image AUROC 93.5, pixel AUROC
96.2, AUPRO 90.3, accuracy 76.2; as one lot per category (seeds 0-2) accuracy 88.1 with 13.9% escapes;
the quick preset (224 px, decoder at 0.05) over seeds 0-1 image AUROC 91.3, accuracy 76.7. A drop
below them means a change made detection worse.
"""
from __future__ import annotations

import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.config import preset
from anomalygpt_engine.evaluation.datasets import discover_categories
from anomalygpt_engine.evaluation.runner import evaluate
from anomalygpt_engine.generators import drain

pytestmark = pytest.mark.data


def _one_shot(engine: Engine, shared_data, protocol: str = "single") -> dict:
    categories = discover_categories(shared_data / "mvtec15")
    assert len(categories) == 15
    report = drain(evaluate(engine, categories, shots=[1], seeds=[0, 1], protocol=protocol))
    return report["shots"]["1"]["mean"]


def _above(mean: dict, floors: dict) -> None:
    below = {key: round(mean[key], 4) for key, floor in floors.items() if mean[key] < floor}
    assert not below, f"below the floor: {below} (floors {floors})"


def test_one_shot_mvtec15_stays_above_floor(shared_data):
    engine = Engine(EngineConfig(device="cpu"))
    assert engine.mode == "fused" and engine.config.image_size == 320
    _above(_one_shot(engine, shared_data), {"image_auroc": 0.92, "pixel_auroc": 0.955, "aupro": 0.88, "accuracy": 0.74})


def test_one_shot_mvtec15_as_lots_judges_better_than_one_at_a_time(shared_data):
    """Each category's test images as one unlabeled lot: the boundary learned from the lot's good half."""
    mean = _one_shot(Engine(EngineConfig(device="cpu")), shared_data, protocol="lot")
    assert mean["image_auroc"] >= 0.92
    assert mean["accuracy"] >= 0.85
    assert mean["escape_rate"] <= 0.18


def test_quick_preset_stays_above_its_floor(shared_data):
    engine = Engine(preset("quick").with_changes(device="cpu"))
    assert engine.mode == "fused" and engine.config.image_size == 224
    _above(_one_shot(engine, shared_data), {"image_auroc": 0.89, "pixel_auroc": 0.93, "aupro": 0.80, "accuracy": 0.74})
