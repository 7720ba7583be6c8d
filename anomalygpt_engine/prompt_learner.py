"""AnomalyGPT's visual prompt: image embedding + n1 learned base prompts + n2 prompts from the map.

The LLM sees `[proj(global_embedding), base_1..n1, learner(anomaly_map)_1..n2]` spliced into its
token embeddings in front of the question. Only this module (and optionally LoRA) is trained; the
LLM stays frozen. Weights are safetensors with their shape hyper-parameters in the metadata.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from anomalygpt_engine.errors import ModelLoadError

RESOURCE_DIR = Path(__file__).resolve().parents[1] / "resources" / "prompt_learner"
DEFAULT_WEIGHTS = RESOURCE_DIR / "smollm2-135m_efficientnet-lite0.safetensors"
MAP_CLIP = 1.5  # calibrated maps: 0.5 is the boundary; values far above add nothing


@dataclass(frozen=True)
class PromptLearnerSpec:
    embed_dim: int  # the encoder's global embedding width
    hidden_size: int  # the LLM's embedding width
    n_base: int = 4  # n1: learned base prompts
    n_map: int = 4  # n2: prompts produced from the anomaly map
    map_size: int = 64  # the anomaly map is resized to map_size x map_size
    llm: str = ""  # the LLM these weights were trained with
    backbone: str = ""

    @property
    def n_tokens(self) -> int:
        return 1 + self.n_base + self.n_map


class PromptLearner(nn.Module):
    """Anomaly map (B x 1 x S x S) + global embedding (B x D) -> B x (1 + n1 + n2) x hidden."""

    def __init__(self, spec: PromptLearnerSpec, token_scale: float = 1.0) -> None:
        super().__init__()
        self.spec = spec
        hidden = spec.hidden_size
        self.projection = nn.Sequential(nn.LayerNorm(spec.embed_dim), nn.Linear(spec.embed_dim, hidden))
        self.base_prompts = nn.Parameter(torch.randn(spec.n_base, hidden) * token_scale)
        # A small conv net: 64 -> 32 -> 16 -> 8 -> 4x4 grid, then one linear to n2 tokens.
        self.map_net = nn.Sequential(
            nn.Conv2d(2, 16, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.map_head = nn.Linear(64 * 16 + 2, spec.n_map * hidden)
        # LLM token embeddings have a characteristic scale; outputs start at that scale.
        self.register_buffer("token_scale", torch.tensor(float(token_scale)))
        with torch.no_grad():
            self.projection[1].weight.mul_(token_scale)
            self.projection[1].bias.zero_()
            self.map_head.weight.mul_(token_scale)
            self.map_head.bias.zero_()

    def forward(self, embedding: torch.Tensor, anomaly_map: torch.Tensor) -> torch.Tensor:
        batch = embedding.shape[0]
        image_token = self.projection(embedding).unsqueeze(1)
        base = self.base_prompts.unsqueeze(0).expand(batch, -1, -1)
        # The map itself and its thresholded twin: the net sees both the shape and "above the boundary".
        above = (anomaly_map >= 0.5).to(anomaly_map.dtype)
        features = self.map_net(torch.cat([anomaly_map, above], dim=1))
        stats = torch.stack([anomaly_map.amax(dim=(1, 2, 3)), above.mean(dim=(1, 2, 3))], dim=1)
        map_tokens = self.map_head(torch.cat([features, stats], dim=1)).view(batch, self.spec.n_map, -1)
        return torch.cat([image_token, base, map_tokens], dim=1)

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | Path, extra: dict | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().float().cpu().contiguous() for k, v in self.state_dict().items()}
        metadata = {"spec": json.dumps(asdict(self.spec)), **{k: str(v) for k, v in (extra or {}).items()}}
        save_file(tensors, str(path), metadata=metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PromptLearner:
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                spec = PromptLearnerSpec(**json.loads(handle.metadata()["spec"]))
            tensors = load_file(str(path))
        except (OSError, KeyError, ValueError, TypeError, SafetensorError) as exc:
            raise ModelLoadError(f"{path}: not a prompt learner weights file ({exc})") from exc
        learner = cls(spec)
        try:
            learner.load_state_dict(tensors)
        except RuntimeError as exc:  # missing, extra or reshaped tensors: tampered or for another model
            raise ModelLoadError(f"{path}: weights do not fit the prompt learner ({str(exc).splitlines()[0]})") from exc
        return learner.eval()


def map_tensor(anomaly_map: np.ndarray, size: int) -> torch.Tensor:
    """Calibrated H x W map -> 1 x 1 x size x size tensor, clipped to the useful range."""
    small = cv2.resize(anomaly_map.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.clip(small, 0.0, MAP_CLIP)).view(1, 1, size, size)


def token_scale_of(embeddings: torch.Tensor) -> float:
    """Typical per-coordinate scale of an LLM's token embedding matrix."""
    return float(embeddings.detach().float().std())


def load_prompt_learner(path: str | Path | None, embed_dim: int, hidden_size: int) -> PromptLearner | None:
    """The configured (or shipped) learner when its shapes fit this encoder and LLM, else None."""
    path = Path(path) if path else DEFAULT_WEIGHTS
    if not path.is_file():
        if path != DEFAULT_WEIGHTS:
            raise ModelLoadError(f"{path}: prompt learner weights not found")
        return None
    learner = PromptLearner.load(path)
    if learner.spec.embed_dim != embed_dim or learner.spec.hidden_size != hidden_size:
        return None
    return learner
