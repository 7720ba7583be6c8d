"""Reading the released weight files safely, telling what each one holds, checking its keys.

Only plain tensor containers are read: `torch.load(weights_only=True)` (memory-mapped, so listing a
13 GB file reads its index, not its tensors) or safetensors. A pickle that needs code is refused.
"""
from __future__ import annotations

import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from anomalygpt_engine.errors import CheckpointKeysError, ModelLoadError, WrongModelFileError
from anomalygpt_engine.published import spec as S

ROLE_NAMES = {
    "imagebind": "ImageBind-Huge state dict (imagebind_huge.pth)",
    "pandagpt-delta": "PandaGPT delta (llama_proj + LoRA)",
    "anomalygpt": "AnomalyGPT checkpoint (image_decoder + prompt_learner)",
    "llama-weights": "Llama / Vicuna weights (a transformers shard)",
    "unknown": "unrecognised tensors",
}
CONFIG_FIELDS = {
    "imagebind": "imagebind_path",
    "pandagpt-delta": "pandagpt_delta_path",
    "anomalygpt": "anomalygpt_path",
    "llama-weights": "vicuna_path (the folder)",
}


def read_state(path: str | Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """All tensors of a .pth/.pt/.bin (weights_only, mmap) or .safetensors file, lazily mapped."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{what}: {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"{what}: {path} is not a readable safetensors file ({exc})") from exc
    try:
        state = _torch_load(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{what}: {path} refused: not a plain tensor state dict ({str(exc)[:200]})") from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]  # a trainer's wrapper around the same names
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{what}: {path} does not hold a flat dict of tensors")
    return {str(k): v for k, v in state.items()}


def _torch_load(path: Path):
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc).lower() and "zip" not in str(exc).lower():
            raise
        # Legacy (pre-zip) serialisation cannot be memory-mapped: read it, still weights-only.
        return torch.load(str(path), map_location="cpu", weights_only=True)


def shapes_of(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(int(d) for d in v.shape) for k, v in state.items()}


def classify(keys: set[str] | Mapping) -> str:
    """What a state dict is, from its names alone."""
    keys = set(keys)
    if "modality_trunks.vision.blocks.0.attn.in_proj_weight" in keys or any(k.startswith("modality_") for k in keys):
        return "imagebind"
    if any(k.startswith(("image_decoder.", "prompt_learner.")) for k in keys):
        return "anomalygpt"
    if any(S.is_lora_key(k) for k in keys) or "llama_proj.weight" in keys:
        return "pandagpt-delta"
    if any(k.startswith(("model.layers.", "model.embed_tokens.", "lm_head.")) for k in keys):
        return "llama-weights"
    return "unknown"


def expect_role(path: str | Path, keys: set[str], role: str) -> None:
    """Raise WrongModelFileError when a file given for `role` holds something else."""
    found = classify(keys)
    if found == role:
        return
    hint = f"; it belongs in {CONFIG_FIELDS[found]}" if found in CONFIG_FIELDS else ""
    holds = "unrecognised tensors" if found == "unknown" else f"the {ROLE_NAMES[found]}"
    raise WrongModelFileError(
        f"{path} was given as the {ROLE_NAMES[role]}, but it contains {holds} "
        f"({len(keys)} tensors, e.g. {sorted(keys)[:2]}){hint}"
    )


def compare_keys(
    shapes: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]], optional: Mapping = (),
    ignore=lambda key: False,
) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, wrong-shape) names, comparing a file's shapes with what a model needs."""
    optional = dict(optional)
    missing = sorted(k for k in expected if k not in shapes)
    unexpected = sorted(k for k in shapes if k not in expected and k not in optional and not ignore(k))
    wanted = {**optional, **expected}
    wrong = sorted(f"{k}: {shapes[k]} (expected {wanted[k]})" for k in shapes
                   if k in wanted and tuple(shapes[k]) != tuple(wanted[k]))
    return missing, unexpected, wrong


def require_keys(path, what: str, shapes, expected, optional: Mapping = (), ignore=lambda key: False) -> None:
    """CheckpointKeysError naming the first missing / unexpected / mis-shaped tensors."""
    missing, unexpected, wrong = compare_keys(shapes, expected, optional, ignore)
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    if wrong:
        parts.append(f"{len(wrong)} of the wrong shape (e.g. {wrong[:2]})")
    raise CheckpointKeysError(f"{what} {path}: " + "; ".join(parts), tuple(missing), tuple(unexpected))


def llama_config(folder: str | Path) -> dict:
    """The Vicuna folder's config.json, with a clear error when the folder is not a model folder."""
    folder = Path(folder)
    config_file = folder / "config.json"
    if not folder.is_dir():
        raise ModelLoadError(f"Vicuna folder {folder} does not exist" + (" (it is a file)" if folder.is_file() else ""))
    if not config_file.is_file():
        raise WrongModelFileError(f"{folder} has no config.json: not a transformers model folder (Vicuna-7B v0)")
    config = json.loads(config_file.read_text())
    if "llama" not in str(config.get("model_type", "")).lower():
        raise WrongModelFileError(f"{folder} holds a {config.get('model_type')!r} model, not a Llama (Vicuna) model")
    return config


def weight_files(folder: str | Path) -> list[Path]:
    """The folder's weight shards: safetensors preferred, else PyTorch .bin shards."""
    folder = Path(folder)
    found = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    return [p for p in found if not p.name.startswith("adapter_")]


def header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes of one weights file without reading its data (safetensors header or mmap)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    return shapes_of(read_state(path))


def count_parameters(shapes: Mapping[str, tuple[int, ...]]) -> int:
    total = 0
    for shape in shapes.values():
        n = 1
        for d in shape:
            n *= int(d)
        total += n
    return total
