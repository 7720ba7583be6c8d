"""Prompt learner: shapes, order of the visual prompt, persistence, the shipped weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from anomalygpt_engine.errors import ModelLoadError
from anomalygpt_engine.prompt_learner import (
    DEFAULT_WEIGHTS,
    PromptLearner,
    PromptLearnerSpec,
    load_prompt_learner,
    map_tensor,
)


def test_shapes_and_order():
    spec = PromptLearnerSpec(embed_dim=32, hidden_size=48, n_base=3, n_map=5, map_size=32)
    learner = PromptLearner(spec, token_scale=0.02)
    out = learner(torch.randn(2, 32), torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 1 + 3 + 5, 48) and spec.n_tokens == 9
    # position 0 is the projected image embedding, 1..n1 the base prompts (the same for every image)
    assert torch.allclose(out[0, 1:4], learner.base_prompts) and torch.allclose(out[1, 1:4], learner.base_prompts)
    other = learner(torch.randn(2, 32), torch.rand(2, 1, 32, 32))
    assert not torch.allclose(out[:, 0], other[:, 0]) and not torch.allclose(out[:, 4:], other[:, 4:])
    assert out.abs().mean() < 0.2  # starts at the LLM token scale, not at unit scale


def test_map_tensor_resizes_and_clips():
    amap = np.zeros((100, 150), np.float32)
    amap[:10, :10] = 5.0
    tensor = map_tensor(amap, 16)
    assert tensor.shape == (1, 1, 16, 16) and float(tensor.max()) <= 1.5 and float(tensor.min()) >= 0.0


def test_save_load_round_trip(tmp_path):
    spec = PromptLearnerSpec(embed_dim=8, hidden_size=16, llm="tiny", backbone="x")
    learner = PromptLearner(spec, token_scale=0.1).eval()
    path = learner.save(tmp_path / "pl.safetensors", extra={"note": "test"})
    loaded = PromptLearner.load(path)
    assert loaded.spec == spec
    emb, amap = torch.randn(1, 8), torch.rand(1, 1, 64, 64)
    assert torch.allclose(learner(emb, amap), loaded(emb, amap))
    assert load_prompt_learner(path, 8, 16) is not None
    assert load_prompt_learner(path, 9, 16) is None  # shapes of another encoder / LLM: not used
    with pytest.raises(ModelLoadError):
        load_prompt_learner(tmp_path / "absent.safetensors", 8, 16)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError):
        PromptLearner.load(tmp_path / "bad.safetensors")


def test_shipped_weights_fit_the_defaults():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped prompt learner weights")
    learner = PromptLearner.load(DEFAULT_WEIGHTS)
    assert learner.spec.embed_dim == 1280 and learner.spec.hidden_size == 576
    assert (DEFAULT_WEIGHTS.parent / "MODEL_CARD.md").is_file()


def test_shipped_weights_make_the_llm_answer_yes_no_on_unseen_parts():
    """The LLM's own Yes/No through the shipped learner, on simulated parts from a seed training never
    used: well above chance (the model card reports 0.89 on 320 held-out samples; untrained was 0.42)."""
    from anomalygpt_engine import Engine, EngineConfig
    from anomalygpt_engine.llm import load_language_model
    from anomalygpt_engine.training.prompt_data import generate_samples, skimage_sources
    from anomalygpt_engine.training.prompt_train import verdict_accuracy

    engine = Engine(EngineConfig(device="cpu", llm="none"))
    samples = list(generate_samples(engine, skimage_sources(), reference_sets=1, images_per_set=8, map_size=64,
                                    seed=12345))
    learner = PromptLearner.load(DEFAULT_WEIGHTS)
    model = load_language_model("smollm2", None)
    assert len(samples) == 40
    assert verdict_accuracy(model, learner, samples) >= 0.7
