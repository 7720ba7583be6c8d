"""The Engine owns its dialogue models: the LLM and the prompt learner load lazily, once, per engine."""
from __future__ import annotations

import pytest

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.identity import model_identity, reference_set_digest, short_name
from anomalygpt_engine.llm import forget_loaded
from anomalygpt_engine.llm.tiny import save_tiny_llm


def test_without_an_llm_chat_answers_from_the_findings(engine, brick_refs, normals):
    quiet = Engine(engine.config.with_changes(llm="none"))
    quiet._encoder = engine.encoder  # share the loaded encoder: this test is about the dialogue models
    assert quiet.llm is None and quiet.llm_unavailable == "switched off" and quiet.prompt_learner is None
    session = quiet.chat(quiet.inspect(normals[0], brick_refs), brick_refs)
    assert not session.uses_llm and "switched off" in session.notice
    assert session.answer("Is there any anomaly in the image?")


def test_a_local_llm_loads_once_and_every_session_shares_it(engine, brick_refs, normals, tmp_path):
    folder = save_tiny_llm(tmp_path / "tiny")
    forget_loaded()
    try:
        local = Engine(engine.config.with_changes(llm="hf", llm_path=str(folder)))
        local._encoder = engine.encoder
        result = local.inspect(normals[0], brick_refs)
        first, second = local.chat(result, brick_refs), local.chat(result, brick_refs)
        assert first.uses_llm and first.language_model is second.language_model is local.llm
        assert local.prompt_learner is None  # the shipped weights fit SmolLM2, not this tiny model
        assert local.llm_unavailable is None
    finally:
        forget_loaded()


def test_identity_names_models_with_hashes_and_the_reference_set_digest(engine, brick_refs):
    identity = engine.identity()
    assert identity["backbone"]["name"] == engine.config.backbone and len(identity["backbone"]["sha256"]) == 64
    assert identity["mode"] == engine.mode and len(identity["prompt_learner"]["sha256"]) == 64
    if engine.mode == "fused":
        assert len(identity["decoder"]["sha256"]) == 64
    assert short_name(identity).startswith(f"{engine.config.backbone}@")
    other = model_identity(engine.config.with_changes(llm="none"), "fewshot")
    assert other["decoder"] is None and other["llm"]["name"] == "templates"
    digest = reference_set_digest(brick_refs)
    assert len(digest) == 64 and digest == reference_set_digest(brick_refs)
    changed = type(brick_refs)(**{**brick_refs.__dict__, "created_at": brick_refs.created_at + 1})
    assert reference_set_digest(changed) != digest


@pytest.mark.parametrize("missing", [None, "/no/such/weights.safetensors"])
def test_file_hash_of_a_missing_file_is_none(missing):
    from anomalygpt_engine.identity import file_sha256

    assert file_sha256(missing) is None


def test_published_weights_are_named_and_huge_files_are_not_hashed(tmp_path, monkeypatch):
    import anomalygpt_engine.identity as identity_module

    weights = tmp_path / "pytorch_model.pt"
    weights.write_bytes(b"x" * 4096)
    monkeypatch.setattr(identity_module, "HASH_LIMIT", 1024)
    config = EngineConfig(model="anomalygpt-published", imagebind_path=str(weights), anomalygpt_path=str(weights))
    identity = model_identity(config, "fewshot")
    assert identity["model"] == "anomalygpt-published" and identity["backbone"]["name"] == "imagebind-huge"
    assert identity["anomalygpt"]["sha256"] is None and identity["anomalygpt"]["size"] == 4096
    assert identity["vicuna"] is None
