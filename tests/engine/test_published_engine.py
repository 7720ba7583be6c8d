"""The published-model backend through the real Engine code path, on tiny random release-layout files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from anomalygpt_engine import Engine, ReferenceSetError
from anomalygpt_engine.published.engine import PublishedEngine, PublishedInspectionResult
from anomalygpt_engine.published.files import llama_config
from anomalygpt_engine.published.heads import MapPromptLearner
from anomalygpt_engine.published.llm import LlamaShape, apply_lora, load_vicuna, read_adapters
from anomalygpt_engine.published.session import conversation_text
from anomalygpt_engine.types import ChatTurn
from tests.engine.published_helpers import one_thread, part, published_config, tiny_published  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def engine_and_refs():
    engine = Engine(published_config())
    refs = engine.build_references([part(0)], "bottle", "This is a photo of a bottle for anomaly detection.")
    return engine, refs


def test_config_selects_the_published_engine():
    engine = Engine(published_config())
    assert isinstance(engine, PublishedEngine) and isinstance(engine, Engine)
    with pytest.raises(ValueError, match="unknown model"):
        Engine(published_config(model="gpt-99"))


def test_full_inspect_with_llm_verdict(engine_and_refs):
    engine, refs = engine_and_refs
    assert refs.bank.layers[0].shape == (4 * 256, 32)  # 1 reference x 4 rotations x 16 x 16 patches, width 32
    result = engine.inspect(part(1, defect=True), refs)
    assert isinstance(result, PublishedInspectionResult)
    assert result.anomaly_map.shape == (120, 160) and result.anomaly_map.dtype == np.float32
    assert 0.0 <= result.llm_yes_probability <= 1.0
    assert result.verdict == engine.verdict_for(result.llm_yes_probability)  # the paper's route decides
    assert result.calibrated_verdict == engine.verdict_for(result.score)  # ours, for comparison
    assert result.mode == "fewshot" and result.nearest_reference == 0
    assert result.global_embedding.shape == (16,)


def test_multi_turn_chat_in_anomalygpt_format(engine_and_refs):
    engine, refs = engine_and_refs
    result = engine.inspect(part(2), refs)
    session = engine.chat(result, refs)
    first = session.answer("Is there any anomaly in the image?")
    embeds, keys = session.prompt_embeds("Where is it?")
    second = "".join(session.ask("Where is it?"))
    assert [t.role for t in session.history] == ["user", "assistant", "user", "assistant"]
    assert session.uses_llm and session.language_model.name == "7b_v0 + AnomalyGPT"  # recorded per chat turn
    assert session.history[1].text == first.strip() and "###" not in first + second
    assert session.last_stats["llm"]["reused"] > 20  # the second turn reuses the first turn's KV prefix
    # layout: <s> "### Human: <Img>" [image] "</Img> " [9 + 9 prompts] text
    tokenizer = session.llm.language.tokenizer
    opening = tokenizer.encode("### Human: <Img>", add_special_tokens=False)
    assert keys[0] == tokenizer.bos_token_id and keys[1: 1 + len(opening)] == opening
    image_at = 1 + len(opening)
    assert keys[image_at] == ("image", 0)
    assert torch.allclose(embeds[0, image_at], session.image_token[0].float())
    prompts_at = keys.index(("prompt", 0))
    assert keys[prompts_at: prompts_at + 18] == [("prompt", i) for i in range(18)]
    assert torch.allclose(embeds[0, prompts_at: prompts_at + 18], session.prompts.float())
    text = tokenizer.decode([k for k in keys[prompts_at + 18:]])
    assert text == conversation_text(session.history[:2], "Where is it?", refs.description)


def test_conversation_text_matches_the_released_prompt():
    assert conversation_text([], "Is there any anomaly in the image?", "A bottle.") == \
        "A bottle. Is there any anomaly in the image?\n### Assistant:"
    turns = [ChatTurn("user", "Q1"), ChatTurn("assistant", "A1"), ChatTurn("user", "Q2"), ChatTurn("assistant", "A2")]
    assert conversation_text(turns, "Q3") == "Q1\n### Assistant: A1\n### Human: Q2\n### Assistant: A2\n### Human: Q3" \
                                             "\n### Assistant:"


def test_zero_shot_without_references_uses_the_decoder_and_text_prompts(engine_and_refs):
    engine, _ = engine_and_refs
    result = engine.inspect(part(3, defect=True))
    assert result.mode == "zeroshot" and 0.0 <= result.score <= 1.0
    features = engine._text_features("object")
    assert features.shape == (2, 16) and torch.allclose(features.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(features, engine._text_features("bottle"))


def test_calibrated_verdict_needs_only_imagebind():
    engine = Engine(published_config(published_verdict="calibrated", vicuna_path=None, pandagpt_delta_path=None))
    refs = engine.build_references([part(0)], "bracket")
    result = engine.inspect(part(4, defect=True), refs)
    assert result.llm_yes_probability is None and result.verdict == result.calibrated_verdict
    with pytest.raises(ReferenceSetError):  # a set built on ImageBind does not fit the embedded engine
        Engine().inspect(part(4), refs)


def test_lora_merged_equals_lora_applied():
    paths = tiny_published()
    shape = LlamaShape.from_config(llama_config(paths.vicuna))
    adapters, rank = read_adapters(paths.delta, paths.anomalygpt, 16, 32, shape)
    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    base, _ = load_vicuna(paths.vicuna, torch.float32)
    plain = base(ids).logits
    applied = apply_lora(load_vicuna(paths.vicuna, torch.float32)[0], adapters, rank, merge=False)
    merged = apply_lora(load_vicuna(paths.vicuna, torch.float32)[0], adapters, rank, merge=True)
    assert type(merged).__name__ == "LlamaForCausalLM"  # peft wrappers gone after merge_and_unload
    with torch.no_grad():
        assert torch.allclose(applied(ids).logits, merged(ids).logits, atol=1e-5)
        assert not torch.allclose(plain, merged(ids).logits, atol=1e-3)  # the LoRA did change the model


def test_prompt_learner_gives_nine_base_and_nine_map_prompts():
    learner = MapPromptLearner(64)
    out = learner(torch.rand(2, 1, 224, 224))
    assert out.shape == (2, 18, 64)
    assert torch.equal(out[:, :9], learner.base_prompts.expand(2, -1, -1))


def test_station_settings_select_the_published_model(tmp_path):
    import json

    from desktop_app.settings import Settings

    fields = {**tiny_published().config_fields(), "published_verdict": "calibrated", "device": "cuda"}
    (tmp_path / "published.json").write_text(json.dumps(fields))
    overrides = Settings(published_config=str(tmp_path / "published.json")).engine_overrides()
    assert overrides["model"] == "anomalygpt-published" and overrides["published_verdict"] == "calibrated"
    assert overrides["device"] == "auto"  # only the published fields are taken from the file
    assert "model" not in Settings(published_config=str(tmp_path / "missing.json")).engine_overrides()


def test_fused_mode_adds_the_decoder_map_and_is_fingerprinted():
    engine = Engine(published_config(mode="fused", published_verdict="calibrated"))
    refs = engine.build_references([part(0)], "bottle")
    assert refs.fingerprint["mode"] == "fused"
    result = engine.inspect(part(5, defect=True), refs)
    assert result.mode == "fused" and result.calibrated_verdict == result.verdict
    few = Engine(published_config(published_verdict="calibrated"))
    with pytest.raises(ReferenceSetError):
        few.inspect(part(5), refs)


def test_vicuna_tokenizer_from_sentencepiece_like_the_release():
    pytest.importorskip("sentencepiece")
    paths = tiny_published()
    assert (paths.vicuna / "tokenizer.model").is_file()  # Vicuna v0 ships a sentencepiece model, no tokenizer.json
    _, tokenizer = load_vicuna(paths.vicuna, torch.float32)
    assert type(tokenizer).__name__ == "LlamaTokenizer"
    pieces = tokenizer.convert_ids_to_tokens(tokenizer.encode("Yes", add_special_tokens=False))
    assert pieces == ["\u2581Yes"]  # the answer's first word, as the Yes/No verdict reads it
    assert tokenizer.convert_ids_to_tokens(tokenizer.encode("###", add_special_tokens=False))[0] == "\u2581###"
