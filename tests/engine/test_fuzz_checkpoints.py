"""Corrupt, tampered and malicious weight files: refused with a typed, readable error; no pickle code runs.

Every loader the engine has is fed: truncated and random-byte files, a pickle disguised as a
weights file (whose unpickling would create a marker file), and valid files whose tensors were
swapped for ones of the wrong shape or removed (a tampered checkpoint).

Tampered checkpoints were first found to escape as RuntimeError / KeyError (issue 7); every
loader now wraps `load_state_dict` and its tensor lookups in ModelLoadError / ReferenceSetError.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from anomalygpt_engine.backbones.efficientnet_lite import EfficientNetLiteEncoder, packaged_weights_path
from anomalygpt_engine.decoder import AnomalyDecoder, DecoderSpec, load_decoder, save_decoder
from anomalygpt_engine.errors import EngineError, ModelLoadError, ReferenceSetError
from anomalygpt_engine.prompt_learner import PromptLearner, PromptLearnerSpec
from anomalygpt_engine.reference_set import ReferenceSet


class _Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _malicious(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}))
    return path


def _damaged(valid: Path, out: Path) -> list[Path]:
    data = valid.read_bytes()
    cases = {"truncated": data[: len(data) // 2], "header-only": data[:64], "random": bytes(range(256)) * 8,
             "empty": b"", "flipped-header": bytes([data[0] ^ 0xFF]) + data[1:]}
    paths = []
    for name, content in cases.items():
        path = out / f"{name}{valid.suffix}"
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_encoder_weights_refuse_pickled_code_and_corrupt_files(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ModelLoadError, match="cannot load weights"):
        EfficientNetLiteEncoder("efficientnet-lite0", (4, 14), weights=_malicious(tmp_path / "evil.pth", marker))
    assert not marker.exists(), "torch.load ran pickled code"
    original = packaged_weights_path("efficientnet-lite0")
    small = tmp_path / "small.pth"
    small.write_bytes(original.read_bytes()[: 1 << 16])
    for path in [small, *(_damaged(small, tmp_path)[1:])]:
        with pytest.raises(ModelLoadError):
            EfficientNetLiteEncoder("efficientnet-lite0", (4, 14), weights=path)


def test_encoder_weights_with_tensors_of_the_wrong_shape_are_refused(tmp_path):
    state = torch.load(packaged_weights_path("efficientnet-lite0"), map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.ndim == 4)
    state[key] = torch.zeros(3, 3, 3, 3)
    path = tmp_path / "tampered.pth"
    torch.save(state, path)
    with pytest.raises(ModelLoadError):
        EfficientNetLiteEncoder("efficientnet-lite0", (4, 14), weights=path)


def _decoder_file(tmp_path: Path) -> Path:
    decoder = AnomalyDecoder(DecoderSpec(in_channels=(40, 320)))
    return save_decoder(tmp_path / "decoder.safetensors", decoder)


def test_decoder_checkpoint_corrupt_malicious_or_tampered_is_refused(tmp_path):
    valid = _decoder_file(tmp_path)
    marker = tmp_path / "pwned"
    for path in [*_damaged(valid, tmp_path), _malicious(tmp_path / "evil.safetensors", marker)]:
        with pytest.raises(ModelLoadError):
            load_decoder(path)
    assert not marker.exists()


def test_decoder_checkpoint_with_reshaped_or_missing_tensors_is_refused(tmp_path):
    valid = _decoder_file(tmp_path)
    tensors = load_file(str(valid))
    key = next(iter(tensors))
    metadata = _metadata(valid)
    save_file({**tensors, key: torch.zeros(2, 2)}, str(tmp_path / "reshaped.safetensors"), metadata=metadata)
    save_file({k: v for k, v in tensors.items() if k != key}, str(tmp_path / "missing.safetensors"),
              metadata=metadata)
    for name in ("reshaped", "missing"):
        with pytest.raises(ModelLoadError):
            load_decoder(tmp_path / f"{name}.safetensors")


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def test_prompt_learner_weights_corrupt_malicious_or_tampered_are_refused(tmp_path):
    learner = PromptLearner(PromptLearnerSpec(embed_dim=32, hidden_size=48))
    valid = learner.save(tmp_path / "prompt.safetensors")
    marker = tmp_path / "pwned"
    for path in [*_damaged(valid, tmp_path), _malicious(tmp_path / "evil.safetensors", marker)]:
        with pytest.raises(ModelLoadError):
            PromptLearner.load(path)
    assert not marker.exists()


def test_prompt_learner_weights_with_a_reshaped_tensor_are_refused(tmp_path):
    valid = PromptLearner(PromptLearnerSpec(embed_dim=32, hidden_size=48)).save(tmp_path / "prompt.safetensors")
    tensors = load_file(str(valid))
    key = next(iter(tensors))
    save_file({**tensors, key: torch.zeros(1)}, str(tmp_path / "reshaped.safetensors"), metadata=_metadata(valid))
    with pytest.raises(ModelLoadError):
        PromptLearner.load(tmp_path / "reshaped.safetensors")


def test_reference_set_corrupt_is_a_reference_set_error(tmp_path, brick_refs):
    folder = brick_refs.save(tmp_path / "refs")
    bank = folder / "bank.safetensors"
    original = bank.read_bytes()
    for damaged in (original[: len(original) // 3], b"", pickle.dumps({"layer0": 1})):
        bank.write_bytes(damaged)
        with pytest.raises(ReferenceSetError):
            ReferenceSet.load(folder)
    (folder / "reference_set.json").write_text("{not json")
    with pytest.raises(ReferenceSetError):
        ReferenceSet.load(folder)


def test_reference_set_tampered_is_a_reference_set_error(tmp_path, engine, brick_refs):
    folder = brick_refs.save(tmp_path / "refs")
    bank = folder / "bank.safetensors"
    tensors = load_file(str(bank))
    save_file({k: v for k, v in tensors.items() if k != "layer0"}, str(bank))
    with pytest.raises(ReferenceSetError):
        ReferenceSet.load(folder)
    save_file({**tensors, "layer0": tensors["layer0"][:, :3].contiguous()}, str(bank))  # wrong feature width
    with pytest.raises(EngineError):
        engine.inspect(brick_refs.images[0], ReferenceSet.load(folder))
