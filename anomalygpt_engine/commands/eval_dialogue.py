"""`anomalygpt eval-dialogue`: scripted conversations on MVTec-layout data, scored."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from anomalygpt_engine.commands._common import add_engine_options, engine_config


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval-dialogue", help="score the dialogue on MVTec-layout data")
    parser.add_argument("root", type=Path, help="an MVTec-layout set, e.g. ../shared/data/mvtec15")
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--categories", nargs="+", help="only these categories")
    parser.add_argument("--limit", type=int, help="at most this many test images per category")
    parser.add_argument("--llm", help='"smollm2", "none" or a local transformers model folder')
    parser.add_argument("--prompt-weights", help="prompt learner safetensors (default: shipped weights)")
    parser.add_argument("--max-new-tokens", type=int, help="LLM tokens per answer (0: grounded sentences only)")
    parser.add_argument("--no-llm-verdict", action="store_true", help="skip the LLM's own Yes/No scoring")
    parser.add_argument("--json", type=Path, help="write the summary JSON here")
    parser.add_argument("--records", type=Path, help="write every conversation (JSON lines) here")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomalygpt_engine.evaluation.dialogue_eval import evaluate_dialogue, records_as_dicts
    from anomalygpt_engine.pipeline import Engine

    config = engine_config(args)
    changes = {"llm": args.llm, "prompt_weights": args.prompt_weights, "max_new_tokens": args.max_new_tokens}
    config = config.with_changes(**{k: v for k, v in changes.items() if v is not None})
    engine = Engine(config)
    started = time.perf_counter()
    summary = records = None
    for item in evaluate_dialogue(engine, args.root, args.shots, tuple(args.seeds), args.categories, args.limit,
                                  llm_verdict=not args.no_llm_verdict):
        if isinstance(item, str):
            print(item, file=sys.stderr, flush=True)
        else:
            summary, records = item
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    summary["llm"] = config.llm if config.llm != "hf" else config.llm_path
    summary["max_new_tokens"] = config.max_new_tokens
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    if args.records:
        with args.records.open("w") as handle:
            for record in records_as_dicts(records):
                handle.write(json.dumps(record) + "\n")
    return 0
