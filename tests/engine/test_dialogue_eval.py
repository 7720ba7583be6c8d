"""eval-dialogue: answer parsing, contradiction counting, and a floor on mvtec15 (needs ../shared/data)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from anomalygpt_engine.cli import main
from anomalygpt_engine.evaluation.dialogue_eval import count_contradictions, mask_cell, said_location, spread


def test_parsing_helpers():
    assert said_location("The anomaly is at the top left of the image.") == "top left"
    assert said_location("It lies in the middle.") == "center"
    assert said_location("There is no anomaly to locate.") is None
    mask = np.zeros((30, 30), bool)
    mask[0:5, 25:30] = True
    assert mask_cell(mask) == "top right" and mask_cell(np.zeros((4, 4), bool)) is None
    assert spread(list(range(8)), 2) == [0, 7] and spread([1, 2], None) == [1, 2]


def test_contradictions_are_counted_per_sentence():
    answers = ["Yes, there is an anomaly in the image.", "It is at the top. The part looks normal."]
    assert count_contradictions(answers, True) == 1
    assert count_contradictions(["No, there are no anomalies in the image."], False) == 0


@pytest.mark.data
@pytest.mark.slow  # ~1 min on 2 idle cores (30 images, LLM verdict on each); much longer on a busy machine
def test_eval_dialogue_floor_on_mvtec15(shared_data, tmp_path):
    out = tmp_path / "dialogue.json"
    # Grounded answers plus the LLM's own Yes/No for 2 images per category; LLM elaboration is off to
    # keep this within the suite's time (the latency figures come from the full run and the benchmark).
    code = main(["eval-dialogue", str(shared_data / "mvtec15"), "--shots", "1", "--seeds", "0",
                 "--limit", "2", "--max-new-tokens", "0", "--threads", "2", "--json", str(out)])
    assert code == 0
    summary = json.loads(out.read_text())
    for key in ("yes_no_accuracy", "location_accuracy", "llm_verdict_accuracy", "calibrated_verdict_accuracy"):
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0
    assert isinstance(summary["contradictions"], int) and summary["contradictions"] == 0
    assert summary["images"] == 30
    assert summary["yes_no_accuracy"] >= 0.6
    # 15 defective images: one image is 0.067. The 1-shot boundary rule chosen by leave-one-dataset-out
    # (c6ebf0a) changed which parts are flagged; this subset measured 4/15 after it (5/15 before).
    assert summary["location_accuracy"] >= 0.25
    assert summary["llm_verdict_accuracy"] is not None  # the default LLM and shipped prompt learner loaded
