"""`anomalygpt train-prompt`: train the prompt learner on license-clean data, LLM frozen."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from anomalygpt_engine.commands._common import add_engine_options, engine_config


def register(subparsers) -> None:
    parser = subparsers.add_parser("train-prompt", help="train AnomalyGPT's prompt learner (LLM frozen)")
    parser.add_argument("--out", type=Path, default=None, help="safetensors file (default: the shipped weights)")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                        help="folder holding bsdata/ballscrew (license-clean normals); optional")
    parser.add_argument("--llm", default="smollm2", help='"smollm2" or a local transformers model folder')
    parser.add_argument("--reference-sets", type=int, default=3, help="1-shot reference sets per source")
    parser.add_argument("--images-per-set", type=int, default=24)
    parser.add_argument("--minutes", type=float, default=10.0, help="training time budget")
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to 0)")
    parser.add_argument("--first-token-weight", type=float, default=4.0,
                        help="loss weight of the answer's first token (the Yes/No of a verdict question)")
    parser.add_argument("--val-every", type=int, default=100, help="held-out Yes/No accuracy every N steps (0: off)")
    parser.add_argument("--n-base", type=int, default=4)
    parser.add_argument("--n-map", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the training report here")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomalygpt_engine.llm import load_language_model
    from anomalygpt_engine.pipeline import Engine
    from anomalygpt_engine.prompt_learner import DEFAULT_WEIGHTS, PromptLearnerSpec
    from anomalygpt_engine.training.prompt_data import bsdata_source, generate_samples, skimage_sources
    from anomalygpt_engine.training.prompt_train import train_prompt_learner

    config = engine_config(args).with_changes(device="cpu")
    torch.set_num_threads(config.num_threads or 2)
    engine = Engine(config)
    model = load_language_model(*(("smollm2", None) if args.llm == "smollm2" else ("hf", args.llm)))
    sources = skimage_sources() + bsdata_source(args.data_root if args.data_root.is_dir() else None)
    started = time.perf_counter()
    spec_map = 64
    samples = []
    for sample in generate_samples(engine, sources, args.reference_sets, args.images_per_set, spec_map, args.seed):
        samples.append(sample)
        if len(samples) % 24 == 0:
            print(f"data: {len(samples)} samples ({time.perf_counter() - started:.0f} s)", flush=True)
    data_seconds = time.perf_counter() - started
    rng = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(samples), generator=rng).tolist()
    n_val = max(8, len(samples) // 6)
    val, train = [samples[i] for i in order[:n_val]], [samples[i] for i in order[n_val:]]
    spec = PromptLearnerSpec(embed_dim=int(samples[0].embedding.shape[0]), hidden_size=model.hidden_size,
                             n_base=args.n_base, n_map=args.n_map, map_size=spec_map, llm=model.name,
                             backbone=config.backbone)
    print(f"data: {len(train)} train / {len(val)} val samples from {[s.name for s in sources]} "
          f"in {data_seconds:.0f} s", flush=True)
    learner, report = None, None
    for item in train_prompt_learner(model, train, val, spec, args.minutes, args.max_steps, args.batch_size,
                                     args.lr, args.seed, args.first_token_weight, args.val_every):
        if isinstance(item[0], int):
            step, loss, accuracy = item
            if step == 1 or step % 50 == 0:
                print(f"step {step}: loss {loss:.4f}", flush=True)
            if accuracy is not None:
                print(f"step {step}: held-out Yes/No accuracy {accuracy:.3f}", flush=True)
        else:
            learner, report = item
    out = args.out or DEFAULT_WEIGHTS
    summary = {**report.__dict__, "data_seconds": round(data_seconds, 1), "train_samples": len(train),
               "val_samples": len(val), "sources": [s.name for s in sources], "llm": model.name,
               "threads": torch.get_num_threads(), "batch_size": args.batch_size, "lr": args.lr,
               "first_token_weight": args.first_token_weight, "reference_sets": args.reference_sets,
               "images_per_set": args.images_per_set, "seed": args.seed}
    learner.save(out, extra={"training": json.dumps(summary)})
    print(json.dumps(summary, indent=2))
    print(f"saved {out}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0
