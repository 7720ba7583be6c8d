"""Engine speed and accuracy benchmarks, as reported in the issue notes.

    python benchmarks/bench_engine.py            # speed on synthetic images, then accuracy if ../shared/data exists
    python benchmarks/bench_engine.py --speed    # speed only

Writes benchmarks/results/engine_speed.json and engine_accuracy_<set>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from anomalygpt_engine.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speed", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    code = cli(["bench", "--threads", "2", "--json", str(RESULTS / "engine_speed.json")])
    if args.speed or not DATA.is_dir():
        return code
    for name, shots in (("mvtec15", ["1", "2", "4"]), ("bsdata", ["1", "4"])):
        code |= cli(["eval", "--data", str(DATA / name), "--shots", *shots, "--seeds", str(args.seeds),
                     "--threads", "2", "--quiet", "--json", str(RESULTS / f"engine_accuracy_{name}.json")])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
