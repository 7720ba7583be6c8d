"""Encoder registry: a name in EngineConfig.backbone picks a small factory."""
from __future__ import annotations

from collections.abc import Callable

from anomalygpt_engine.backbones.base import EncodedBatch, Encoder
from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.errors import ModelLoadError

Factory = Callable[[EngineConfig], Encoder]
_REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory

    return add


def available() -> list[str]:
    return sorted(_REGISTRY)


def create_encoder(config: EngineConfig) -> Encoder:
    """Build the configured encoder on the CPU; the engine moves it to its device."""
    try:
        factory = _REGISTRY[config.backbone]
    except KeyError:
        raise ModelLoadError(f"unknown backbone {config.backbone!r}; available: {available()}") from None
    return factory(config)


@register("efficientnet-lite0")
def _lite0(config: EngineConfig) -> Encoder:
    from anomalygpt_engine.backbones.efficientnet_lite import EfficientNetLiteEncoder

    return EfficientNetLiteEncoder("efficientnet-lite0", config.layers)


@register("efficientnet-lite2")
def _lite2(config: EngineConfig) -> Encoder:
    from anomalygpt_engine.backbones.efficientnet_lite import EfficientNetLiteEncoder

    return EfficientNetLiteEncoder("efficientnet-lite2", config.layers)


@register("hf-vision")
def _hf_vision(config: EngineConfig) -> Encoder:
    from anomalygpt_engine.backbones.hf_vision import HFVisionEncoder

    if not config.backbone_path:
        raise ModelLoadError("backbone 'hf-vision' needs backbone_path: a local model folder")
    return HFVisionEncoder(config.backbone_path, config.layers)


__all__ = ["EncodedBatch", "Encoder", "available", "create_encoder", "register"]
