"""Vicuna-7B v0 with PandaGPT's LoRA merged through peft, `llama_proj`, and AnomalyGPT's heads.

Order as the released code: the PandaGPT delta first, then the AnomalyGPT checkpoint, whose
tensors replace the delta's where both have them. LoRA (r = 32, alpha = 32 on q/k/v/o) is merged
into the Vicuna weights once at load, so inference runs a plain Llama.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from anomalygpt_engine.errors import CheckpointKeysError, InsufficientMemoryError, ModelLoadError
from anomalygpt_engine.llm.model import LanguageModel
from anomalygpt_engine.published import spec as S
from anomalygpt_engine.published.files import expect_role, llama_config, read_state, require_keys, shapes_of
from anomalygpt_engine.published.heads import MapPromptLearner, PatchDecoder, load_heads

LORA_ALPHA = 32  # the released training arguments: lora_r 32, lora_alpha 32 (scaling 1)
GIB = 1024**3


@dataclass(frozen=True)
class LlamaShape:
    layers: int
    hidden: int
    kv_width: int
    intermediate: int
    vocab: int
    tied: bool

    @classmethod
    def from_config(cls, config: Mapping) -> LlamaShape:
        hidden = int(config["hidden_size"])
        heads = int(config["num_attention_heads"])
        kv_heads = int(config.get("num_key_value_heads") or heads)
        return cls(int(config["num_hidden_layers"]), hidden, hidden // heads * kv_heads,
                   int(config["intermediate_size"]), int(config["vocab_size"]),
                   bool(config.get("tie_word_embeddings", False)))

    @property
    def parameters(self) -> int:
        h = self.hidden
        per_layer = 2 * h * h + 2 * h * self.kv_width + 3 * h * self.intermediate + 2 * h
        return self.layers * per_layer + self.vocab * h * (1 if self.tied else 2) + h


def read_adapters(delta_path: str | Path, checkpoint_path: str | Path, embed_dim: int, vision_width: int,
                  shape: LlamaShape) -> tuple[dict[str, torch.Tensor], int]:
    """The merged adapter state (llama_proj, LoRA, image_decoder, prompt_learner), every key checked,
    and the LoRA rank."""
    delta = {S.canonical_lora_key(k): v for k, v in read_state(delta_path, "PandaGPT delta").items()}
    expect_role(delta_path, set(delta), "pandagpt-delta")
    checkpoint = {S.canonical_lora_key(k): v for k, v in read_state(checkpoint_path, "AnomalyGPT checkpoint").items()}
    expect_role(checkpoint_path, set(checkpoint), "anomalygpt")
    ranks = {int(v.shape[0]) for k, v in delta.items() if k.endswith("lora_A.default.weight")}
    if len(ranks) != 1:
        raise CheckpointKeysError(f"PandaGPT delta {delta_path}: no consistent LoRA rank ({sorted(ranks)})")
    rank = ranks.pop()
    adapters = {**S.projection_keys(embed_dim, shape.hidden), **S.lora_keys(shape.layers, shape.hidden, rank,
                                                                            shape.kv_width)}
    require_keys(delta_path, "PandaGPT delta", shapes_of(delta), adapters)
    heads = {**S.decoder_keys(vision_width, embed_dim), **S.prompt_learner_keys(shape.hidden)}
    require_keys(checkpoint_path, "AnomalyGPT checkpoint", shapes_of(checkpoint), heads, optional=adapters)
    return {**delta, **checkpoint}, rank


def apply_lora(model: nn.Module, lora: Mapping[str, torch.Tensor], rank: int, merge: bool = True) -> nn.Module:
    """Wrap `model` with peft LoRA on q/k/v/o, load the released A/B tensors, and (by default) merge."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=list(S.LORA_TARGETS),
                        bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    names = {k[len("llama_model."):]: v for k, v in lora.items() if S.is_lora_key(k)}
    wanted = {n for n, _ in peft_model.named_parameters() if ".lora_A." in n or ".lora_B." in n}
    if set(names) != wanted:
        raise CheckpointKeysError(
            f"LoRA tensors do not match the model: {len(wanted - set(names))} missing, "
            f"{len(set(names) - wanted)} unexpected (e.g. {sorted(set(names) ^ wanted)[:2]})",
            tuple(sorted(wanted - set(names))), tuple(sorted(set(names) - wanted)))
    dtype = next(model.parameters()).dtype
    peft_model.load_state_dict({k: v.to(dtype) for k, v in names.items()}, strict=False)
    peft_model.eval()
    return peft_model.merge_and_unload() if merge else peft_model


def load_vicuna(folder: str | Path, dtype: torch.dtype, device: torch.device | None = None):
    """(model, tokenizer) from a local transformers folder, placed on `device` while loading (CUDA: no
    13 GB detour through RAM), else on the CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    llama_config(folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, ImportError, KeyError) as exc:
        raise ModelLoadError(f"Vicuna tokenizer in {folder}: {exc} (a tokenizer.model may need "
                             "`pip install sentencepiece protobuf`)") from exc
    try:
        placement = {"device_map": {"": str(device)}} if device is not None and device.type == "cuda" else {}
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=dtype, **placement)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"Vicuna weights in {folder}: {exc}") from exc
    return model.eval().requires_grad_(False), tokenizer


@dataclass
class PublishedLLM:
    """The language half: Vicuna (LoRA merged), llama_proj, and AnomalyGPT's decoder and prompt learner."""

    language: LanguageModel
    projection: nn.Linear
    decoder: PatchDecoder
    learner: MapPromptLearner
    rank: int

    @property
    def hidden(self) -> int:
        return self.language.hidden_size


def load_published_llm(vicuna: str | Path, delta: str | Path, checkpoint: str | Path, embed_dim: int,
                       vision_width: int, device: torch.device, dtype: torch.dtype) -> PublishedLLM:
    shape = LlamaShape.from_config(llama_config(vicuna))
    adapters, rank = read_adapters(delta, checkpoint, embed_dim, vision_width, shape)
    model, tokenizer = load_vicuna(vicuna, dtype, device)
    model = apply_lora(model, adapters, rank, merge=True).to(device)
    projection = nn.Linear(embed_dim, shape.hidden)
    projection.load_state_dict({"weight": adapters["llama_proj.weight"], "bias": adapters["llama_proj.bias"]})
    decoder, learner = load_heads(adapters, vision_width, embed_dim, shape.hidden)
    return PublishedLLM(LanguageModel(model=model, tokenizer=tokenizer, name=f"{Path(vicuna).name} + AnomalyGPT"),
                        projection.to(device, dtype).eval().requires_grad_(False),
                        decoder.to(device, dtype), learner.to(device, dtype), rank)


def required_bytes(vision_params: int, text_params: int, shape: LlamaShape, dtype: torch.dtype) -> int:
    """Weights in `dtype` (+ prompt learner, decoder, projection) and room for activations and the KV cache."""
    heads = S.prompt_learner_keys(shape.hidden)
    head_params = sum(_numel(s) for s in heads.values()) + 4 * 1280 * 1024 + 1024 * shape.hidden
    weights = (vision_params + text_params + shape.parameters + head_params) * torch.finfo(dtype).bits // 8
    return int(weights * 1.1) + (GIB if weights > 4 * GIB else 0)


def check_memory(device: torch.device, needed: int) -> None:
    """InsufficientMemoryError before loading what cannot fit (the message says what is needed)."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        where = f"{device} ({torch.cuda.get_device_name(device)}, {total / GIB:.1f} GiB)"
    else:
        import psutil

        free, where = psutil.virtual_memory().available, "CPU RAM"
    if needed > free:
        raise InsufficientMemoryError(
            f"the published AnomalyGPT model needs about {needed / GIB:.1f} GiB on {where}, "
            f"{free / GIB:.1f} GiB is free: free memory, use a larger GPU, or device='cpu' (fp32, slow)",
            needed, int(free))


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
