"""Defect-type accuracy on the real defects the station flags (issue 14's measure, without the dialogue).

mvtec15 + bsdata, k-shot references drawn with a seed; every defective test image is inspected, and
for each one the engine flags (NG or REVIEW) the largest region's attributes go through the type
classifier, exactly as the chat's type answer does. An "unclear type" counts as wrong. The measured
attributes are cached (benchmarks/results/, git-ignored: derived from MVTec, evaluation only), so
other weights are compared on the same regions in a second:

    nice -n 15 .venv/bin/python benchmarks/type_accuracy.py                     # shipped weights
    nice -n 15 .venv/bin/python benchmarks/type_accuracy.py --weights other.safetensors
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SETS = {"mvtec15": DATA / "mvtec15", "bsdata": DATA / "bsdata"}


def collect(shots: int, seed: int, threads: int, preset_name: str = "default") -> dict[str, np.ndarray]:
    """Inspect every defective test image; the flagged ones' largest-region features and truths."""
    from anomalygpt_engine import Engine, load_image, preset
    from anomalygpt_engine.evaluation.datasets import discover_categories
    from anomalygpt_engine.expert.attributes import measure_regions
    from anomalygpt_engine.expert.taxonomy import taxonomy_for

    engine = Engine(preset(preset_name).with_changes(llm="none", num_threads=threads))
    rows: dict[str, list] = {"features": [], "truth": [], "set": [], "category": [], "folder": [], "path": []}
    defective = 0
    started = time.perf_counter()
    for set_name, root in SETS.items():
        for category in discover_categories(root):
            refs = engine.build_references([load_image(p) for p in category.draw_references(shots, seed)],
                                           product=category.root.name)
            for sample in category.test_samples:
                truth = taxonomy_for(sample.defect_type) if sample.is_anomalous else None
                if truth is None:
                    continue
                defective += 1
                image = load_image(sample.path)
                result = engine.inspect(image, refs)
                if not result.is_defective or result.anomaly_map is None:
                    continue
                reference = refs.images[result.nearest_reference] if result.nearest_reference is not None else None
                attributes = measure_regions(image, result.anomaly_map, reference)
                if not attributes:
                    continue
                rows["features"].append(attributes[0].features)
                rows["truth"].append(truth.value)
                rows["set"].append(set_name)
                rows["category"].append(category.root.name)
                rows["folder"].append(sample.defect_type)
                rows["path"].append(str(sample.path))
            print(f"{set_name}/{category.root.name}: {len(rows['truth'])} flagged of {defective} defective, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    out = {k: np.array(v) for k, v in rows.items()}
    out["defective"] = np.array(defective)
    return out


def score(cache: dict[str, np.ndarray], weights: Path | None) -> dict:
    from anomalygpt_engine.expert.defect_types import DEFAULT_WEIGHTS, DefectTypeClassifier

    classifier = DefectTypeClassifier.load(weights or DEFAULT_WEIGHTS)
    if classifier is None:
        raise SystemExit(f"{weights}: no classifier (missing, or trained on other features)")
    probs = classifier.probabilities(cache["features"])
    best = probs.argmax(axis=1)
    said = np.array([classifier.classes[i].value if probs[n, i] >= classifier.threshold else "unclear"
                     for n, i in enumerate(best)])
    truth, sets = cache["truth"], cache["set"]
    report = {"weights": str(weights or DEFAULT_WEIGHTS), "flagged": int(len(truth)),
              "defective": int(cache["defective"]),
              "type_accuracy": round(float((said == truth).mean()), 3) if len(truth) else None,
              "named_rate": round(float((said != "unclear").mean()), 3) if len(truth) else None}
    for name in SETS:
        chosen = sets == name
        report[f"type_accuracy_{name}"] = (f"{int((said[chosen] == truth[chosen]).sum())}/{int(chosen.sum())}")
    report["per_truth"] = {t: f"{int((said[truth == t] == t).sum())}/{int((truth == t).sum())}"
                           for t in sorted(set(truth))}
    confusion: dict[str, dict[str, int]] = {}
    for t, s in zip(truth, said):
        confusion.setdefault(str(t), {}).setdefault(str(s), 0)
        confusion[str(t)][str(s)] += 1
    report["said_per_truth"] = confusion
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="classifier weights (default: the shipped ones)")
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="default", help="engine preset whose maps outline the regions")
    parser.add_argument("--refresh", action="store_true", help="inspect again even if the cache exists")
    args = parser.parse_args(argv)
    missing = [str(p) for p in SETS.values() if not p.is_dir()]
    if missing:
        print(f"skipped: no evaluation data at {', '.join(missing)}")
        return 0
    suffix = "" if args.preset == "default" else f"_{args.preset}"
    cache_path = ROOT / "benchmarks" / "results" / f"type_features_{args.shots}shot_seed{args.seed}{suffix}.npz"
    if args.refresh or not cache_path.is_file():
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_path, **collect(args.shots, args.seed, args.threads, args.preset))
    cache = dict(np.load(cache_path))
    print(json.dumps(score(cache, args.weights), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
