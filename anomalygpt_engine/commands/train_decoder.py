"""`anomalygpt train-decoder`: train the localization decoder on simulated anomalies, on CPU.

Resumable (rerun the same command after an interruption) and deterministic for a given seed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from anomalygpt_engine.commands._common import add_engine_options, engine_config
from anomalygpt_engine.generators import drain


def register(subparsers) -> None:
    parser = subparsers.add_parser("train-decoder", help="train the zero-shot localization decoder")
    parser.add_argument("--normals", type=Path, nargs="+", default=[], help="folders of normal images")
    parser.add_argument("--out", type=Path, required=True, help="output .safetensors file")
    parser.add_argument("--no-builtin", action="store_true",
                        help="skip the built-in normals (scikit-image textures, procedural parts)")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dim", type=int, default=128, help="anchor-space size (text anchors force 384)")
    parser.add_argument("--anchors", choices=["learned", "text"], default="learned")
    parser.add_argument("--mutual", type=float, default=0.0,
                        help="add the mutual-distance input (k-th nearest patch in the image, k = MUTUAL x patches)")
    parser.add_argument("--hypercolumn", action="store_true", help="finer layers also see the deepest layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore a saved training state; start over")
    parser.add_argument("--json", type=Path, help="write the training summary here")
    parser.add_argument("--stop-after", type=int, help="stop after this step as if interrupted (rerun resumes)")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from anomalygpt_engine.pipeline import Engine
    from anomalygpt_engine.training.decoder_data import DecoderData
    from anomalygpt_engine.training.decoder_train import TrainConfig, train_decoder

    from anomalygpt_engine.decoder import DecoderSpec

    # Decoders train at 224 px unless told otherwise (the shipped one did; zero-shot inspection runs at
    # the size the decoder was trained at, while the default engine fuses it at 320 px).
    size = args.image_size or DecoderSpec.image_size
    config = engine_config(args).with_changes(device="cpu", num_threads=args.threads or 2, image_size=size)
    torch.set_num_threads(config.num_threads)
    missing = [str(p) for p in args.normals if not p.is_dir()]
    if missing:
        print(f"error: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    data = DecoderData.build(args.normals, builtin=not args.no_builtin, size=config.image_size, seed=args.seed)
    anchors = None
    dim = args.dim
    if args.anchors == "text":
        from anomalygpt_engine.training.decoder_text import text_anchors

        anchors = text_anchors()
        dim = int(anchors.shape[1])
    train_config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                               dim=dim, anchors=args.anchors, mutual_fraction=args.mutual,
                               hypercolumn=args.hypercolumn)
    engine = Engine(config)
    print(f"normals: {len(data.normals)} images, foreign textures: {len(data.textures)}", file=sys.stderr)
    generator = train_decoder(engine.encoder, data, args.out, train_config, tuple(config.layers), config.backbone,
                              config.smoothing_sigma, anchors, resume=not args.fresh, stop_after=args.stop_after)
    bar = tqdm(total=args.steps, desc="train-decoder", unit="step", file=sys.stderr)
    def show(progress) -> None:
        bar.n = progress.step
        bar.set_postfix(loss=f"{progress.loss:.3f}")
        bar.refresh()

    summary = drain(generator, show)
    bar.close()
    if "interrupted_at" in summary:
        print(f"stopped after step {summary['interrupted_at']}; rerun the command to resume", file=sys.stderr)
        return 0
    summary["normals"] = [str(p) for p in args.normals]
    summary["builtin"] = not args.no_builtin
    print(json.dumps({k: v for k, v in summary.items() if k != "calibration"}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0
