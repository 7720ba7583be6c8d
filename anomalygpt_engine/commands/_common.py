"""Options shared by subcommands that build an Engine."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from anomalygpt_engine.config import PRESETS, EngineConfig, preset


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine")
    group.add_argument("--preset", choices=sorted(PRESETS), default="default")
    group.add_argument("--config", type=Path, help="JSON file of EngineConfig fields (applied after --preset)")
    group.add_argument("--backbone", help="encoder name, e.g. efficientnet-lite0, efficientnet-lite2, hf-vision")
    group.add_argument("--backbone-path", help="local model folder for --backbone hf-vision")
    group.add_argument("--layers", type=int, nargs="+", help="encoder layers to take patch features from")
    group.add_argument("--image-size", type=int, help="model input size in pixels")
    group.add_argument("--device", help="auto, cpu or cuda[:N]")
    group.add_argument("--threads", type=int, default=None, help="CPU threads for torch")


def engine_config(args: argparse.Namespace) -> EngineConfig:
    config = preset(args.preset)
    if args.config:
        merged = {**config.to_dict(), **json.loads(args.config.read_text())}
        config = EngineConfig.from_dict(merged)
    overrides = {
        "backbone": args.backbone,
        "backbone_path": args.backbone_path,
        "layers": tuple(args.layers) if args.layers else None,
        "image_size": args.image_size,
        "device": args.device,
        "num_threads": args.threads,
    }
    return config.with_changes(**{k: v for k, v in overrides.items() if v is not None})
