"""`anomalygpt check-model PATHS...`: what the published AnomalyGPT files hold, and whether they fit."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check-model", help="check the published AnomalyGPT weights (ImageBind, Vicuna, PandaGPT delta, checkpoint)")
    parser.add_argument("paths", nargs="+", help="imagebind_huge.pth, the Vicuna folder, the PandaGPT delta, the "
                                                 "AnomalyGPT pytorch_model.pt, bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--load", action="store_true",
                        help="also load every model through the engine (reads all tensors; default: headers only)")
    parser.add_argument("--device", default="auto", help="for --load: auto, cpu or cuda[:N]")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomalygpt_engine.published import check

    reports = [check.check_file(path) for path in args.paths]
    summary = {"files": [check.as_dict(r) for r in reports], "consistency": check.consistency(reports),
               "memory": check.memory_needed(reports)}
    ok = all(r.matches for r in reports) and not summary["consistency"]
    if args.load and ok:
        summary["load"] = check.load_check(reports, args.device)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0 if ok else 1
    for report in reports:
        status = "OK " if report.matches else "BAD"
        print(f"[{status}] {report.path}\n      {report.description}: {report.tensors} tensors, "
              f"{report.parameters:,} parameters, {report.size_bytes / 1e6:.1f} MB on disk")
        for part, count in sorted(report.parts.items()):
            print(f"      - {part}: {count:,} parameters")
        if report.facts:
            print("      " + ", ".join(f"{k} {v}" for k, v in report.facts.items()))
        if report.dtypes:
            print("      dtypes: " + ", ".join(f"{k} x{v}" for k, v in report.dtypes.items()))
        for problem in report.problems:
            print(f"      ! {problem}")
    for line in summary["consistency"]:
        print(f"! {line}")
    memory = summary["memory"]
    print(f"memory needed: ~{memory['cuda_fp16_gib']:.1f} GiB GPU (fp16), ~{memory['cpu_fp32_gib']:.1f} GiB RAM (CPU)")
    if "load" in summary:
        print("loaded: " + ", ".join(f"{k} {v:.2f}" for k, v in summary["load"].items()))
    elif args.load:
        print("not loaded: fix the problems above first", file=sys.stderr)
    return 0 if ok else 1
