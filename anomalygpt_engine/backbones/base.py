"""What every image encoder gives the engine: multi-layer patch features and a global embedding."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn


@dataclass
class EncodedBatch:
    """Patch feature maps, one per configured layer, and one global embedding per image."""

    layers: list[torch.Tensor]  # each B x C_l x H_l x W_l
    embedding: torch.Tensor  # B x D


class Encoder(nn.Module):
    """Base for encoders; subclasses implement `encode` on a normalised batch."""

    name: str = "encoder"
    natural_size: int = 224
    patch_stride: int = 8  # pixels of input per cell of the finest returned map

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        super().__init__()
        self.register_buffer("_mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images: list[np.ndarray], size: int) -> torch.Tensor:
        """Resize RGB uint8 images to size x size and normalise as the weights were trained."""
        resized = [cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) for img in images]
        batch = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float() / 255.0
        batch = batch.to(self._mean.device)
        return ((batch - self._mean) / self._std).to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, batch: torch.Tensor) -> EncodedBatch:
        raise NotImplementedError
