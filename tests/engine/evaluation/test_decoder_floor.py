"""Zero-shot floor of the shipped decoder on mvtec15 (category-unseen: no MVTec image in training).

Zero-shot mode builds no references, so the 15 categories x 8 test images take seconds; the floors
sit a few points under the figures in resources/decoder/MODEL_CARD.md. Skipped without ../shared/data.
"""
from __future__ import annotations

import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.evaluation.datasets import discover_categories
from anomalygpt_engine.evaluation.runner import evaluate
from anomalygpt_engine.generators import drain

pytestmark = pytest.mark.data

# Measured with the shipped checkpoint (seed-independent: no references): 82.1 / 90.7 / 60.0.
IMAGE_FLOOR, PIXEL_FLOOR, ACCURACY_FLOOR = 0.78, 0.88, 0.55


def test_zero_shot_mvtec15_stays_above_floor(shared_data):
    engine = Engine(EngineConfig(device="cpu", mode="zeroshot"))
    categories = discover_categories(shared_data / "mvtec15")
    assert len(categories) == 15
    report = drain(evaluate(engine, categories, shots=[1], seeds=[0]))
    mean = report["shots"]["1"]["mean"]
    assert mean["image_auroc"] >= IMAGE_FLOOR
    assert mean["pixel_auroc"] >= PIXEL_FLOOR
    assert mean["accuracy"] >= ACCURACY_FLOOR
