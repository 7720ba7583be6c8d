"""Building a DialogueSession: the LLM, the prompt learner and AnomalyGPT's visual prompt tokens.

The Engine owns the models (its lazy `llm` and `prompt_learner`); `open_session` is for callers
without an Engine and loads them itself.
"""
from __future__ import annotations

import torch

from anomalygpt_engine.dialogue import DialogueSession
from anomalygpt_engine.findings import Findings
from anomalygpt_engine.intents import Intent


def visual_tokens_for(result, learner, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
    """AnomalyGPT's prompt for one inspection: N x hidden, or None without embedding or learner."""
    from anomalygpt_engine.prompt_learner import map_tensor

    if learner is None or result.global_embedding is None:
        return None
    embedding = torch.as_tensor(result.global_embedding, dtype=dtype, device=device).reshape(1, -1)
    amap = map_tensor(result.anomaly_map, learner.spec.map_size).to(device, dtype)
    with torch.inference_mode():
        return learner(embedding, amap)[0]


def _dtype(config, device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" and config.half_precision else torch.float32


def load_dialogue_llm(config, device: torch.device):
    """(the configured LLM, None) or (None, why not): a dialogue without an LLM still answers."""
    from anomalygpt_engine.errors import ModelLoadError
    from anomalygpt_engine.llm.loading import load_language_model, resolve_llm

    kind, _ = resolve_llm(config.llm, config.llm_path)
    if kind == "none":
        return None, "switched off"
    try:
        return load_language_model(config.llm, config.llm_path, device, _dtype(config, device)), None
    except ModelLoadError as exc:
        return None, str(exc)


def load_dialogue_learner(config, embed_dim: int, model, device: torch.device) -> tuple:
    """(prompt learner or None when no weights fit, None) or (None, why: damaged weights)."""
    from anomalygpt_engine.errors import ModelLoadError
    from anomalygpt_engine.prompt_learner import load_prompt_learner

    try:
        learner = load_prompt_learner(config.prompt_weights, embed_dim, model.hidden_size)
    except ModelLoadError as exc:
        return None, str(exc)
    return (learner.to(device, _dtype(config, device)) if learner is not None else None), None


def session_for(config, result, refs, model, learner, reason: str | None, device: torch.device) -> DialogueSession:
    """A session over models the caller owns (the Engine): the LLM if there is one, else templates."""
    findings = Findings.from_result(result, refs)
    if model is None:
        return DialogueSession(findings, max_new_tokens=config.max_new_tokens, fallback_reason=reason)
    visual = visual_tokens_for(result, learner, device, _dtype(config, device))
    return DialogueSession(findings, model, visual, max_new_tokens=config.max_new_tokens,
                           elaborate_intents=frozenset(Intent(value) for value in config.llm_elaborates))


def open_session(config, device: torch.device, result, refs=None) -> DialogueSession:
    """A session for callers without an Engine: loads the models here (an Engine keeps its own)."""
    model, reason = load_dialogue_llm(config, device)
    learner = None
    if model is not None and result.global_embedding is not None:
        learner, reason = load_dialogue_learner(config, int(result.global_embedding.shape[-1]), model, device)
        if reason:
            model = None
    return session_for(config, result, refs, model, learner, reason, device)
