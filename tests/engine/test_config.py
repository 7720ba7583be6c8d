from __future__ import annotations

import pytest
import torch

from anomalygpt_engine import EngineConfig, preset
from anomalygpt_engine.device import resolve_device, resolve_dtype
from anomalygpt_engine.errors import EngineError


def test_dict_round_trip_restores_tuples():
    config = EngineConfig(layers=(3, 10), rotations=(0, 180), image_size=256)
    data = config.to_dict()
    data["layers"] = list(data["layers"])  # as JSON would give it back
    assert EngineConfig.from_dict(data) == config


def test_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown"):
        EngineConfig.from_dict({"treshold": 0.5})


def test_presets():
    assert preset("default") == EngineConfig()
    assert preset("accurate").backbone == "efficientnet-lite0" and preset("accurate").image_size == 320
    with pytest.raises(KeyError, match="choose from"):
        preset("turbo")


def test_auto_device_is_cpu_without_cuda_and_fp32_there():
    device = resolve_device(EngineConfig())
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype(EngineConfig(), torch.device("cpu")) == torch.float32
    assert resolve_dtype(EngineConfig(), torch.device("cuda")) == torch.float16
    assert resolve_dtype(EngineConfig(half_precision=False), torch.device("cuda")) == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on machines without CUDA")
def test_explicit_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(EngineError, match="CUDA is not available"):
        resolve_device(EngineConfig(device="cuda"))
