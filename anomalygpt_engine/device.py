"""Where the models run: CUDA when present (half precision where safe), else CPU."""
from __future__ import annotations

import torch

from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.errors import EngineError


def resolve_device(config: EngineConfig) -> torch.device:
    """'auto' picks the first CUDA device if any; an explicit CUDA request without one is an error."""
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {config.device!r} requested but CUDA is not available")
    return device


def resolve_dtype(config: EngineConfig, device: torch.device) -> torch.dtype:
    """fp16 on CUDA for the encoder; kNN similarity is accumulated in fp32 regardless."""
    return torch.float16 if device.type == "cuda" and config.half_precision else torch.float32
