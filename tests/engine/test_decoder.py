"""Decoder: shapes, losses, checkpoints (safetensors), and a tiny training run that lowers the loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.decoder import (
    AnomalyDecoder,
    DecoderSpec,
    decoder_loss,
    dice_loss,
    focal_loss,
    load_decoder,
    save_decoder,
)
from anomalygpt_engine.errors import ModelLoadError
from anomalygpt_engine.generators import drain
from anomalygpt_engine.training.decoder_data import DecoderData
from anomalygpt_engine.training.decoder_train import TrainConfig, train_decoder
from tests.engine.conftest import texture_part


def _layers(batch: int = 2) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 8, 28, 28, generator=generator), torch.randn(batch, 16, 7, 7, generator=generator)]


@pytest.mark.parametrize("anchors", ["learned", "text"])
def test_maps_have_the_input_grid_and_are_probabilities(anchors):
    spec = DecoderSpec(in_channels=(8, 16), dim=12, anchors=anchors)
    decoder = AnomalyDecoder(spec, torch.randn(2, 12) if anchors == "text" else None)
    logits = decoder.layer_logits(_layers())
    assert [tuple(t.shape) for t in logits] == [(2, 2, 28, 28), (2, 2, 7, 7)]
    maps = decoder.layer_maps(_layers(), 64)
    assert len(maps) == 2 and all(tuple(m.shape) == (2, 64, 64) for m in maps)
    fused = decoder(_layers(), 64).detach()
    assert tuple(fused.shape) == (2, 64, 64)
    assert 0.0 <= float(fused.min()) and float(fused.max()) <= 1.0
    assert torch.allclose(fused, torch.stack(maps).mean(0))
    trainable = {name for name, p in decoder.named_parameters()}
    assert ("anchors" in trainable) == (anchors == "learned"), "text anchors stay fixed"


def test_decoder_rejects_the_wrong_number_of_layers():
    decoder = AnomalyDecoder(DecoderSpec(in_channels=(8, 16), dim=12))
    with pytest.raises(ValueError):
        decoder.layer_logits(_layers()[:1])


def test_losses_reward_the_right_map_and_punish_the_wrong_one():
    target = torch.zeros(2, 32, 32)
    target[:, 8:16, 8:16] = 1.0
    right = target * 0.98 + 0.01
    wrong = 1.0 - right
    vague = torch.full_like(target, 0.5)
    assert dice_loss(right, target) < 0.1 < dice_loss(vague, target) < dice_loss(wrong, target)
    assert focal_loss(right, target) < focal_loss(vague, target) < focal_loss(wrong, target)
    # gamma = 2 down-weights easy pixels: focal loss sits below plain cross-entropy.
    bce = torch.nn.functional.binary_cross_entropy(vague, target)
    assert focal_loss(vague, target) < bce
    assert decoder_loss([right, right], target) < decoder_loss([right, wrong], target)
    normal = torch.zeros(2, 32, 32)
    # On an all-normal image dice is defined (no division by zero) and pushes probabilities to zero.
    assert float(dice_loss(torch.zeros_like(normal), normal)) == 0.0
    assert dice_loss(torch.full_like(normal, 0.001), normal) < dice_loss(torch.full_like(normal, 0.01), normal)


def test_checkpoint_round_trip_with_calibration(tmp_path):
    decoder = AnomalyDecoder(DecoderSpec(in_channels=(8, 16), dim=12, layers=(1, 2)))
    calibration = Calibration(boundary=0.4, scale=0.05, method="zero-shot")
    path = save_decoder(tmp_path / "d.safetensors", decoder, calibration)
    loaded, loaded_calibration = load_decoder(path)
    assert loaded.spec == decoder.spec
    assert loaded_calibration.boundary == pytest.approx(0.4)
    with torch.no_grad():
        assert torch.allclose(loaded(_layers(), 32), decoder(_layers(), 32))
    not_a_decoder = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(not_a_decoder))
    with pytest.raises(ModelLoadError):
        load_decoder(not_a_decoder)
    with pytest.raises(ModelLoadError):
        load_decoder(tmp_path / "missing.safetensors")


def test_a_decoder_loads_for_its_layers_at_any_input_size(tmp_path):
    from anomalygpt_engine import EngineConfig
    from anomalygpt_engine.decoder import decoder_available, load_decoder_for

    decoder = AnomalyDecoder(DecoderSpec(in_channels=(8, 16), dim=12, layers=(1, 2), image_size=224))
    path = save_decoder(tmp_path / "d.safetensors", decoder, Calibration(boundary=0.4, scale=0.05))
    larger = EngineConfig(device="cpu", layers=(1, 2), image_size=320, decoder_weights=str(path))
    loaded, _ = load_decoder_for(larger, torch.device("cpu"))
    finer = [torch.randn(1, 8, 40, 40), torch.randn(1, 16, 10, 10)]  # the grids of a 320 px input
    with torch.no_grad():
        assert loaded(finer, 320).shape == (1, 320, 320)
    assert decoder_available(larger)
    other_layers = EngineConfig(device="cpu", layers=(1, 3), decoder_weights=str(path))
    assert not decoder_available(other_layers)
    with pytest.raises(ModelLoadError, match="layers"):
        load_decoder_for(other_layers, torch.device("cpu"))


def _drain(generator):
    items = []
    return items, drain(generator, items.append)


@pytest.fixture
def one_thread():
    """Training tests run single-threaded: on a busy 2-core machine two threads are several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_data() -> DecoderData:
    normals = [texture_part(s, size=160) for s in range(4)] + [texture_part(s, 160, "grass") for s in range(2)]
    return DecoderData(normals, [texture_part(9, 160, "gravel")], size=128)


def _train(engine, data, out, steps, **kwargs):
    config = TrainConfig(steps=steps, batch_size=4, lr=3e-3, dim=16, checkpoint_every=5, calibration_images=8)
    return _drain(train_decoder(engine.encoder, data, out, config, tuple(engine.config.layers),
                                engine.config.backbone, 2.0, **kwargs))


def test_tiny_training_run_lowers_the_loss(engine, tiny_data, tmp_path, one_thread):
    progress, summary = _train(engine, tiny_data, tmp_path / "tiny.safetensors", steps=30)
    assert [p.step for p in progress] == list(range(1, 31))
    assert summary["final_loss"] < summary["first_loss"] - 0.1, summary
    decoder, calibration = load_decoder(tmp_path / "tiny.safetensors")
    assert decoder.spec.extra["train"]["steps"] == 30
    assert calibration is not None and calibration.method.startswith("zero-shot")


def test_interrupted_training_resumes_to_the_same_weights(engine, tiny_data, tmp_path, one_thread):
    _train(engine, tiny_data, tmp_path / "straight.safetensors", steps=8)
    _, stopped = _train(engine, tiny_data, tmp_path / "resumed.safetensors", steps=8, stop_after=5)
    assert stopped["interrupted_at"] == 5
    progress, _ = _train(engine, tiny_data, tmp_path / "resumed.safetensors", steps=8)
    assert [p.step for p in progress] == [6, 7, 8], "resumed from the saved state"
    straight, _ = load_decoder(tmp_path / "straight.safetensors")
    resumed, _ = load_decoder(tmp_path / "resumed.safetensors")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_zero_shot_inspection_needs_no_references(engine):
    from tests.engine.conftest import with_defect

    normal = texture_part(21)
    defective = with_defect(texture_part(22), center=(60, 60), radius=22)
    clean = engine.inspect(normal)
    flawed = engine.inspect(defective)
    assert clean.mode == flawed.mode == "zeroshot"
    assert flawed.anomaly_map.shape == defective.shape[:2] and flawed.anomaly_map.dtype == np.float32
    assert flawed.score > clean.score
    assert clean.nearest_reference is None and clean.product == ""


def test_auto_mode_fuses_only_where_the_decoder_fits_the_encoder(tmp_path):
    from anomalygpt_engine import Engine, EngineConfig

    assert Engine(EngineConfig(device="cpu")).mode == "fused", "the shipped decoder fits the default encoder"
    assert Engine(EngineConfig(device="cpu", layers=(4, 10))).mode == "fewshot"
    assert Engine(EngineConfig(device="cpu", image_size=320)).mode == "fused", "it reads patches: any input size"
    assert Engine(EngineConfig(device="cpu", decoder_weights=str(tmp_path / "none.safetensors"))).mode == "fewshot"
    assert Engine(EngineConfig(device="cpu", mode="fewshot")).mode == "fewshot"
    fused = Engine(EngineConfig(device="cpu")).fingerprint()
    assert fused["mode"] == "fused", "fused reference sets are calibrated on fused scores"
    assert "mode" not in Engine(EngineConfig(device="cpu", mode="fewshot")).fingerprint()
    with pytest.raises(ValueError):
        _ = Engine(EngineConfig(device="cpu", mode="fewshoot")).mode
