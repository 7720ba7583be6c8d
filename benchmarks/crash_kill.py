"""Kill the station with SIGKILL in the middle of a batch, many times, and check what survives.

    python benchmarks/crash_kill.py --runs 25 --images 300 --json benchmarks/results/crash_kill.json

Each run starts the real station (offscreen, history on), which resumes the batch from what the
history already holds, and is killed at a random point: before the product is ready (start-up,
calibration) or after a random number of recorded inspections plus a random fraction of one more,
so kills land inside record writes. After every kill the history is opened as a restarted station
would and checked: the database passes `integrity_check`, every row's files exist and match their
SHA-256, no file lacks a row, no journal entry is left, no image is recorded twice. A last run is
not killed and must finish the batch: every image recorded exactly once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 240.0


def make_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Distinct 160 px crops of the demo ball-screw images (distinct content, distinct files)."""
    import numpy as np
    from PIL import Image

    sources = sorted((ROOT / "resources" / "samples" / "ballscrew" / "test").glob("*.jpg"))
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = np.asarray(Image.open(sources[i % len(sources)]).convert("RGB"))
        y, x = rng.integers(0, image.shape[0] - 160), rng.integers(0, image.shape[1] - 160)
        crop = image[y : y + 160, x : x + 160].astype(np.int16) + rng.integers(-2, 3, (160, 160, 3))
        path = folder / f"part_{i:04d}.png"
        Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


# ---- the station side (a child process) -----------------------------------------------------
def run_station(data_dir: Path, images_dir: Path) -> int:
    """Start the real station, resume the batch from the history, print one line per record."""
    os.environ["ANOMALYGPT_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from anomalygpt_engine import Engine, EngineConfig
    from desktop_app.app import Station
    from desktop_app.capture import list_images
    from desktop_app.history import HistoryStore
    from desktop_app.settings import Settings

    app = QApplication(sys.argv[:1])
    station = Station(Settings(), engine=Engine(EngineConfig(llm="none", num_threads=1)), record_history=True)
    controller = station.controller

    def resume(product: str) -> None:
        with HistoryStore(None) as store:
            done = {row.source for row in store.iter_rows()}
        remaining = [p for p in list_images(images_dir) if str(p) not in done]
        print(f"ready {len(remaining)}", flush=True)
        if not remaining:
            app.quit()
            return
        controller.set_images(remaining)
        controller.inspect_paths(remaining, "batch")

    controller.productReady.connect(resume)
    controller.inspectionDone.connect(lambda record: print(f"recorded {record.name}", flush=True))
    controller.batchDone.connect(lambda done, cancelled: (print(f"batch-done {done}", flush=True), app.quit()))
    station.start(show=False)
    app.exec()
    station.shutdown(save=False)
    return 0


# ---- the checker (the parent) ---------------------------------------------------------------
def check_history(data_dir: Path) -> tuple[dict[str, object], list[str]]:
    """Open the history as a restarted station does and list every inconsistency found."""
    import sqlite3

    from desktop_app.history import HistoryStore

    findings: list[str] = []
    with HistoryStore(None) as store:  # runs recovery of interrupted writes, as a restart does
        rows = list(store.iter_rows())
        referenced: set[str] = set()
        for row in rows:
            columns = store.get(row.id, with_images=False).columns
            for kind in ("image", "heatmap"):
                rel = columns[f"{kind}_path"]
                path = store.files.abspath(rel)
                if not path.is_file():
                    findings.append(f"row {row.id}: {kind} file {rel} missing")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != columns[f"{kind}_sha256"]:
                    findings.append(f"row {row.id}: {kind} file {rel} does not match its hash")
                referenced.add(rel)
        orphans = sorted(set(store.files.iter_files()) - referenced)
        findings += [f"orphan file {rel} (no row)" for rel in orphans]
        journal = list((store.files.root / ".journal").glob("*.json"))
        findings += [f"journal entry left: {p.name}" for p in journal]
        pending = store.pending_count
    sources = [row.source for row in rows]
    if len(set(sources)) != len(sources):
        findings.append(f"{len(sources) - len(set(sources))} image(s) recorded twice")
    db = sqlite3.connect(data_dir / "history.sqlite3")
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    if integrity != "ok":
        findings.append(f"integrity_check: {integrity}")
    partials = [str(p.relative_to(data_dir)) for p in (data_dir / "files").rglob(".tmp-*.part")]
    stats = {"rows": len(rows), "pending_in_spool": pending, "partial_temp_files": len(partials)}
    return stats, findings


def one_run(data_dir: Path, images_dir: Path, rng: random.Random, kill: bool) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(data_dir), str(images_dir)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    phase = "start-up" if kill and rng.random() < 0.15 else "batch"
    kill_at = started + rng.uniform(0.5, 6.0) if phase == "start-up" else None
    target = None
    seen, remaining, stamps = 0, None, []
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    while process.poll() is None:
        now = time.perf_counter()
        if kill_at is not None and now >= kill_at:
            break
        if now - started > READY_TIMEOUT_S + 600:
            phase = "timeout"
            break
        try:
            line = lines.get(timeout=0.005)
        except queue.Empty:
            line = ""
        if line.startswith("ready "):
            remaining = int(line.split()[1])
            if phase == "start-up":  # start-up ended before the chosen moment: kill it now
                kill_at = time.perf_counter()
            if kill and phase == "batch" and remaining:
                target = rng.randrange(0, min(remaining, 30))
        elif line.startswith("recorded "):
            seen += 1
            stamps.append(time.perf_counter())
        if target is not None and seen >= target:
            interval = (stamps[-1] - stamps[-2]) if len(stamps) >= 2 else 0.05
            kill_at = time.perf_counter() + rng.uniform(0, interval)
            target = None
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    code = process.wait()
    return {"phase": phase, "killed": killed, "exit_code": code, "recorded_this_run": seen,
            "remaining_at_start": remaining, "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=25, help="killed runs (a final unkilled run follows)")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "IMAGES_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_station(Path(args.child[0]), Path(args.child[1]))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="agpt-kill-") as work:
        data_dir, images_dir = Path(work) / "data", Path(work) / "images"
        data_dir.mkdir()
        paths = make_images(images_dir, args.images, args.seed)
        os.environ["ANOMALYGPT_DATA_DIR"] = str(data_dir)
        runs, all_findings = [], []
        for index in range(args.runs + 1):
            final = index == args.runs
            run = one_run(data_dir, images_dir, rng, kill=not final)
            stats, findings = check_history(data_dir)
            run.update(stats, findings=findings)
            runs.append(run)
            all_findings += [f"run {index}: {f}" for f in findings]
            print(f"run {index:2d} {run['phase']:8s} killed={run['killed']!s:5s} +{run['recorded_this_run']:3d} "
                  f"rows={stats['rows']:4d} partial={stats['partial_temp_files']} findings={len(findings)}",
                  flush=True)
        final_sources = {str(p) for p in paths}
        _stats, _ = check_history(data_dir)
        from desktop_app.history import HistoryStore

        with HistoryStore(None) as store:
            recorded = sorted(row.source for row in store.iter_rows())
        if sorted(final_sources) != recorded:
            all_findings.append(f"after the final run {len(recorded)} rows for {len(final_sources)} images")
        if runs[-1]["exit_code"] != 0:
            all_findings.append(f"final run exited {runs[-1]['exit_code']}")
    summary = {"runs_killed": sum(r["killed"] for r in runs), "images": args.images,
               "killed_during_startup": sum(r["killed"] and r["phase"] == "start-up" for r in runs),
               "findings": all_findings, "runs": runs}
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if all_findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
