"""The published-model code path on tiny random stand-ins: load, reference build, inspect, chat timings.

Measures our code (ImageBind towers, memory bank, decoder, prompt learner, LoRA merge, conversation
assembly), not the 7B model: the tiny files are 17 MB. Run on a GPU with --device cuda.
Run: python benchmarks/bench_published_tiny.py [--device cpu|cuda] [--threads 2] [--rounds 10] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
import torch

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.published.tiny import save_tiny_published


def part(seed: int, defect: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = (rng.random((480, 640, 3)) * 60 + 100).astype(np.uint8)
    if defect:
        image[100:220, 200:330] = 250
    return image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report: dict = {"device": args.device, "threads": args.threads, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = save_tiny_published(folder)
        report["write_tiny_files_s"] = time.perf_counter() - start
        engine = Engine(EngineConfig(**paths.config_fields(), device=args.device))
        start = time.perf_counter()
        _ = engine.encoder
        report["load_imagebind_s"] = time.perf_counter() - start
        start = time.perf_counter()
        _ = engine.llm
        report["load_llm_lora_merge_s"] = time.perf_counter() - start
        start = time.perf_counter()
        refs = engine.build_references([part(0, False)], "bottle", "A bottle.")
        report["build_references_1shot_s"] = time.perf_counter() - start
        inspect_ms, zero_ms, first_ms, turn_ms = [], [], [], []
        for index in range(args.rounds):
            image = part(index + 1, index % 2 == 0)
            result = engine.inspect(image, refs)
            inspect_ms.append(result.latency_ms)
            zero_ms.append(engine.inspect(image).latency_ms)
            session = engine.chat(result, refs)
            start = time.perf_counter()
            pieces = session.ask("Is there any anomaly in the image?")
            next(pieces, None)
            first_ms.append((time.perf_counter() - start) * 1000)
            for _ in pieces:
                pass
            start = time.perf_counter()
            session.answer("Where is the anomaly?")
            turn_ms.append((time.perf_counter() - start) * 1000)
        report.update(
            inspect_fewshot_with_llm_verdict_ms_p50=statistics.median(inspect_ms[1:] or inspect_ms),
            inspect_zeroshot_with_llm_verdict_ms_p50=statistics.median(zero_ms[1:] or zero_ms),
            chat_first_text_ms_p50=statistics.median(first_ms), chat_second_turn_ms_p50=statistics.median(turn_ms),
            max_new_tokens=max(engine.config.max_new_tokens, 128))
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
