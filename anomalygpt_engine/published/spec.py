"""Shapes and tensor names of the published AnomalyGPT artefacts, derived from the reference code.

Names are an interface: the released files can only be read under the names their training code
gave them. They were read off CASIA-IVA-Lab/AnomalyGPT (code/model/openllama.py,
AnomalyGPT_models.py, ImageBind/models/*.py) and PandaGPT's training agent (trainable parameters of
`OpenLLAMAPEFTModel`, saved with peft 0.3.0 names). The modules here are our own code.

ImageBind-Huge (`imagebind_huge.pth`, a plain state dict of all six modalities; we use two):
- vision: a Conv3d patch stem over a 2-frame "video" (the image repeated), a class token, learned
  positions (1 + 16 x 16 at 224 px), a LayerNorm before 32 pre-LN blocks of width 1280
  (nn.MultiheadAttention, GELU MLP x4), then LayerNorm -> class token -> Linear(1280, 1024) -> L2.
  AnomalyGPT also takes the raw outputs of blocks 7, 15, 23 and 31 (0-based) as patch tokens.
- text: CLIP BPE tokens (77), learned positions, 24 causal blocks of width 1024, the end-of-text
  token -> LayerNorm -> Linear(1024, 1024) -> L2 -> learned logit scale.
AnomalyGPT checkpoint: `image_decoder.fc.{0..3}` (Linear 1280 -> 1024 per tapped block) and
`prompt_learner` (`meta_net`: five conv3x3 + ReLU + maxpool stages 1 -> 4 -> 16 -> 64 -> 256 -> 1024
channels over the 224 x 224 map, then conv5x5 to the LLM width: 3 x 3 = 9 map prompts; plus 9
learned `base_prompts`). PandaGPT delta: `llama_proj` (Linear 1024 -> 4096) and LoRA r = 32 on the
q/k/v/o projections of every Vicuna layer.
"""
from __future__ import annotations

from dataclasses import dataclass

OTHER_MODALITIES = ("audio", "depth", "thermal", "imu")
BLOCK_PARTS = {  # suffix -> shape as a function of width w
    "attn.in_proj_weight": lambda w: (3 * w, w),
    "attn.in_proj_bias": lambda w: (3 * w,),
    "attn.out_proj.weight": lambda w: (w, w),
    "attn.out_proj.bias": lambda w: (w,),
    "norm_1.weight": lambda w: (w,),
    "norm_1.bias": lambda w: (w,),
    "mlp.fc1.weight": lambda w: (4 * w, w),
    "mlp.fc1.bias": lambda w: (4 * w,),
    "mlp.fc2.weight": lambda w: (w, 4 * w),
    "mlp.fc2.bias": lambda w: (w,),
    "norm_2.weight": lambda w: (w,),
    "norm_2.bias": lambda w: (w,),
}
PROMPT_CONV_INDICES = (0, 3, 6, 9, 12, 15)  # conv positions in meta_net (conv, ReLU, pool per stage)
PROMPT_CHANNELS = (1, 4, 16, 64, 256, 1024)  # PromptLearner(1, hidden): dim_in x 4^k
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
LORA_PREFIX = "llama_model.base_model.model.model.layers"


@dataclass(frozen=True)
class ImageBindSpec:
    """The widths that fix every tensor shape; the published model is `ImageBindSpec()`."""

    vision_width: int = 1280
    vision_blocks: int = 32
    text_width: int = 1024
    text_blocks: int = 24
    embed_dim: int = 1024
    vocab_size: int = 49408
    heads: int = 16
    patch: int = 14
    image_size: int = 224
    context_length: int = 77

    @property
    def grid(self) -> int:
        return self.image_size // self.patch

    @property
    def tapped_blocks(self) -> tuple[int, ...]:
        """Blocks whose outputs feed the decoder: 7, 15, 23, 31 of 32 (every quarter, 0-based)."""
        return tuple((i + 1) * self.vision_blocks // 4 - 1 for i in range(4))


def _blocks(prefix: str, width: int, count: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.blocks.{i}.{part}": shape(width) for i in range(count) for part, shape in BLOCK_PARTS.items()}


def vision_keys(spec: ImageBindSpec) -> dict[str, tuple[int, ...]]:
    w = spec.vision_width
    keys = {
        "modality_preprocessors.vision.cls_token": (1, 1, w),
        "modality_preprocessors.vision.rgbt_stem.proj.1.weight": (w, 3, 2, spec.patch, spec.patch),
        "modality_preprocessors.vision.pos_embedding_helper.pos_embed": (1, 1 + spec.grid**2, w),
        "modality_trunks.vision.pre_transformer_layer.0.weight": (w,),
        "modality_trunks.vision.pre_transformer_layer.0.bias": (w,),
    }
    keys.update(_blocks("modality_trunks.vision", w, spec.vision_blocks))
    keys.update({
        "modality_heads.vision.0.weight": (w,),
        "modality_heads.vision.0.bias": (w,),
        "modality_heads.vision.2.weight": (spec.embed_dim, w),
    })
    return keys


def text_keys(spec: ImageBindSpec) -> dict[str, tuple[int, ...]]:
    t = spec.text_width
    keys = {
        "modality_preprocessors.text.token_embedding.weight": (spec.vocab_size, t),
        "modality_preprocessors.text.pos_embed": (1, spec.context_length, t),
        "modality_preprocessors.text.mask": (spec.context_length, spec.context_length),
    }
    keys.update(_blocks("modality_trunks.text", t, spec.text_blocks))
    keys.update({
        "modality_heads.text.proj.0.weight": (t,),
        "modality_heads.text.proj.0.bias": (t,),
        "modality_heads.text.proj.1.weight": (spec.embed_dim, t),
        "modality_postprocessors.text.1.log_logit_scale": (),
    })
    return keys


def is_other_modality(key: str) -> bool:
    """ImageBind tensors of modalities AnomalyGPT never feeds (audio, depth, thermal, IMU)."""
    parts = key.split(".")
    return len(parts) > 1 and parts[0].startswith("modality_") and parts[1] in OTHER_MODALITIES


def spec_from_imagebind(shapes: dict[str, tuple[int, ...]]) -> ImageBindSpec:
    """Read the widths and depths off a state dict's shapes (so tiny test models load too)."""
    def count(prefix: str) -> int:
        ids = {int(k[len(prefix):].split(".")[0]) for k in shapes if k.startswith(prefix)}
        return max(ids) + 1 if ids else 0

    cls = shapes.get("modality_preprocessors.vision.cls_token")
    head = shapes.get("modality_heads.vision.2.weight")
    pos = shapes.get("modality_preprocessors.vision.pos_embedding_helper.pos_embed")
    stem = shapes.get("modality_preprocessors.vision.rgbt_stem.proj.1.weight")
    if not (cls and head and pos and stem):
        return ImageBindSpec()  # not an ImageBind file: the published shapes are what we report against
    patch = int(stem[-1])
    grid = int(round((pos[1] - 1) ** 0.5))
    embedding = shapes.get("modality_preprocessors.text.token_embedding.weight", (49408, 1024))
    positions = shapes.get("modality_preprocessors.text.pos_embed", (1, 77, 1024))
    return ImageBindSpec(
        vision_width=int(cls[-1]), vision_blocks=count("modality_trunks.vision.blocks."),
        text_width=int(embedding[1]), text_blocks=count("modality_trunks.text.blocks.") or 24,
        embed_dim=int(head[0]), vocab_size=int(embedding[0]), patch=patch, image_size=grid * patch,
        context_length=int(positions[1]),
    )


def decoder_keys(vision_width: int, embed_dim: int, tapped: int = 4) -> dict[str, tuple[int, ...]]:
    keys = {}
    for i in range(tapped):
        keys[f"image_decoder.fc.{i}.weight"] = (embed_dim, vision_width)
        keys[f"image_decoder.fc.{i}.bias"] = (embed_dim,)
    return keys


def prompt_learner_keys(hidden: int) -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {}
    channels = PROMPT_CHANNELS + (hidden,)
    for stage, index in enumerate(PROMPT_CONV_INDICES):
        kernel = 5 if stage == len(PROMPT_CONV_INDICES) - 1 else 3
        keys[f"prompt_learner.meta_net.{index}.weight"] = (channels[stage + 1], channels[stage], kernel, kernel)
        keys[f"prompt_learner.meta_net.{index}.bias"] = (channels[stage + 1],)
    keys["prompt_learner.base_prompts"] = (9, hidden)
    return keys


def projection_keys(embed_dim: int, hidden: int) -> dict[str, tuple[int, ...]]:
    return {"llama_proj.weight": (hidden, embed_dim), "llama_proj.bias": (hidden,)}


def lora_keys(layers: int, hidden: int, rank: int, kv_width: int | None = None) -> dict[str, tuple[int, ...]]:
    """peft >= 0.3 names (adapter "default"); k/v outputs are narrower under grouped-query attention."""
    keys = {}
    for i in range(layers):
        for target in LORA_TARGETS:
            out = kv_width if (kv_width and target in ("k_proj", "v_proj")) else hidden
            base = f"{LORA_PREFIX}.{i}.self_attn.{target}"
            keys[f"{base}.lora_A.default.weight"] = (rank, hidden)
            keys[f"{base}.lora_B.default.weight"] = (out, rank)
    return keys


def canonical_lora_key(key: str) -> str:
    """Older peft saved `lora_A.weight`; both name the same tensor as `lora_A.default.weight`."""
    for part in ("lora_A", "lora_B"):
        if f".{part}.weight" in key:
            return key.replace(f".{part}.weight", f".{part}.default.weight")
    return key


def is_lora_key(key: str) -> bool:
    return key.startswith(LORA_PREFIX) and (".lora_A." in key or ".lora_B." in key)
