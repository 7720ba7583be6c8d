"""DialogueSession: grounded answers, template fallback, streaming, cancel, history budget."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.dialogue import DialogueSession, Intent, classify, contradicts, polarity
from anomalygpt_engine.evaluation.dialogue_eval import said_location
from anomalygpt_engine.findings import Findings, RegionFinding
from anomalygpt_engine.llm import forget_loaded, load_language_model
from anomalygpt_engine.llm.tiny import save_tiny_llm
from anomalygpt_engine.types import InspectionResult, Region, Verdict


def make_result(defective: bool) -> InspectionResult:
    amap = np.full((90, 120), 0.1, np.float32)
    regions: tuple[Region, ...] = ()
    if defective:
        amap[5:25, 5:30] = 0.9
        regions = (Region((5, 5, 25, 20), 500, 500 / (90 * 120), (17.0, 15.0), "top left", 0.9),)
    return InspectionResult(
        verdict=Verdict.NG if defective else Verdict.OK, score=0.9 if defective else 0.2, anomaly_map=amap,
        regions=regions, image_size=(120, 90), product="metal_nut", latency_ms=1.0,
        global_embedding=np.linspace(-1, 1, 32).astype(np.float32),
    )


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    folder = save_tiny_llm(tmp_path_factory.mktemp("tiny_llm"))
    yield folder
    forget_loaded()


def test_intents():
    assert classify("Is there any anomaly in the image?") is Intent.VERDICT
    assert classify("Where is the anomaly?") is Intent.LOCATION
    assert classify("How large is it?") is Intent.SIZE
    assert classify("What does the anomaly look like?") is Intent.APPEARANCE
    assert classify("Are you sure the part is free of defects?") is Intent.CONFIRM
    assert classify("How many defects are there?") is Intent.COUNT
    assert classify("Tell me a joke") is Intent.OTHER


def test_polarity_and_contradiction():
    ng = Findings.from_result(make_result(True))
    ok = Findings.from_result(make_result(False))
    assert polarity(ng.verdict_sentence()) is True
    assert polarity(ok.verdict_sentence()) is False
    assert contradicts("The part looks normal.", ng)
    assert contradicts("There is a crack on the surface.", ok)
    assert contradicts("The defect is at the bottom right.", ng)
    assert not contradicts("It is at the top left.", ng)
    assert not contradicts("The surface is metallic.", ok)
    assert contradicts("The scratch is 10 pixels long.", ng)  # no such measurement in the findings
    assert contradicts("It is a visual anomaly that is not visible to the naked eye.", ng)
    assert not contradicts("No defect is visible.", ok)
    assert not contradicts(f"It covers {ng.size_sentence().split('about ')[1].split(' of')[0]} of the image.", ng)


def test_location_answer_for_a_good_part_points_at_the_most_different_area():
    ok = Findings.from_result(make_result(False))
    amap = np.full((90, 120), 0.1, np.float32)
    amap[70:80, 100:110] = 0.3  # below the boundary, bottom right
    result = make_result(False)
    doubtful = Findings.from_result(InspectionResult(**{**result.__dict__, "anomaly_map": amap}))
    sentence = doubtful.location_sentence()
    assert sentence.startswith("No anomaly was found") and "bottom right" in sentence and "0.30" in sentence
    assert polarity(sentence) is False and not contradicts(sentence, doubtful)
    assert contradicts(sentence, ok)  # 0.30 is not a number the plain findings stated
    flat = ok.location_sentence()  # peak 0.1, like any good part: no place is worth naming
    assert flat == "No anomaly was found, so there is nothing to locate." and said_location(flat) is None


def test_findings_block_and_sentences():
    findings = Findings.from_result(make_result(True))
    block = findings.to_prompt()
    assert "Verdict: NG" in block and "top left" in block and "%" in block
    assert findings.verdict_sentence().startswith("Yes") and "top left" in findings.verdict_sentence()
    assert "top left" in findings.location_sentence()
    assert findings.size_sentence().startswith("The anomaly is")
    assert Findings.from_result(make_result(False)).verdict_sentence().startswith("No")
    assert isinstance(findings.main_region, RegionFinding)


def test_template_fallback_says_so():
    engine = Engine(EngineConfig(device="cpu", llm="none"))
    session = engine.chat(make_result(True))
    assert isinstance(session, DialogueSession) and not session.uses_llm
    pieces = list(session.ask("Is there any anomaly in the image?"))
    assert len(pieces) > 3  # streamed in pieces like the LLM route
    answer = "".join(pieces)
    assert answer.startswith("Yes") and "top left" in answer and "No language model is loaded" in answer
    second = session.answer("Where is the anomaly?")
    assert "top left" in second and "language model" not in second
    assert [t.role for t in session.history] == ["user", "assistant", "user", "assistant"]
    assert session.findings.verdict is Verdict.NG


def test_missing_llm_folder_falls_back(tmp_path):
    engine = Engine(EngineConfig(device="cpu", llm="hf", llm_path=str(tmp_path / "absent")))
    session = engine.chat(make_result(False))
    assert not session.uses_llm and "config.json" in session.fallback_reason
    assert session.answer("Is the part OK?").startswith("No, there are no anomalies")


def test_local_folder_llm_grounded_and_streaming(tiny_llm):
    engine = Engine(EngineConfig(device="cpu", llm="hf", llm_path=str(tiny_llm), max_new_tokens=12,
                                 llm_elaborates=("verdict", "appearance")))
    session = engine.chat(make_result(True))
    assert session.uses_llm and session.language_model.name == tiny_llm.name
    pieces = list(session.ask("Is there any anomaly in the image?"))
    assert pieces[0].startswith("Yes, there is an anomaly") and "top left" in pieces[0]
    assert session.last_stats["llm"]["tokens"] >= 1
    assert session.history[-1].text.startswith("Yes")
    unguarded = DialogueSession(session.findings, session.language_model, guard=False, max_new_tokens=8)
    raw = list(unguarded.ask("Tell me about the texture."))
    assert 1 <= len(raw) <= 8  # one piece per generated token at most


def test_cancel_stops_promptly(tiny_llm):
    model = load_language_model("hf", str(tiny_llm))
    session = DialogueSession(Findings.from_result(make_result(False)), model, guard=False, max_new_tokens=200)
    received = []
    for piece in session.ask("Describe the image in detail."):
        received.append(piece)
        threading.Thread(target=session.cancel).start()
        threading.Event().wait(0.05)
    assert len(received) <= 3 and session.last_stats["cancelled"]
    assert session.last_stats["llm"]["tokens"] <= 3
    assert session.history[-2].text == "Describe the image in detail."


def test_history_truncation_drops_old_turns(tiny_llm):
    model = load_language_model("hf", str(tiny_llm))
    session = DialogueSession(Findings.from_result(make_result(True)), model, max_new_tokens=4, context_budget=160)
    for index in range(8):
        session.answer(f"Question number {index}: where is the anomaly and how large is it?")
    assert len(session.history) == 16  # everything is remembered ...
    assert session.last_stats["history_turns"] < 7  # ... but only what fits is sent to the model
    embeds, keys = session.prompt_embeds("One more question about the anomaly?")
    assert embeds.shape[1] == len(keys) <= 160


def test_llm_extends_only_the_configured_intents(tiny_llm):
    engine = Engine(EngineConfig(device="cpu", llm="hf", llm_path=str(tiny_llm), max_new_tokens=6))
    assert engine.config.llm_elaborates == ("appearance",)
    session = engine.chat(make_result(True))
    verdict = session.answer("Is there any anomaly in the image?")
    assert verdict == session.findings.verdict_sentence() and "llm" not in session.last_stats
    session.answer("What does the anomaly look like?")
    assert session.last_stats["llm"]["tokens"] >= 1  # the LLM ran for the appearance question
    session.answer("Tell me about the texture.")
    assert session.last_stats["llm"]["tokens"] >= 1  # free questions always go to the LLM
