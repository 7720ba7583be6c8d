"""Dialogue latency with the default LLM: load time, first token and tokens/s on N CPU threads.

First token = from ask() to the LLM's first generated token (prompt building + prefill; the
grounded sentence is shown before that and is not counted). Tokens/s = decoding after the first
token. Run: python benchmarks/bench_dialogue.py [--threads 2] [--rounds 3] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from anomalygpt_engine import Engine, EngineConfig
from anomalygpt_engine.dialogue import DialogueSession, Intent

QUESTIONS = ("Is there any anomaly in the image?", "Where is the anomaly?", "How large is it?",
             "What does the anomaly look like?")


def part(seed: int, defect: bool) -> np.ndarray:
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, 256, size=2)
    gray = skdata.brick()[y : y + 256, x : x + 256].astype(np.float32) + rng.normal(0, 2, (256, 256))
    image = np.stack([np.clip(gray, 0, 255).astype(np.uint8)] * 3, axis=2)
    if defect:
        image[40:70, 50:90] = (20, 20, 20)
    return np.ascontiguousarray(image)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="conversations (alternating defective / normal)")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The LLM extends every grounded answer here (the default only extends appearance answers), so
    # each question measures it: the worst case for latency.
    engine = Engine(EngineConfig(device="cpu", num_threads=args.threads, max_new_tokens=args.max_new_tokens,
                                 llm_elaborates=tuple(intent.value for intent in Intent)))
    refs = engine.build_references([part(0, False)], "brick", "a brick wall panel")
    results = [engine.inspect(part(1 + i, i % 2 == 0), refs) for i in range(args.rounds)]
    start = time.perf_counter()
    session = engine.chat(results[0], refs)
    load_s = time.perf_counter() - start
    first, rates, prefill_tokens = [], [], []
    for result in results:
        session = engine.chat(result, refs)
        for question in QUESTIONS:
            session.answer(question)
            llm = session.last_stats.get("llm", {})
            if "prefill_s" in llm:
                first.append(llm["prompt_s"] + llm["prefill_s"])
                prefill_tokens.append(llm["prompt_tokens"] - llm["reused"])
            if llm.get("tokens", 0) >= 2:
                rates.append((llm["tokens"] - 1) / llm["decode_s"])
    # Free decoding of a longer answer: the steadiest tokens/s figure.
    free = DialogueSession(session.findings, session.language_model, session.visual_tokens, max_new_tokens=48,
                           guard=False)
    wall, cpu = time.perf_counter(), time.process_time()
    free.answer("Describe the surface of this part in detail.")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    llm = free.last_stats["llm"]
    report = {
        "llm": session.language_model.name if session.uses_llm else None,
        "threads": args.threads,
        "load_s": round(load_s, 2),
        "first_token_s_median": round(statistics.median(first), 3),
        "first_token_s_max": round(max(first), 3),
        "new_prompt_tokens_median": statistics.median(prefill_tokens),
        "tokens_per_s_answers": round(statistics.median(rates), 1) if rates else None,
        "tokens_per_s_free_48": round((llm["tokens"] - 1) / llm["decode_s"], 1) if llm["tokens"] > 1 else None,
        # Share of the threads' CPU this process got: well below 1 means other jobs were running.
        "cpu_share_free_48": round(cpu / wall / args.threads, 2),
        "llm_verdict_p_yes": [round(engine.chat(r, refs).llm_verdict() or -1, 3) for r in results],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
