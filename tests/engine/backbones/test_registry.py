from __future__ import annotations

import numpy as np
import pytest
import torch

from anomalygpt_engine.backbones import available, create_encoder
from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.errors import ModelLoadError


def test_registry_lists_embedded_and_local_backbones():
    assert {"efficientnet-lite0", "efficientnet-lite2", "hf-vision"} <= set(available())


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="unknown backbone"):
        create_encoder(EngineConfig(backbone="resnet-9000"))


def test_hf_vision_requires_a_path():
    with pytest.raises(ModelLoadError, match="backbone_path"):
        create_encoder(EngineConfig(backbone="hf-vision"))


def test_lite0_gives_configured_layers_and_embedding():
    encoder = create_encoder(EngineConfig(layers=(4, 10, 14)))
    images = [np.zeros((100, 120, 3), np.uint8), np.full((50, 50, 3), 255, np.uint8)]
    batch = encoder.encode(encoder.preprocess(images, 224))
    assert [tuple(t.shape) for t in batch.layers] == [(2, 40, 28, 28), (2, 112, 14, 14), (2, 192, 7, 7)]
    assert batch.embedding.shape == (2, 1280)
    assert encoder.patch_stride == 8


def test_lite0_features_differ_between_images():
    encoder = create_encoder(EngineConfig())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (224, 224, 3), dtype=np.uint8) for _ in range(2)]
    batch = encoder.encode(encoder.preprocess(images, 224))
    assert not torch.allclose(batch.layers[0][0], batch.layers[0][1])


def test_invalid_layer_index_is_refused():
    with pytest.raises(ModelLoadError, match="invalid layers"):
        create_encoder(EngineConfig(layers=(4, 99)))


def test_lite2_loads_from_its_package():
    encoder = create_encoder(EngineConfig(backbone="efficientnet-lite2", layers=(4, 14)))
    batch = encoder.encode(encoder.preprocess([np.zeros((64, 64, 3), np.uint8)], 260))
    assert batch.layers[0].shape[-1] > batch.layers[1].shape[-1]
