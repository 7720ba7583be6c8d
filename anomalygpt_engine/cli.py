"""`anomalygpt` command line: each subcommand lives in its own module under `commands/`.

A command module exposes `register(subparsers)`, which adds its parser and sets `func`, a callable
taking the parsed namespace and returning an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from anomalygpt_engine import commands
from anomalygpt_engine.errors import EngineError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anomalygpt", description="AnomalyGPT Inspector engine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
