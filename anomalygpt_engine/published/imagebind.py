"""ImageBind-Huge's vision and text towers, written for this station, loadable from imagebind_huge.pth.

Module and attribute names follow the released state dict (see spec.py) so that `load_state_dict`
can check every tensor strictly. The vision tower is also an `Encoder`: its four tapped blocks are
the patch feature maps of the memory bank, its head the global embedding fed to `llama_proj`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from anomalygpt_engine.backbones.base import EncodedBatch, Encoder
from anomalygpt_engine.published import spec as S
from anomalygpt_engine.published.files import expect_role, read_state, require_keys, shapes_of

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class _Mlp(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    """Pre-LN transformer block on sequence-first tensors (L x B x D), as ImageBind runs them."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, bias=True)
        self.norm_1 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = _Mlp(width)
        self.norm_2 = nn.LayerNorm(width, eps=1e-6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.norm_2(x))


class _Trunk(nn.Module):
    def __init__(self, width: int, depth: int, heads: int, pre_norm: bool) -> None:
        super().__init__()
        if pre_norm:
            self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(width, eps=1e-6))
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(depth))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None, taps: tuple[int, ...] = ()):
        """B x L x D in; (B x L x D out, [B x L x D output of each tapped block])."""
        if hasattr(self, "pre_transformer_layer"):
            tokens = self.pre_transformer_layer(tokens)
        x = tokens.transpose(0, 1)
        tapped = []
        for index, block in enumerate(self.blocks):
            x = block(x, mask)
            if index in taps:
                tapped.append(x.transpose(0, 1))
        return x.transpose(0, 1), tapped


class _RepeatFrames(nn.Module):
    """An image is a two-frame video to ImageBind's Conv3d stem: B x C x H x W -> B x C x 2 x H x W."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2).expand(-1, -1, 2, -1, -1)


class _Holder(nn.Module):
    """A named slot (e.g. `rgbt_stem`, `pos_embedding_helper`) so tensor names match the release."""


class _VisionStem(nn.Module):
    def __init__(self, spec: S.ImageBindSpec) -> None:
        super().__init__()
        w = spec.vision_width
        self.cls_token = nn.Parameter(torch.zeros(1, 1, w))
        self.rgbt_stem = _Holder()
        kernel = (2, spec.patch, spec.patch)
        self.rgbt_stem.proj = nn.Sequential(_RepeatFrames(), nn.Conv3d(3, w, kernel, stride=kernel, bias=False))
        self.pos_embedding_helper = _Holder()
        self.pos_embedding_helper.pos_embed = nn.Parameter(torch.zeros(1, 1 + spec.grid**2, w))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem.proj(images).flatten(2).transpose(1, 2)  # B x (1*g*g) x W
        tokens = torch.cat([self.cls_token.expand(patches.shape[0], -1, -1), patches], dim=1)
        return tokens + self.pos_embedding_helper.pos_embed


class _TextStem(nn.Module):
    def __init__(self, spec: S.ImageBindSpec) -> None:
        super().__init__()
        # Uninitialised: the checkpoint fills it (normal_ on "meta" would cost seconds of imports).
        self.token_embedding = nn.Embedding(spec.vocab_size, spec.text_width,
                                            _weight=torch.empty(spec.vocab_size, spec.text_width))
        self.pos_embed = nn.Parameter(torch.zeros(1, spec.context_length, spec.text_width))
        mask = torch.empty(spec.context_length, spec.context_length)
        if not mask.is_meta:  # on "meta" the loaded state dict supplies it (and triu there is slow to import)
            mask.fill_(float("-inf")).triu_(1)
        self.register_buffer("mask", mask)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) + self.pos_embed


class _SelectFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class _TextHead(nn.Module):
    def __init__(self, spec: S.ImageBindSpec) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(spec.text_width, eps=1e-6),
                                  nn.Linear(spec.text_width, spec.embed_dim, bias=False))


class _LogitScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.log_logit_scale = nn.Parameter(torch.full((), float(np.log(1 / 0.07))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=100.0) * x


class ImageBindTowers(nn.Module):
    """The vision tower, and the text tower when `with_text`; names as in imagebind_huge.pth."""

    def __init__(self, spec: S.ImageBindSpec, with_text: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.modality_preprocessors = nn.ModuleDict({"vision": _VisionStem(spec)})
        self.modality_trunks = nn.ModuleDict(
            {"vision": _Trunk(spec.vision_width, spec.vision_blocks, spec.heads, pre_norm=True)})
        self.modality_heads = nn.ModuleDict({"vision": nn.Sequential(
            nn.LayerNorm(spec.vision_width, eps=1e-6), _SelectFirst(),
            nn.Linear(spec.vision_width, spec.embed_dim, bias=False))})
        self.modality_postprocessors = nn.ModuleDict()
        if with_text:
            self.modality_preprocessors["text"] = _TextStem(spec)
            self.modality_trunks["text"] = _Trunk(spec.text_width, spec.text_blocks, spec.heads, pre_norm=False)
            self.modality_heads["text"] = _TextHead(spec)
            self.modality_postprocessors["text"] = nn.Sequential(nn.Identity(), _LogitScale())

    @property
    def has_text(self) -> bool:
        return "text" in self.modality_trunks

    def encode_vision(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B x E L2-normalised embedding, [B x g*g x W patch tokens of each tapped block])."""
        tokens = self.modality_preprocessors["vision"](images)
        final, tapped = self.modality_trunks["vision"](tokens, taps=self.spec.tapped_blocks)
        embedding = F.normalize(self.modality_heads["vision"](final), dim=-1)
        return embedding, [t[:, 1:] for t in tapped]  # the class token is no patch

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """B x E text embeddings (L2-normalised, times the learned logit scale, as ImageBind returns)."""
        stem = self.modality_preprocessors["text"]
        final, _ = self.modality_trunks["text"](stem(ids), mask=stem.mask.to(ids.device))
        end = final[torch.arange(ids.shape[0], device=ids.device), ids.argmax(dim=-1)]  # end-of-text token
        embedding = F.normalize(self.modality_heads["text"].proj(end), dim=-1)
        return self.modality_postprocessors["text"](embedding)


def load_towers(path: str | Path, with_text: bool = True) -> ImageBindTowers:
    """Read imagebind_huge.pth: every vision (and text) tensor must be there with its shape; tensors
    of ImageBind's other modalities are skipped; anything else is an error."""
    state = read_state(path, "ImageBind checkpoint")
    shapes = shapes_of(state)
    expect_role(path, set(shapes), "imagebind")
    spec = S.spec_from_imagebind(shapes)
    expected = S.vision_keys(spec)
    text = S.text_keys(spec)
    with_text = with_text and any(k in shapes for k in text)
    if with_text:
        expected = {**expected, **text}
    require_keys(path, "ImageBind checkpoint", shapes, expected, optional=text,
                 ignore=S.is_other_modality)
    with torch.device("meta"):
        towers = ImageBindTowers(spec, with_text)
    towers.load_state_dict({k: state[k] for k in expected}, strict=True, assign=True)
    return towers.float().eval().requires_grad_(False)


class ImageBindEncoder(Encoder):
    """The vision tower as the engine's encoder: 4 tapped blocks (W x g x g maps) + 1024-d embedding."""

    name = "imagebind-huge"
    natural_size = 224
    patch_stride = 14

    def __init__(self, towers: ImageBindTowers) -> None:
        super().__init__(CLIP_MEAN, CLIP_STD)
        self.towers = towers
        self.natural_size = towers.spec.image_size
        self.patch_stride = towers.spec.patch

    def preprocess(self, images: list[np.ndarray], size: int) -> torch.Tensor:
        """Bicubic resize of the whole image to the model size (AnomalyGPT's demo transform, no crop:
        the station must see the whole part), then CLIP normalisation."""
        size = self.natural_size
        # PIL's bicubic filter widens with the scale (antialiasing), as torchvision's Resize on PIL images.
        resized = [np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC)) for img in images]
        batch = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float().div(255.0)
        batch = batch.to(self._mean.device)
        return ((batch - self._mean) / self._std).to(self.dtype)

    @torch.inference_mode()
    def encode(self, batch: torch.Tensor) -> EncodedBatch:
        embedding, tapped = self.towers.encode_vision(batch.to(self.dtype))
        g = self.towers.spec.grid
        maps = [t.transpose(1, 2).reshape(t.shape[0], t.shape[2], g, g) for t in tapped]
        return EncodedBatch(layers=maps, embedding=embedding)
