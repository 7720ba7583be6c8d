"""The published AnomalyGPT model (ImageBind-Huge + Vicuna-7B + PandaGPT delta + AnomalyGPT checkpoint)
behind the Engine API: `Engine(EngineConfig(model="anomalygpt-published", imagebind_path=..., ...))`.

The weights are the user's own copies (nothing is downloaded) and are licensed for non-commercial
use only (AnomalyGPT: CC BY-NC-SA 4.0; ImageBind: CC BY-NC 4.0; Vicuna v0 follows LLaMA's licence).
"""
from __future__ import annotations

MODEL_NAMES = ("embedded", "anomalygpt-published")


def engine_class(model: str):
    """The Engine subclass for a config's `model` (called by Engine.__new__)."""
    if model == "anomalygpt-published":
        from anomalygpt_engine.published.engine import PublishedEngine

        return PublishedEngine
    raise ValueError(f"unknown model {model!r}; choose from {list(MODEL_NAMES)}")
