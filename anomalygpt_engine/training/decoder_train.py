"""Train the localization decoder on simulated anomalies, encoder frozen; CPU-feasible and resumable.

Every `checkpoint_every` steps the decoder and Adam's moments go to `<out>.state.safetensors`; a rerun
with the same command continues from there and, since batches are a function of (seed, step),
ends with the same weights as an uninterrupted run. At the end the decoder's zero-shot calibration
is fitted on held-out normals and simulated anomalies and stored in the checkpoint's metadata.
"""
from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file

from anomalygpt_engine.backbones import Encoder
from anomalygpt_engine.calibration import Calibration, fit_boundary
from anomalygpt_engine.decoder import AnomalyDecoder, DecoderSpec, decoder_loss, save_decoder
from anomalygpt_engine.synthesis import jitter, simulate_training
from anomalygpt_engine.training.decoder_data import DecoderData, augment

LOSS_SIDE = 56  # loss resolution: the finest encoder grid, enough for 224 px masks at 1/4 scale


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1200
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0
    dim: int = 128
    anchors: str = "learned"
    mutual_fraction: float = 0.0
    hypercolumn: bool = False
    checkpoint_every: int = 100
    calibration_images: int = 48


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int
    loss: float
    seconds: float


def _state_path(out: Path) -> Path:
    return out.with_name(out.stem + ".state.safetensors")


def _save_state(path: Path, decoder: AnomalyDecoder, optimizer: torch.optim.Optimizer, step: int,
                losses: list[float]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"opt.{index}.{key}"] = torch.as_tensor(value).cpu().contiguous()
    meta = {"step": str(step), "losses": json.dumps(losses)}
    save_file(tensors, str(path), metadata=meta)


def _load_state(path: Path, decoder: AnomalyDecoder, optimizer: torch.optim.Optimizer) -> tuple[int, list[float]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = load_file(str(path))
    decoder.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = optimizer.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(state)
    return int(meta["step"]), json.loads(meta["losses"])


def _encode(encoder: Encoder, images: list[np.ndarray], size: int) -> list[torch.Tensor]:
    with torch.no_grad():
        return [layer.float() for layer in encoder.encode(encoder.preprocess(images, size)).layers]


def image_scores(decoder: AnomalyDecoder, encoder: Encoder, images: list[np.ndarray], size: int,
                 sigma: float) -> np.ndarray:
    """Max of the smoothed decoder map per image, as the engine scores zero-shot inspections."""
    with torch.no_grad():
        maps = decoder(_encode(encoder, images, size), size).numpy()
    return np.array([cv2.GaussianBlur(m, (0, 0), sigma).max() if sigma > 0 else m.max() for m in maps])


def fit_zero_shot_calibration(decoder: AnomalyDecoder, encoder: Encoder, data: DecoderData, config: TrainConfig,
                              sigma: float) -> Calibration:
    """Calibration from held-out draws (step indices past training): normals + jitter vs simulated defects."""
    rng = np.random.default_rng([config.seed, 10**9])
    normals, anomalies = [], []
    for _ in range(config.calibration_images):
        image = augment(data.normals[int(rng.integers(len(data.normals)))], rng, data.size)
        normals.append(image if rng.random() < 0.5 else jitter(image, rng))
        anomalies.append(simulate_training(image, rng, textures=data.textures).image)
    normal_scores = np.concatenate([image_scores(decoder, encoder, normals[i : i + 8], data.size, sigma)
                                    for i in range(0, len(normals), 8)])
    anomaly_scores = np.concatenate([image_scores(decoder, encoder, anomalies[i : i + 8], data.size, sigma)
                                     for i in range(0, len(anomalies), 8)])
    # Held-out normals span many products; their 95th percentile, not their max, is the normal tail.
    tail = np.quantile(normal_scores, 0.95)
    calibration = fit_boundary(np.minimum(normal_scores, tail), anomaly_scores)
    return Calibration(calibration.boundary, calibration.scale, tuple(float(s) for s in normal_scores),
                       tuple(float(s) for s in anomaly_scores), "zero-shot:" + calibration.method)


def train_decoder(
    encoder: Encoder, data: DecoderData, out: str | Path, config: TrainConfig, layers: tuple[int, ...],
    backbone: str, smoothing_sigma: float, text_anchors: torch.Tensor | None = None, resume: bool = True,
    stop_after: int | None = None,
) -> Generator[TrainProgress, None, dict]:
    """Yield progress per step; write `out` (safetensors) and return a summary dict.

    `stop_after` ends the run early like an interruption (state saved, no final checkpoint).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    probe = _encode(encoder, data.batch(config.seed, 0, 1).images, data.size)
    spec = DecoderSpec(in_channels=tuple(int(t.shape[1]) for t in probe), backbone=backbone, layers=layers,
                       image_size=data.size, dim=config.dim, anchors=config.anchors,
                       mutual_fraction=config.mutual_fraction, hypercolumn=config.hypercolumn,
                       extra={"train": asdict(config)})
    decoder = AnomalyDecoder(spec, text_anchors)
    optimizer = torch.optim.Adam([p for p in decoder.parameters() if p.requires_grad], lr=config.lr)
    schedule = lambda step: 0.5 * (1 + np.cos(np.pi * min(step, config.steps) / config.steps))  # noqa: E731
    state_path = _state_path(out)
    start, losses = (0, [])
    if resume and state_path.is_file():
        start, losses = _load_state(state_path, decoder, optimizer)
    began = time.perf_counter()
    for step in range(start, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.lr * schedule(step)
        batch = data.batch(config.seed, step, config.batch_size)
        features = _encode(encoder, batch.images, data.size)
        target = torch.from_numpy(batch.masks).unsqueeze(1)
        target = torch.nn.functional.interpolate(target, size=(LOSS_SIDE, LOSS_SIDE), mode="area")[:, 0]
        target = (target > 0.3).float()
        loss = decoder_loss(decoder.layer_maps(features, LOSS_SIDE), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        stopping = stop_after is not None and step + 1 >= stop_after
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps or stopping:
            _save_state(state_path, decoder, optimizer, step + 1, losses)
        yield TrainProgress(step + 1, config.steps, float(loss), time.perf_counter() - began)
        if stopping and step + 1 < config.steps:
            return {"out": str(state_path), "interrupted_at": step + 1, "losses": losses}
    decoder.eval()
    calibration = fit_zero_shot_calibration(decoder, encoder, data, config, smoothing_sigma)
    save_decoder(out, decoder, calibration, {"train.loss_head": torch.tensor(losses[:3])})
    window = max(1, min(50, len(losses) // 4))
    return {"out": str(out), "steps": config.steps, "loss_head": losses[:3],
            "first_loss": float(np.mean(losses[:window])),
            "final_loss": float(np.mean(losses[-window:])), "calibration": calibration.to_dict(),
            "seconds": time.perf_counter() - began}
