"""AnomalyGPT's trained heads: the image decoder (zero-shot map) and the prompt learner (map -> LLM)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anomalygpt_engine.published import spec as S


class PatchDecoder(nn.Module):
    """One linear map per tapped block, from patch tokens into ImageBind's joint space (`image_decoder`)."""

    def __init__(self, vision_width: int, embed_dim: int, tapped: int = 4) -> None:
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(vision_width, embed_dim) for _ in range(tapped))

    def forward(self, maps: Sequence[torch.Tensor], text: torch.Tensor, size: int) -> torch.Tensor:
        """B x size x size probability of "abnormal": per block, 100 x cosine of each projected patch with
        the normal / abnormal text features, upsampled (align_corners, as trained), softmax; then the
        mean over blocks."""
        probabilities = []
        for fc, feature_map in zip(self.fc, maps):
            b, _, h, w = feature_map.shape
            tokens = F.normalize(fc(feature_map.flatten(2).transpose(1, 2).to(fc.weight.dtype)), dim=-1)
            logits = 100.0 * tokens @ text.to(tokens.dtype).T  # B x hw x 2
            logits = logits.transpose(1, 2).reshape(b, 2, h, w).float()
            logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=True)
            probabilities.append(torch.softmax(logits, dim=1)[:, 1])
        return torch.stack(probabilities).mean(dim=0)


class MapPromptLearner(nn.Module):
    """Anomaly map (B x 1 x 224 x 224) -> 9 learned base prompts + 9 map prompts, each LLM-wide.

    `meta_net` is five stages of conv3x3 (x4 channels) + ReLU + 2x2 max-pool (224 -> 7), then a
    5x5 convolution to the LLM width: a 3 x 3 grid of prompts.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = S.PROMPT_CHANNELS
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        layers.append(nn.Conv2d(channels[-1], hidden, 5))
        self.meta_net = nn.Sequential(*layers)
        self.base_prompts = nn.Parameter(torch.zeros(9, hidden))
        self.hidden = hidden

    def forward(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        b = anomaly_map.shape[0]
        grid = self.meta_net(anomaly_map.to(self.base_prompts.dtype))  # B x hidden x 3 x 3
        map_prompts = grid.reshape(b, self.hidden, -1).transpose(1, 2)
        return torch.cat([self.base_prompts.expand(b, -1, -1), map_prompts], dim=1)


def load_heads(state: Mapping[str, torch.Tensor], vision_width: int, embed_dim: int,
               hidden: int) -> tuple[PatchDecoder, MapPromptLearner]:
    """Modules from an AnomalyGPT checkpoint's `image_decoder.*` and `prompt_learner.*` tensors
    (keys checked by the caller)."""
    with torch.device("meta"):
        decoder = PatchDecoder(vision_width, embed_dim)
        learner = MapPromptLearner(hidden)
    decoder.load_state_dict(_strip(state, "image_decoder."), strict=True, assign=True)
    learner.load_state_dict(_strip(state, "prompt_learner."), strict=True, assign=True)
    return decoder.float().eval().requires_grad_(False), learner.float().eval().requires_grad_(False)


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
