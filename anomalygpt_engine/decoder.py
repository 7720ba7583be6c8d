"""Visual-textual matching decoder (AnomalyGPT's image decoder) for our encoders' patch features.

Per layer, a linear projection maps each patch feature into an anchor space; the patch's anomaly
probability is the softmax of its cosine similarities to a "normal" and an "abnormal" anchor. Layer
maps are upsampled and averaged. Anchors are either learned or fixed sentence embeddings (MiniLM).
The projection sees the L2-normalised feature and its deviation from the image's mean feature: the
deviation is what carries over to products never seen in training (zero-shot).
Trained with focal (gamma 2) + dice loss per layer on simulated anomalies (training/decoder_train.py).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.errors import ModelLoadError

FORMAT = "anomalygpt-decoder/1"
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "resources" / "decoder" / "decoder.safetensors"


@dataclass(frozen=True)
class DecoderSpec:
    """What the decoder was built for; must match the engine's encoder to be usable."""

    in_channels: tuple[int, ...]
    backbone: str = "efficientnet-lite0"
    layers: tuple[int, ...] = (4, 14)
    image_size: int = 224
    dim: int = 128
    anchors: str = "learned"  # "learned" or "text"
    temperature: float = 0.07
    mutual_fraction: float = 0.0  # > 0: add each patch's distance to its k-th most similar patch (k = fraction x N)
    hypercolumn: bool = False  # finer layers also see the deepest layer's features, upsampled
    extra: dict = field(default_factory=dict)  # training provenance; not used for computation

    def fits(self, config) -> bool:
        """Usable on this engine's encoder: same backbone and layers. The input size need not match:
        the decoder reads each patch's features (and, with `mutual_fraction`, a fraction of the
        image's own patches), so it runs on the finer grid of a larger input too; the accurate preset
        fuses it at 320 px (README, "Verdicts")."""
        return (self.backbone, self.layers) == (config.backbone, tuple(config.layers))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DecoderSpec:
        values = dict(data)
        for key in ("in_channels", "layers"):
            values[key] = tuple(int(v) for v in values[key])
        return cls(**values)


def mutual_distance(normed: torch.Tensor, fraction: float) -> torch.Tensor:
    """B x 1 x H x W: 1 - cosine similarity to the k-th most similar other patch of the same image.

    A defect covers few patches, so its k-th neighbour is a normal patch and far away; a normal
    patch of a texture or a repeated structure has many close twins (MuSc's insight, in one image).
    """
    b, c, h, w = normed.shape
    flat = normed.reshape(b, c, h * w)
    sims = flat.transpose(1, 2) @ flat  # B x N x N
    k = max(1, int(round(fraction * h * w)))
    kth = sims.topk(min(k + 1, h * w), dim=2).values[..., -1]  # +1: each patch's best match is itself
    return (1.0 - kth).reshape(b, 1, h, w)


def patch_inputs(feature_map: torch.Tensor, mutual_fraction: float = 0.0) -> torch.Tensor:
    """B x C x H x W -> B x H x W x (2C [+1]): normalised feature, its deviation from the image mean,
    and optionally its mutual distance (scaled x4 to the features' range)."""
    normed = F.normalize(feature_map.float(), dim=1)
    centred = normed - normed.mean(dim=(2, 3), keepdim=True)
    parts = [normed, centred]
    if mutual_fraction > 0:
        parts.append(4.0 * mutual_distance(normed, mutual_fraction))
    return torch.cat(parts, dim=1).permute(0, 2, 3, 1)


class AnomalyDecoder(nn.Module):
    """Patch features (one map per layer) -> anomaly probability maps; a pure nn.Module."""

    def __init__(self, spec: DecoderSpec, text_anchors: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = spec
        extra = 1 if spec.mutual_fraction > 0 else 0
        deepest = 2 * spec.in_channels[-1] if spec.hypercolumn else 0
        widths = [2 * c + extra + (deepest if i < len(spec.in_channels) - 1 else 0)
                  for i, c in enumerate(spec.in_channels)]
        self.projections = nn.ModuleList(nn.Linear(width, spec.dim) for width in widths)
        if spec.anchors == "text":
            if text_anchors is None:
                text_anchors = torch.zeros(2, spec.dim)  # filled by load_state_dict
            self.register_buffer("anchors", text_anchors.float().reshape(2, spec.dim).clone())
        elif spec.anchors == "learned":
            generator = torch.Generator().manual_seed(0)
            self.anchors = nn.Parameter(torch.randn(2, spec.dim, generator=generator) / spec.dim**0.5)
        else:
            raise ValueError(f"anchors must be 'learned' or 'text', not {spec.anchors!r}")

    def layer_logits(self, layers: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per layer, B x 2 x H_l x W_l logits (normal, abnormal)."""
        if len(layers) != len(self.projections):
            raise ValueError(f"decoder expects {len(self.projections)} layers, got {len(layers)}")
        anchors = F.normalize(self.anchors, dim=1)
        deepest = patch_inputs(layers[-1])[..., : 2 * layers[-1].shape[1]] if self.spec.hypercolumn else None
        out = []
        for index, (projection, feature_map) in enumerate(zip(self.projections, layers)):
            inputs = patch_inputs(feature_map, self.spec.mutual_fraction)
            if deepest is not None and index < len(layers) - 1:
                # Low layers are sharp but know little about what is normal; the deepest layer knows more.
                context = F.interpolate(deepest.permute(0, 3, 1, 2), size=inputs.shape[1:3], mode="bilinear",
                                        align_corners=False)
                inputs = torch.cat([inputs, context.permute(0, 2, 3, 1)], dim=-1)
            embedded = F.normalize(projection(inputs), dim=-1)
            out.append((embedded @ anchors.T / self.spec.temperature).permute(0, 3, 1, 2))
        return out

    def layer_maps(self, layers: Sequence[torch.Tensor], size: int) -> list[torch.Tensor]:
        """Per layer, B x size x size abnormal probability, upsampled bilinearly."""
        maps = []
        for logits in self.layer_logits(layers):
            probability = logits.softmax(dim=1)[:, 1:2]
            maps.append(F.interpolate(probability, size=(size, size), mode="bilinear", align_corners=False)[:, 0])
        return maps

    def forward(self, layers: Sequence[torch.Tensor], size: int) -> torch.Tensor:
        """B x size x size anomaly probability: the mean of the layer maps."""
        return torch.stack(self.layer_maps(layers, size)).mean(dim=0)


def focal_loss(probability: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Binary focal loss on probabilities; soft targets allowed (blended anomalies)."""
    p = probability.clamp(1e-6, 1 - 1e-6)
    p_true = target * p + (1 - target) * (1 - p)
    return (-((1 - p_true) ** gamma) * torch.log(p_true)).mean()


def dice_loss(probability: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per image, averaged; eps keeps all-normal images from dividing by zero."""
    dims = tuple(range(1, probability.dim()))
    intersection = (probability * target).sum(dims)
    union = probability.sum(dims) + target.sum(dims)
    return (1 - (2 * intersection + eps) / (union + eps)).mean()


def decoder_loss(layer_maps: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Focal + dice on each layer's map (B x S x S), summed over layers as in AnomalyGPT."""
    return sum(focal_loss(m, target) + dice_loss(m, target) for m in layer_maps)


# -- checkpoints (safetensors; spec and zero-shot calibration in the metadata) -------------------
def save_decoder(path: str | Path, decoder: AnomalyDecoder, calibration: Calibration | None = None,
                 extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in decoder.state_dict().items()}
    tensors.update({k: v.detach().cpu().contiguous() for k, v in (extra_tensors or {}).items()})
    metadata = {"format": FORMAT, "spec": json.dumps(decoder.spec.to_dict())}
    if calibration is not None:
        metadata["calibration"] = json.dumps(calibration.to_dict())
    save_file(tensors, str(path), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def load_decoder(path: str | Path | None = None) -> tuple[AnomalyDecoder, Calibration | None]:
    """Load a decoder checkpoint (default: the shipped one) and its zero-shot calibration."""
    path = Path(path) if path else SHIPPED_WEIGHTS
    if not path.is_file():
        raise ModelLoadError(f"decoder weights not found: {path}")
    try:
        metadata = read_metadata(path)
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise ModelLoadError(f"cannot read decoder weights {path}: {exc}") from exc
    if metadata.get("format") != FORMAT:
        raise ModelLoadError(f"{path} is not a decoder checkpoint (format {metadata.get('format')!r})")
    try:
        decoder = AnomalyDecoder(DecoderSpec.from_dict(json.loads(metadata["spec"])))
        decoder.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("train.")})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # tampered spec or tensors
        raise ModelLoadError(f"decoder weights {path} do not match their spec: {exc}") from exc
    decoder.eval()
    calibration = Calibration.from_dict(json.loads(metadata["calibration"])) if "calibration" in metadata else None
    return decoder, calibration


def load_decoder_for(config, device: torch.device) -> tuple[AnomalyDecoder, Calibration]:
    """Load the configured decoder and check it was trained on the engine's encoder features."""
    decoder, calibration = load_decoder(config.decoder_weights)
    spec = decoder.spec
    if not spec.fits(config):
        raise ModelLoadError(
            f"decoder was trained for {spec.backbone} layers {list(spec.layers)}, "
            f"the engine runs {config.backbone} layers {list(config.layers)}: "
            "train one with `anomalygpt train-decoder` and set decoder_weights"
        )
    if calibration is None:
        raise ModelLoadError("decoder checkpoint has no zero-shot calibration")
    return decoder.requires_grad_(False).to(device), calibration


def decoder_available(config) -> bool:
    """Whether the configured decoder file exists and was trained for this encoder (metadata only)."""
    path = Path(config.decoder_weights) if config.decoder_weights else SHIPPED_WEIGHTS
    try:
        spec = DecoderSpec.from_dict(json.loads(read_metadata(path)["spec"]))
    except Exception:  # missing, unreadable or foreign file: inspect without the decoder
        return False
    return spec.fits(config)
