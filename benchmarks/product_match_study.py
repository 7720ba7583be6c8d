"""Wrong-part detection (anomalygpt_engine.product_match) on real data, 1 reference per product.

For every category of ../shared/data/mvtec15 and bsdata: learn the product match from one
reference (drawn per seed), then count (a) the category's own test images (good and defective)
called "wrong part" (must be 0) and (b) the test images of every other category called wrong part
(should be all). Prints per category and writes --json. Also prints each category's ratio
distance / learned drift, so the one design constant FACTOR can be checked.

    nice -n 15 .venv/bin/python benchmarks/product_match_study.py --seeds 3 --json benchmarks/results/product_match.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from anomalygpt_engine import Engine, EngineConfig, load_image
from anomalygpt_engine import product_match as pm

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def categories() -> list[tuple[str, Path]]:
    out = []
    for set_name in ("mvtec15", "bsdata"):
        for folder in sorted((DATA / set_name).iterdir()):
            if (folder / "train" / "good").is_dir():
                out.append((f"{set_name}/{folder.name}", folder))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    engine = Engine(EngineConfig(llm="none", num_threads=args.threads))

    def embed(images):
        rows = []
        for start in range(0, len(images), 8):
            rows.append(engine.encode(images[start:start + 8]).embedding.float().cpu().numpy())
        return np.concatenate(rows)

    started = time.perf_counter()
    cats = categories()
    tests: dict[str, np.ndarray] = {}
    for name, folder in cats:
        paths = sorted(p for p in (folder / "test").rglob("*.png"))
        tests[name] = pm._unit(embed([load_image(p) for p in paths]))
    report: dict = {"factor": pm.FACTOR, "floor": pm.FLOOR, "seeds": args.seeds, "categories": {}}
    own_false = own_total = other_hit = other_total = 0
    for name, folder in cats:
        train = sorted((folder / "train" / "good").glob("*.png"))
        rows = []
        for seed in range(args.seeds):
            ref = load_image(train[np.random.default_rng(seed).integers(len(train))])
            match = pm.learn([ref], embed, seed=seed)
            own = 1.0 - (tests[name] @ match.anchors.T).max(axis=1)
            others = np.concatenate([tests[o] for o, _ in cats if o != name])
            other = 1.0 - (others @ match.anchors.T).max(axis=1)
            rows.append({
                "seed": seed, "drift": match.drift, "threshold": match.threshold,
                "own_wrong": int((own > match.threshold).sum()), "own_n": len(own),
                "other_wrong": int((other > match.threshold).sum()), "other_n": len(other),
                "own_max_ratio": float(own.max() / match.drift), "other_min_ratio": float(other.min() / match.drift),
                "normal_drift": match.normal_drift, "defect_drifts": list(match.defect_drifts),
                "own": own.tolist(), "other": other.tolist(),
            })
            own_false += rows[-1]["own_wrong"]
            own_total += len(own)
            other_hit += rows[-1]["other_wrong"]
            other_total += len(other)
        report["categories"][name] = rows
        print(f"{name:24s} drift {np.mean([r['drift'] for r in rows]):.3f}  own wrong "
              f"{sum(r['own_wrong'] for r in rows)}/{sum(r['own_n'] for r in rows)}  other wrong "
              f"{sum(r['other_wrong'] for r in rows)}/{sum(r['other_n'] for r in rows)}  own max ratio "
              f"{max(r['own_max_ratio'] for r in rows):.2f}  other min ratio {min(r['other_min_ratio'] for r in rows):.2f}",
              flush=True)
    report["own_called_wrong_part"] = [own_false, own_total]
    report["other_called_wrong_part"] = [other_hit, other_total]
    report["seconds"] = time.perf_counter() - started
    print(f"right product called wrong part: {own_false}/{own_total}; other products called wrong part: "
          f"{other_hit}/{other_total} = {100.0 * other_hit / max(1, other_total):.1f}%  ({report['seconds']:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
