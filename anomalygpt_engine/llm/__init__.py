"""Dialogue LLMs: loading (packaged GGUF, local transformers folder), chat rendering, streaming."""
from __future__ import annotations

from anomalygpt_engine.llm.loading import cache_dir, forget_loaded, load_language_model, resolve_llm, smollm2_gguf
from anomalygpt_engine.llm.model import IMAGE_PLACEHOLDER, LanguageModel

__all__ = [
    "IMAGE_PLACEHOLDER",
    "LanguageModel",
    "cache_dir",
    "forget_loaded",
    "load_language_model",
    "resolve_llm",
    "smollm2_gguf",
]
