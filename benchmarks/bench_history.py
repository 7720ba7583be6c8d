"""History store targets with 100,000 inspections in SQLite: open + filter <= 150 ms,
record (row + files) <= 20 ms p95, CSV export of 10,000 rows <= 3 s.

The 100k rows are bulk-inserted (sharing a few image files, as content addressing allows) with a
dialogue on every third one; the record timing then uses fresh, distinct images through the public
API, durable (fsync) as in production. Run: python benchmarks/bench_history.py [--rows N] [--dir D]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from anomalygpt_engine.types import InspectionResult, Region, Verdict
from desktop_app.history import HistoryFilter, HistoryStore, Sort
from desktop_app.history.export import export_csv
from desktop_app.history.models import ChatMessage, Inspection

PRODUCTS = ["bracket", "gear", "cap", "hinge", "valve"]


def seed(store: HistoryStore, rows: int) -> None:
    for name in PRODUCTS:
        store.create_product(name)
    ids = {p.name: p.id for p in store.list_products()}
    rng = random.Random(0)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    batch, chats, next_id = [], [], 1
    with store._write() as session:
        for i in range(rows):
            verdict = rng.choices(["OK", "REVIEW", "NG"], [0.9, 0.04, 0.06])[0]
            score = {"OK": rng.uniform(0, 0.4), "REVIEW": rng.uniform(0.4, 0.6), "NG": rng.uniform(0.6, 1)}[verdict]
            batch.append(dict(
                uid=f"{i:032x}", time=start + dt.timedelta(seconds=30 * i), station=f"st{i % 4}",
                operator=f"op{i % 12}", product_id=ids[PRODUCTS[i % 5]], source="camera0",
                lot=f"L{i // 500}", serial=f"SN{i:07d}", verdict=verdict, effective_verdict=verdict,
                score=score, raw_score=score, boundary=0.5, raw_boundary=None, regions=[],
                region_count=0, image_width=640, image_height=480, latency_ms=20.0, mode="fewshot",
                engine_version="0.1.0", model_version="lite0", nearest_reference=None,
            ))
            if i % 3 == 0:
                chats.append(dict(inspection_id=next_id, role="user", text="Is there any anomaly?", time=start))
                chats.append(dict(inspection_id=next_id, role="assistant", time=start,
                                  text=rng.choice(["No anomaly.", "A scratch at the top left.", "A dent near the rim."])))
            next_id += 1
            if len(batch) == 5000:
                session.execute(insert(Inspection), batch)
                session.execute(insert(ChatMessage), chats)
                batch, chats = [], []
        if batch:
            session.execute(insert(Inspection), batch)
        if chats:
            session.execute(insert(ChatMessage), chats)
        session.commit()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--size", type=int, default=256, help="side of the recorded test images, px")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_history_"))
    store = HistoryStore(root)
    t0 = time.perf_counter()
    seed(store, args.rows)
    print(f"seeded {store.count():,} inspections in {time.perf_counter() - t0:.1f} s at {root}")
    store.close()

    t0 = time.perf_counter()
    store = HistoryStore(root)
    open_store_ms = (time.perf_counter() - t0) * 1000
    page = 200
    cases = {
        "open (count + first page, newest first)": HistoryFilter(),
        "product": HistoryFilter(products=("gear",)),
        "verdict NG": HistoryFilter(verdicts=("NG",)),
        "date range (1 week)": HistoryFilter(since=dt.datetime(2025, 1, 10, tzinfo=dt.timezone.utc),
                                             until=dt.datetime(2025, 1, 17, tzinfo=dt.timezone.utc)),
        "operator": HistoryFilter(operator="op7"),
        "text in dialogue": HistoryFilter(text="scratch"),
        "product + NG + operator": HistoryFilter(products=("cap",), verdicts=("NG",), operator="op2"),
    }
    print(f"store open (engine + schema check + recovery): {open_store_ms:.0f} ms")
    worst = 0.0
    for name, flt in cases.items():
        runs = [timed(lambda: (store.count(flt), store.query(flt, Sort(), 0, page))) for _ in range(3)]
        worst = max(worst, max(runs))
        print(f"  {name:42s} {min(runs):7.1f} ms best, {max(runs):7.1f} ms worst of 3")
    sort_ms = timed(lambda: store.query(HistoryFilter(), Sort("score"), 0, page))
    print(f"  {'sort by score, first page':42s} {sort_ms:7.1f} ms")

    rng = np.random.default_rng(1)
    latencies = []
    for i in range(args.records):
        image = rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)
        amap = np.zeros((args.size, args.size), np.float32)
        amap[10:60, 10:60] = rng.uniform(0.5, 1.0)
        result = InspectionResult(Verdict.NG, 0.8, amap, (Region((10, 10, 50, 50), 2500, 0.04, (35.0, 35.0),
                                  "top left", 0.9),), (args.size, args.size), PRODUCTS[i % 5], 20.0)
        latencies.append(timed(lambda: store.record_inspection(result, image, station="st1", operator="op1",
                                                               source="bench", engine_version="0.1.0",
                                                               model_version="lite0", boundary=0.5)))
    p95 = float(np.percentile(latencies, 95))
    print(f"record {args.records} inspections ({args.size}x{args.size} RGB, row + 2 PNG files, fsync): "
          f"median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms")

    flt = HistoryFilter(since=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
                        until=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=30 * 10_000))
    out = root / "export.csv"
    t0 = time.perf_counter()
    for _ in export_csv(store, out, flt):
        pass
    csv_s = time.perf_counter() - t0
    lines = sum(1 for _ in open(out, encoding="utf-8-sig")) - 1
    print(f"CSV export of {lines:,} rows: {csv_s:.2f} s")
    print(f"SUMMARY worst open/filter {worst:.0f} ms (target 150) | record p95 {p95:.1f} ms (target 20) | "
          f"CSV 10k {csv_s:.2f} s (target 3)")
    store.close()


if __name__ == "__main__":
    main()
