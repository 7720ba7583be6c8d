"""The local-folder loader on tiny random models that the tests build and save themselves."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.backbones import create_encoder
from anomalygpt_engine.errors import ModelLoadError

transformers = pytest.importorskip("transformers")


def _save_vit(folder):
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                                    intermediate_size=64, image_size=64, patch_size=8)
    torch.manual_seed(0)
    transformers.ViTModel(config).save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.5] * 3}))


def _save_dinov2(folder):
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, image_size=56, patch_size=14)
    transformers.Dinov2Model(config).save_pretrained(folder, safe_serialization=True)


def _save_clip(folder):
    vision = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
              "image_size": 64, "patch_size": 16, "projection_dim": 16}
    text = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "vocab_size": 99, "projection_dim": 16}
    config = transformers.CLIPConfig(vision_config=vision, text_config=text, projection_dim=16)
    transformers.CLIPModel(config).save_pretrained(folder, safe_serialization=True)


@pytest.mark.parametrize("maker,size,grid", [(_save_vit, 64, 8), (_save_dinov2, 56, 4), (_save_clip, 64, 4)])
def test_tiny_models_give_patch_grids(tmp_path, maker, size, grid):
    maker(tmp_path)
    encoder = create_encoder(EngineConfig(backbone="hf-vision", backbone_path=str(tmp_path), layers=(1, -1)))
    batch = encoder.encode(encoder.preprocess([np.zeros((80, 90, 3), np.uint8)] * 2, size))
    assert [tuple(t.shape) for t in batch.layers] == [(2, 32, grid, grid)] * 2
    assert batch.embedding.shape[0] == 2


def test_engine_inspects_with_a_local_model(tmp_path):
    _save_vit(tmp_path)
    engine = Engine(EngineConfig(backbone="hf-vision", backbone_path=str(tmp_path), layers=(1, 2), image_size=64))
    rng = np.random.default_rng(0)
    refs = engine.build_references([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)], product="tiny")
    result = engine.inspect(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), refs)
    assert result.anomaly_map.shape == (64, 64)
    assert 0.0 <= result.score <= 1.0


def test_pickled_checkpoints_are_refused(tmp_path):
    _save_vit(tmp_path)
    for weights in tmp_path.glob("*.safetensors"):
        weights.unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="safetensors"):
        create_encoder(EngineConfig(backbone="hf-vision", backbone_path=str(tmp_path)))


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        create_encoder(EngineConfig(backbone="hf-vision", backbone_path=str(tmp_path)))


def test_corrupt_weights_are_refused(tmp_path):
    _save_vit(tmp_path)
    for weights in tmp_path.glob("*.safetensors"):
        weights.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError):
        create_encoder(EngineConfig(backbone="hf-vision", backbone_path=str(tmp_path)))
