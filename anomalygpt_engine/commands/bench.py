"""`anomalygpt bench`: latency, throughput, reference build time and peak memory on this machine."""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from anomalygpt_engine.commands._common import add_engine_options, engine_config
from anomalygpt_engine.imageio import load_image
from anomalygpt_engine.pipeline import Engine


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="measure inspection speed and memory")
    parser.add_argument("--images", type=Path, help="folder of test images (default: synthetic textures)")
    parser.add_argument("--refs", type=Path, help="folder of reference images (default: synthetic textures)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16, help="images in the throughput batch")
    parser.add_argument("--lot-sizes", type=int, nargs="*", default=[10, 50, 100],
                        help="lot sizes to time inspect_lot at (parts per lot)")
    parser.add_argument("--pool-sizes", type=int, nargs="*", default=[0, 8, 32],
                        help="stream pool sizes to time one inspection at")
    parser.add_argument("--json", type=Path)
    add_engine_options(parser)
    parser.set_defaults(func=run, threads=2)


def synthetic_images(count: int, seed: int, size: int = 400) -> list[np.ndarray]:
    """Textured stand-ins so the benchmark runs without any dataset."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size // 8, size // 8, 3)).astype(np.uint8)
    out = []
    for _ in range(count):
        noise = rng.normal(0, 12, (size, size, 3))
        image = np.repeat(np.repeat(base, 8, 0), 8, 1).astype(np.float32) + noise
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out


def _load_folder(folder: Path | None, count: int, seed: int) -> list[np.ndarray]:
    if folder is None:
        return synthetic_images(count, seed)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    return [load_image(p) for p in paths[:count]]


def _stream_latencies(engine: Engine, refs, tests: list[np.ndarray], pool_sizes: list[int], repeats: int) -> dict:
    """Inspect p50 with a stream pool of each size (frozen, so the pool stays that size)."""
    from anomalygpt_engine.stream import StreamEvidence

    out = {}
    for size in pool_sizes:
        stream = StreamEvidence(refs.calibration, engine.config.with_changes(stream_capacity=max(size, 1)))
        if size:
            encoded = engine.encode(synthetic_images(size, seed=5))
            for index in range(size):
                stream.pool.append([fm[index : index + 1] for fm in encoded.layers], str(index), size)
        stream.freeze()
        latencies = []
        for index in range(max(5, repeats // 2)):
            start = time.perf_counter()
            engine.inspect(tests[index % len(tests)], refs, stream=stream if size else None)
            latencies.append((time.perf_counter() - start) * 1000.0)
        out[f"stream_pool{size}_latency_ms_p50"] = float(np.percentile(latencies, 50))
    return out


def _lot_times(engine: Engine, refs, sizes: list[int]) -> dict:
    """Wall time of a whole lot (encode, mutual scoring, recalibration, results) per lot size."""
    from anomalygpt_engine.generators import drain

    out = {}
    for size in sizes:
        images = synthetic_images(size, seed=7, size=256)
        start = time.perf_counter()
        drain(engine.inspect_lot(images, refs))
        out[f"lot{size}_s"] = time.perf_counter() - start
    return out


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(args: argparse.Namespace) -> int:
    engine = Engine(engine_config(args))
    references = _load_folder(args.refs, 4, seed=1)
    tests = _load_folder(args.images, args.batch, seed=2)
    _ = engine.encoder
    timings = {}
    for k in (1, 4):
        start = time.perf_counter()
        refs = engine.build_references(references[:k], product=f"bench-k{k}")
        timings[f"build_refs_s_k{k}"] = time.perf_counter() - start
    refs = engine.build_references(references[:1], product="bench")
    for image in tests[:3]:
        engine.inspect(image, refs)  # warm-up
    latencies = []
    for index in range(args.repeats):
        start = time.perf_counter()
        engine.inspect(tests[index % len(tests)], refs)
        latencies.append((time.perf_counter() - start) * 1000.0)
    start = time.perf_counter()
    for _ in engine.inspect_many(tests, refs):
        pass
    images_per_s = len(tests) / (time.perf_counter() - start)
    report = {
        **_stream_latencies(engine, refs, tests, args.pool_sizes, args.repeats),
        **_lot_times(engine, refs, args.lot_sizes),
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p95": float(np.percentile(latencies, 95)),
        "images_per_s": images_per_s,
        "build_refs_s_k1": timings["build_refs_s_k1"],
        "build_refs_s_k4": timings["build_refs_s_k4"],
        "peak_rss_mb": peak_rss_mb(),
        "threads": torch.get_num_threads(),
        "device": str(engine.device),
        "image_size": engine.config.image_size,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:>18}: {value:.2f}" if isinstance(value, float) else f"{key:>18}: {value}", file=sys.stdout)
    return 0
