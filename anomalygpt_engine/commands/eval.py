"""`anomalygpt eval`: the few-shot protocol over MVTec-layout folders, table + JSON report."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from anomalygpt_engine.commands._common import add_engine_options, engine_config
from anomalygpt_engine.evaluation.datasets import discover_categories
from anomalygpt_engine.evaluation.runner import METRIC_KEYS, PROTOCOLS, evaluate
from anomalygpt_engine.generators import drain
from anomalygpt_engine.pipeline import Engine


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate few-shot detection on MVTec-layout data")
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1],
                        help="references per category (any k up to the train images; 0 only with --protocol lot)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="single",
                        help="single: one image at a time; lot: each category's test images as one unlabeled lot; "
                             "stream: test + unused train/good images one at a time with stream evidence")
    parser.add_argument("--defect-rate", type=float,
                        help="stream only: subsample defective images to this share of the stream (seeded)")
    parser.add_argument("--seeds", type=int, default=5, help="number of reference draws per category")
    parser.add_argument("--categories", nargs="*", help="only these category names")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--mode", choices=["auto", "fewshot", "zeroshot", "fused"],
                        help="memory bank, decoder only (no references) or both (default: the config's)")
    parser.add_argument("--fusion-weight", type=float, help="decoder weight in fused mode")
    parser.add_argument("--decoder-weights", help="decoder safetensors (default: the shipped one)")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def _fmt(value: float) -> str:
    return "  -  " if math.isnan(value) else f"{100 * value:5.1f}"


def format_table(report: dict) -> str:
    lines = []
    header = f"{'category':<28}" + "".join(f"{k:>16}" for k in METRIC_KEYS)
    for k, block in report["shots"].items():
        lines.append(f"== {k}-shot (mean over seeds {block['seeds']}; values in %) ==")
        lines.append(header)
        for key, row in block["categories"].items():
            lines.append(f"{key:<28}" + "".join(f"{_fmt(row[m]):>16}" for m in METRIC_KEYS))
        mean, std = block["mean"], block["std"]
        cells = "".join(f"{_fmt(mean[m]) + ' ±' + _fmt(std[m]).strip():>16}" for m in METRIC_KEYS)
        lines.append(f"{'mean ± std over seeds':<28}" + cells)
    names = {"image_auroc": "image AUROC", "pixel_auroc": "pixel AUROC", "aupro": "AUPRO",
             "accuracy": "accuracy", "f1": "F1", "escape_rate": "escapes", "false_call_rate": "false calls",
             "review_rate": "reviews"}
    summary = "; ".join(
        f"{k}-shot " + ", ".join(f"{names[m]} {100 * b['mean'][m]:.1f}" for m in METRIC_KEYS)
        for k, b in report["shots"].items()
    )
    lines.append(f"summary: {summary}")
    return "\n".join(lines)


def _check_protocol(args: argparse.Namespace, categories) -> str | None:
    """Why the shots / protocol / defect-rate combination cannot run, or None."""
    fewest = min(len(c.train_paths) for c in categories)
    if any(k < 0 or k > fewest for k in args.shots):
        return f"--shots must lie in 0..{fewest} (the fewest train/good images of a category)"
    if 0 in args.shots and args.protocol != "lot":
        return "0 shots (no references) works only with --protocol lot"
    if args.defect_rate is not None and (args.protocol != "stream" or not 0 < args.defect_rate < 1):
        return "--defect-rate needs --protocol stream and a value between 0 and 1"
    return None


def run(args: argparse.Namespace) -> int:
    categories = [c for d in args.data for c in discover_categories(d)]
    if args.categories:
        categories = [c for c in categories if c.root.name in set(args.categories)]
    if not categories:
        print("error: no MVTec-layout categories (train/good + test) found", file=sys.stderr)
        return 2
    problem = _check_protocol(args, categories)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    config = engine_config(args)
    overrides = {"mode": args.mode, "fusion_weight": args.fusion_weight, "decoder_weights": args.decoder_weights}
    engine = Engine(config.with_changes(**{k: v for k, v in overrides.items() if v is not None}))
    def show(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    report = drain(evaluate(engine, categories, args.shots, list(range(args.seeds)), args.protocol,
                            args.defect_rate), show)
    report["config"] = engine.config.to_dict()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    return 0
