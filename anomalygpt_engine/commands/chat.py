"""`anomalygpt chat`: inspect one image against references, then talk about it in the terminal."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anomalygpt_engine.commands._common import add_engine_options, engine_config


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="inspect an image and ask questions about it")
    parser.add_argument("image", type=Path)
    parser.add_argument("--refs", type=Path, required=True, help="folder (or file) of normal reference images")
    parser.add_argument("--product", default="product")
    parser.add_argument("--description", default="", help="a few words about the product")
    parser.add_argument("--ask", action="append", help="ask this question (repeatable); else read from stdin")
    parser.add_argument("--llm", help='"smollm2", "none" or a local transformers model folder')
    parser.add_argument("--prompt-weights", help="prompt learner safetensors (default: shipped weights)")
    parser.add_argument("--max-new-tokens", type=int)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from anomalygpt_engine.commands.inspect import expand
    from anomalygpt_engine.imageio import load_image
    from anomalygpt_engine.pipeline import Engine

    config = engine_config(args)
    changes = {"llm": args.llm, "prompt_weights": args.prompt_weights, "max_new_tokens": args.max_new_tokens}
    engine = Engine(config.with_changes(**{k: v for k, v in changes.items() if v is not None}))
    refs = engine.build_references([load_image(p) for p in expand([args.refs])], args.product, args.description)
    result = engine.inspect(load_image(args.image), refs)
    print(f"verdict {result.verdict.value}, score {result.score:.3f}", file=sys.stderr)
    session = engine.chat(result, refs)
    if not session.uses_llm:
        print(f"note: {session.notice}", file=sys.stderr)
    questions = args.ask or (line.strip() for line in sys.stdin)
    for question in questions:
        if not question:
            continue
        print(f"> {question}")
        try:
            for piece in session.ask(question):
                print(piece, end="", flush=True)
        except KeyboardInterrupt:
            session.cancel()
        print()
    return 0
