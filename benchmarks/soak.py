"""Soak: many inspections through the engine and the history store in one process.

    python benchmarks/soak.py --inspections 20000 --threads 1 --json benchmarks/results/soak.json

A station runs for months; a leak of a few kB per inspection is a crash a few weeks later. Every
image is a distinct ball-screw crop (distinct content, so every record writes its own files, as on
a line), inspected by the default engine and recorded by a durable SQLite store; every 1000
inspections the history browser's queries run too. Each window of --window inspections reports RSS,
throughput and latency; the run fails (exit 1) if RSS after warm-up grows more than --max-growth-mb.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def image_source(size: int, seed: int = 0):
    """Endless distinct images: crops of the demo pictures with a running counter in the pixels."""
    import numpy as np

    from anomalygpt_engine import load_image

    pictures = [load_image(p) for p in sorted((ROOT / "resources/samples/ballscrew/test").glob("*.jpg"))]
    rng = np.random.default_rng(seed)
    counter = 0
    while True:
        picture = pictures[counter % len(pictures)]
        y, x = rng.integers(0, picture.shape[0] - size), rng.integers(0, picture.shape[1] - size)
        image = picture[y : y + size, x : x + size].copy()
        image[0, :4] = np.frombuffer(counter.to_bytes(12, "little"), np.uint8).reshape(4, 3)
        counter += 1
        yield image


def references(size: int):
    from anomalygpt_engine import load_image

    paths = sorted((ROOT / "resources/samples/ballscrew/references").glob("*.jpg"))
    return [load_image(p)[:size, :size].copy() for p in paths[:2]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inspections", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=128, help="side of the (square) images in pixels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=2000, help="inspections before the RSS baseline")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--data", type=Path, help="history folder (default: a temporary one)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import psutil
    import torch

    from anomalygpt_engine import Engine, EngineConfig, __version__
    from anomalygpt_engine.identity import short_name
    from anomalygpt_engine.types import DECISION_BOUNDARY
    from desktop_app.history import HistoryStore

    torch.set_num_threads(args.threads)
    process = psutil.Process()
    engine = Engine(EngineConfig(llm="none", num_threads=args.threads, device="cpu"))
    refs = engine.build_references(references(args.size), "soak", "ball screw")
    identity = engine.identity()
    model_version = short_name(identity)
    temp = None if args.data else tempfile.TemporaryDirectory(prefix="agpt-soak-")
    data = args.data or Path(temp.name)
    windows: list[dict[str, float]] = []
    images = image_source(args.size)
    started = time.perf_counter()
    with HistoryStore(data) as store:
        latencies: list[float] = []
        window_start = time.perf_counter()
        for index in range(1, args.inspections + 1):
            t0 = time.perf_counter()
            image = next(images)
            result = engine.inspect(image, refs)
            store.record_inspection(result, image, station="soak", operator="soak", source=f"soak/{index}",
                                    engine_version=__version__, model_version=model_version,
                                    boundary=DECISION_BOUNDARY, models=identity)
            latencies.append((time.perf_counter() - t0) * 1000)
            if index % 1000 == 0:  # what the history browser asks while the station runs
                store.count()
                store.query(limit=100)
            if index % args.window == 0:
                now = time.perf_counter()
                ordered = sorted(latencies)
                windows.append({
                    "done": index, "elapsed_s": round(now - started, 1),
                    "rss_mb": round(process.memory_info().rss / 2**20, 1),
                    "per_s": round(len(latencies) / (now - window_start), 2),
                    "p50_ms": round(ordered[len(ordered) // 2], 1),
                    "p95_ms": round(ordered[int(len(ordered) * 0.95)], 1),
                })
                print(json.dumps(windows[-1]), flush=True)
                latencies, window_start = [], now
        rows = store.count()
        files = len(store.files.iter_files())
    db_mb = (data / "history.sqlite3").stat().st_size / 2**20
    if temp is not None:
        temp.cleanup()
    summary = summarise(windows, args, rows, files, db_mb, time.perf_counter() - started)
    print(json.dumps({k: v for k, v in summary.items() if k != "windows"}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


def summarise(windows, args, rows: int, files: int, db_mb: float, total_s: float) -> dict[str, object]:
    rss = [w["rss_mb"] for w in windows]
    after_warmup = [w["rss_mb"] for w in windows if w["done"] >= args.warmup] or rss
    rates = [w["per_s"] for w in windows]
    growth = after_warmup[-1] - after_warmup[0]
    return {
        "inspections": args.inspections, "rows": rows, "files": files, "db_mb": round(db_mb, 1),
        "image_size": args.size, "threads": args.threads, "total_s": round(total_s, 1),
        "rss_start_mb": rss[0], "rss_end_mb": rss[-1], "rss_max_mb": max(rss),
        "rss_growth_after_warmup_mb": round(growth, 1),
        "per_s_first_window": rates[0], "per_s_last_window": rates[-1],
        "per_s_median": statistics.median(rates), "per_s_min": min(rates), "per_s_max": max(rates),
        "ok": rows == args.inspections and files > 0 and growth <= args.max_growth_mb,
        "pid": os.getpid(), "windows": windows,
    }


if __name__ == "__main__":
    raise SystemExit(main())
