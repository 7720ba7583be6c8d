"""Any transformers vision model (CLIP, DINOv2, SigLIP, ViT, ConvNeXt ...) from a local folder.

Nothing is downloaded: the folder must hold config.json and weights saved by `save_pretrained`.
Layers index the model's hidden states (0 = embeddings); token sequences become patch grids.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from anomalygpt_engine.backbones.base import EncodedBatch, Encoder
from anomalygpt_engine.errors import ModelLoadError

_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _normalisation(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std from the folder's preprocessor config, else CLIP's (the common default)."""
    config_file = folder / "preprocessor_config.json"
    if config_file.is_file():
        data = json.loads(config_file.read_text())
        mean, std = data.get("image_mean"), data.get("image_std")
        if mean and std and len(mean) == 3 and len(std) == 3:
            return tuple(mean), tuple(std)
    return _CLIP_MEAN, _CLIP_STD


def _vision_tower(model: nn.Module) -> nn.Module:
    """CLIP/SigLIP checkpoints wrap the image tower; plain vision models are the tower."""
    return getattr(model, "vision_model", model)


def _refuse_pickle_only(folder: Path) -> None:
    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"{folder}: no .safetensors weights found; pickled .bin checkpoints are refused for safety"
        )


class HFVisionEncoder(Encoder):
    """Wraps a transformers vision model; hidden states at `layers` become patch feature maps."""

    name = "hf-vision"

    def __init__(self, folder: str | Path, layers: Sequence[int]) -> None:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"{folder}: not a transformers model folder (config.json missing)")
        _refuse_pickle_only(folder)
        mean, std = _normalisation(folder)
        super().__init__(mean=mean, std=std)
        from transformers import AutoModel

        try:
            model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True)
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError ...
            raise ModelLoadError(f"{folder}: cannot load vision model ({exc})") from exc
        self.tower = _vision_tower(model).eval()
        self.folder = folder
        config = self.tower.config
        self.natural_size = int(getattr(config, "image_size", 224) or 224)
        self.patch_stride = int(getattr(config, "patch_size", 16) or 16)
        n_states = int(getattr(config, "num_hidden_layers", 12)) + 1
        bad = [i for i in layers if not -n_states <= i < n_states]
        if bad:
            raise ModelLoadError(f"{folder}: model has hidden states 0..{n_states - 1}; invalid layers {bad}")
        self.layer_ids = tuple(layers)

    @torch.no_grad()
    def encode(self, batch: torch.Tensor) -> EncodedBatch:
        kwargs = {"output_hidden_states": True}
        if "interpolate_pos_encoding" in self.tower.forward.__code__.co_varnames:
            kwargs["interpolate_pos_encoding"] = True
        output = self.tower(pixel_values=batch, **kwargs)
        grid = (batch.shape[-2] // self.patch_stride, batch.shape[-1] // self.patch_stride)
        layers = [self._as_grid(output.hidden_states[i], grid) for i in self.layer_ids]
        return EncodedBatch(layers=layers, embedding=self._embedding(output))

    @staticmethod
    def _as_grid(hidden: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        if hidden.ndim == 4:  # convolutional models already give B x C x H x W
            return hidden
        n_patches = grid[0] * grid[1]
        if hidden.shape[1] < n_patches:  # pooled or unusual token layout: fall back to a square
            side = int(math.isqrt(hidden.shape[1]))
            grid, n_patches = (side, side), side * side
        tokens = hidden[:, -n_patches:, :]  # drop CLS and register tokens, which come first
        return tokens.transpose(1, 2).reshape(hidden.shape[0], hidden.shape[2], *grid)

    @staticmethod
    def _embedding(output) -> torch.Tensor:
        pooled = getattr(output, "pooler_output", None)
        if pooled is not None and pooled.ndim == 2:
            return pooled
        last = output.last_hidden_state
        return last.mean(dim=1) if last.ndim == 3 else last.mean(dim=(2, 3))
