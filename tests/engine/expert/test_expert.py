"""Issue 14: taxonomy mapping, intents by meaning, grounded expert answers, knowledge and guard."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anomalygpt_engine.dialogue import DialogueSession
from anomalygpt_engine.evaluation.dialogue_eval import count_contradictions, count_repeats, said_type
from anomalygpt_engine.expert.answers import ExpertFindings, expert_answer
from anomalygpt_engine.expert.attributes import measure_regions
from anomalygpt_engine.expert.intent_model import Ask, recognise
from anomalygpt_engine.expert.knowledge import ProductKnowledge
from anomalygpt_engine.expert.session import ExpertSession, count_differs, size_words_differ
from anomalygpt_engine.expert.taxonomy import DefectType, taxonomy_for
from anomalygpt_engine.guard import polarity
from anomalygpt_engine.regions import find_regions
from anomalygpt_engine.types import InspectionResult, Verdict

HERE = Path(__file__).parent


def questions(name: str) -> list[tuple[str, str]]:
    lines = (HERE / name).read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines if line.strip() and not line.startswith("#")]


def test_question_set_is_large_and_covers_every_intent():
    rows = questions("intent_questions.tsv")
    assert len(rows) >= 150
    assert {expected for _, expected in rows} == {a.value for a in Ask}


@pytest.mark.parametrize("name", ["intent_questions.tsv", "intent_questions_heldout.tsv"])
def test_intent_accuracy(name):
    rows = questions(name)
    right = sum(recognise(q).value == expected for q, expected in rows)
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"


def test_taxonomy_maps_dataset_types_and_unseen_names():
    assert taxonomy_for("pitting") is DefectType.PIT
    assert taxonomy_for("broken_large") is DefectType.CRACK
    assert taxonomy_for("bent_wire") is DefectType.DEFORMATION
    assert taxonomy_for("color") is DefectType.DISCOLOURATION
    assert taxonomy_for("scratch_neck") is DefectType.SCRATCH
    assert taxonomy_for("surface_crack_2") is DefectType.CRACK  # unseen: by keyword
    assert taxonomy_for("oil_stain") is DefectType.DISCOLOURATION
    assert taxonomy_for("good") is None


def _scene(defective: bool):
    rng = np.random.default_rng(0)
    reference = np.full((128, 128, 3), 150, np.uint8) + rng.integers(0, 6, (128, 128, 3)).astype(np.uint8)
    image = reference.copy()
    amap = np.full((128, 128), 0.1, np.float32)
    if defective:
        image[60:64, 20:100] = 30  # a long dark line
        amap[54:70, 14:106] = 0.9
    regions = find_regions(amap) if defective else ()
    result = InspectionResult(Verdict.NG if defective else Verdict.OK, 0.9 if defective else 0.1, amap, regions,
                              (128, 128), "bracket", 1.0, nearest_reference=0)
    return result, image, reference


class _Refs:
    def __init__(self, reference):
        self.images, self.size, self.description = [reference], 1, "a steel bracket"


def test_attributes_measure_a_dark_line():
    result, image, reference = _scene(True)
    (attrs,) = measure_regions(image, result.anomaly_map, reference)
    assert attrs.shape == "line-like" and attrs.orientation == "horizontal"
    assert attrs.brightness == "darker" and attrs.delta_l < -20
    assert attrs.length_px > 60 and attrs.width_px < 10


KNOWLEDGE = ProductKnowledge(description="Steel bracket, painted.", defect_types=["scratch", "crack"],
                             rules_text="pitting under 1% of the area at the centre: rework\n"
                                        "scratch under 2%: rework\ncrack: scrap", decider="the shift lead")


@pytest.mark.parametrize("defective", [True, False])
def test_every_intent_answers_grounded_without_contradiction(defective):
    result, image, reference = _scene(defective)
    expert = ExpertFindings.build(result, image, _Refs(reference), KNOWLEDGE)
    answers = [expert_answer(expert, ask, "Is it a scratch?") for ask in Ask]
    assert all(a.strip() for a in answers)
    said = polarity(expert.findings.verdict_sentence())
    assert said is defective
    assert count_contradictions(answers, said) == 0


def test_disposition_follows_rules_or_says_who_decides():
    result, image, reference = _scene(True)
    expert = ExpertFindings.build(result, image, _Refs(reference), KNOWLEDGE)
    text = expert_answer(expert, Ask.DISPOSITION)
    assert "rule" in text and "the shift lead" in text
    bare = ExpertFindings.build(result, image, _Refs(reference), None)
    assert "No disposition rules" in expert_answer(bare, Ask.DISPOSITION)


def test_rules_parse():
    rules = KNOWLEDGE.rules
    assert rules[0].defect_type == "pit" and rules[0].max_percent == 1.0 and rules[0].place == "center"
    assert rules[0].matches(DefectType.PIT, 0.5, "center", "on the part")
    assert not rules[0].matches(DefectType.PIT, 1.5, "center", "on the part")
    assert not rules[0].matches(DefectType.PIT, 0.5, "top left", "on the part")
    assert rules[2].action == "scrap"


def test_knowledge_round_trip(tmp_path):
    KNOWLEDGE.save(tmp_path)
    assert ProductKnowledge.load(tmp_path) == KNOWLEDGE
    assert ProductKnowledge.load(tmp_path / "missing") is None


def test_session_answers_issue_questions_and_never_repeats():
    result, image, reference = _scene(True)
    expert = ExpertFindings.build(result, image, _Refs(reference), KNOWLEDGE)
    session = ExpertSession(DialogueSession(expert.findings), expert)
    asked = ["What kind of defect is it?", "Is it a scratch, a dent or pitting?",
             "Should I scrap this part or can it be reworked?", "What should I do with this part?",
             "Is one of the lobes bent?", "What caused it?", "How sure are you?", "Why is it NG?"]
    answers = [session.answer(q) for q in asked]
    assert all(answers)
    assert count_repeats(answers) == 0
    assert "can't tell that from this inspection" in answers[5]
    assert count_contradictions(answers, True) == 0


def test_said_type_reads_the_answer():
    assert said_type("Region 1 at the top looks like a hole, pit or dent (confidence 0.80).") == "pit"
    assert said_type("The anomaly looks of unclear type (best guess scratch, confidence only 0.30).") is None


def test_guard_catches_size_and_count_words():
    result, image, reference = _scene(True)
    expert = ExpertFindings.build(result, image, _Refs(reference), None)
    size = expert.findings.regions[0].size
    other = "large" if size != "large" else "small"
    assert size_words_differ(f"The defect is {other}.", expert)
    assert not size_words_differ(f"The defect is {size}.", expert)
    assert count_differs("There are two defects.", expert)
    assert not count_differs("There is one defect.", expert)
