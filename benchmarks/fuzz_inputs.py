"""Long fuzz run of the image loader and Engine.inspect(): the suite's checks, many more cases.

    python benchmarks/fuzz_inputs.py --files 5000 --arrays 400 --inspect-files 200 --json benchmarks/results/fuzz.json

Uses the generators and contract checks of tests/engine/test_fuzz_*.py (random seeds here, fixed
ones in the suite). Prints how many cases ran and how each ended; any other outcome (an exception
that is not an ImageLoadError/EngineError, a malformed result, a case over its time limit) stops
the run, and hypothesis prints the shrunk failing input.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="damaged files through decode/load_image")
    parser.add_argument("--random-bytes", type=int, default=2000)
    parser.add_argument("--arrays", type=int, default=400, help="hostile arrays through Engine.inspect")
    parser.add_argument("--inspect-files", type=int, default=200, help="damaged files decoded then inspected")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import tempfile

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from anomalygpt_engine import Engine, EngineConfig
    from anomalygpt_engine.errors import EngineError
    from anomalygpt_engine.imageio import SUPPORTED_SUFFIXES, decode_image
    from tests.engine.conftest import texture_part
    from tests.engine.test_fuzz_imageio import HEADERS, check_outcome, mutated_files
    from tests.engine.test_fuzz_inspect import hostile_arrays, inspect_or_error

    counts: dict[str, Counter] = {}
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="agpt-fuzz-"))

    def run(name: str, examples: int, strategy, check) -> None:
        tally = counts.setdefault(name, Counter())

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=quiet)
        @given(case=strategy)
        def cases(case) -> None:
            tally[check(case)] += 1

        t0 = time.perf_counter()
        cases()
        print(f"{name}: {sum(tally.values())} cases in {time.perf_counter() - t0:.0f} s {dict(tally)}", flush=True)

    suffixes = st.sampled_from(SUPPORTED_SUFFIXES + (".txt", ".raw", ""))
    run("damaged bytes -> decode_image", args.files, mutated_files(), check_outcome)
    run("damaged files -> load_image (any extension)", args.files // 2, st.tuples(mutated_files(), suffixes),
        lambda case: check_outcome(case[0], folder / f"part{case[1]}"))
    run("random bytes -> decode_image", args.random_bytes, st.binary(min_size=1, max_size=4096), check_outcome)
    headers = counts.setdefault("hostile headers (0x0, 1x1, 30000x30000, bombs)", Counter())
    for name, (data, expected) in HEADERS.items():
        try:
            decode_image(data, name=name)
            headers["decoded"] += 1
        except expected:
            headers["refused as expected"] += 1
    engine = Engine(EngineConfig(device="cpu", llm="none"))
    refs = engine.build_references([texture_part(0), texture_part(1)], "brick")
    run("hostile arrays -> Engine.inspect", args.arrays, hostile_arrays(), lambda a: inspect_or_error(engine, a, refs))

    def file_then_inspect(data: bytes) -> str:
        try:
            image = decode_image(data)
        except EngineError:
            return "refused at decode"
        return inspect_or_error(engine, image, refs)

    run("damaged files -> decode -> inspect", args.inspect_files, mutated_files(), file_then_inspect)
    total = sum(sum(c.values()) for c in counts.values())
    report = {"total_cases": total, "seconds": round(time.perf_counter() - started, 1),
              "by_target": {k: dict(v) for k, v in counts.items()}, "failures": 0}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
