"""Choose how a lot moves the boundary, by leave-one-dataset-out over lots of several defect rates.

For every category and 1-shot reference draw it records the reference calibration and the raw scores
(scored one at a time, as a lot with references scores them) of the test images and of the unused
`train/good` images. From those it assembles lots 0%, 10%, 25% and 50% defective (three draws each),
applies each candidate rule to each lot's scores, and scores the rule by balanced accuracy,
1 - (escape rate + false-call rate) / 2, REVIEW counting as NG. Leave-one-dataset-out: the rule
chosen on the other sets is scored on the one held out.

    python benchmarks/lot_rule_study.py --data ../shared/data/mvtec15 ../shared/data/bsdata OUT/synthetic \\
        --seeds 3 --rows lot_rows.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomalygpt_engine import Engine, EngineConfig, load_image  # noqa: E402
from anomalygpt_engine.calibration import LOT_BOUNDS, LOT_SPREAD, Calibration, logit_scale  # noqa: E402
from anomalygpt_engine.evaluation.datasets import discover_categories  # noqa: E402

FRACTIONS = (0.0, 0.1, 0.25, 0.5)
DRAWS = 3
BOUNDS = ((0.8, 1.1), (0.7, 1.3), (0.6, 1.5), (0.5, 2.0))
RULES = ([("lower max x", c) for c in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0)]
         + [("lower max + range x", k) for k in (0.5, 1.0, 1.5, 2.0)]
         + [("lower median + robust sigmas x", k) for k in (3.0, 4.0, 6.0, 8.0)])


def collect(engine: Engine, roots: list[Path], seeds: int) -> list[dict]:
    rows = []
    for root in roots:
        for category in discover_categories(root):
            for seed in range(seeds):
                drawn = category.draw_references(1, seed)
                refs = engine.build_references([load_image(p) for p in drawn], product=category.key)
                test = [engine.inspect(load_image(s.path), refs).raw_score for s in category.test_samples]
                extra = [engine.inspect(load_image(p), refs).raw_score
                         for p in category.train_paths if p not in set(drawn)]
                rows.append({"set": root.name, "category": category.key, "seed": seed,
                             "calibration": refs.calibration.to_dict(), "test": test, "extra_good": extra,
                             "labels": [s.is_anomalous for s in category.test_samples]})
                print(f"{category.key} seed {seed}", file=sys.stderr, flush=True)
    return rows


def lots(row: dict, rng: np.random.Generator):
    """(fraction, scores, labels) of lots built from the row's good and defective images."""
    raw, labels = np.array(row["test"]), np.array(row["labels"], bool)
    good, bad = np.concatenate([raw[~labels], row["extra_good"]]), raw[labels]
    for fraction in FRACTIONS:
        for _ in range(DRAWS if fraction else 1):
            k = 0 if fraction == 0 else max(1, min(len(bad), round(fraction * len(good) / (1 - fraction))))
            picked = bad[rng.choice(len(bad), size=k, replace=False)]
            yield fraction, np.concatenate([good, picked]), np.r_[np.zeros(len(good), bool), np.ones(k, bool)]


def rule_calibration(rule, bounds, scores: np.ndarray, reference: Calibration) -> Calibration:
    if rule is None:
        return reference
    kind, value = rule
    lower = np.sort(scores)[: max(2, math.ceil(len(scores) / 2))]
    median = float(np.median(lower))
    if kind == "lower max x":
        learned = value * lower.max()
    elif kind == "lower max + range x":
        learned = lower.max() + value * (lower.max() - lower.min())
    else:
        learned = median + value * 1.4826 * float(np.median(np.abs(lower - median)))
    boundary = min(max(learned, bounds[0] * reference.boundary), bounds[1] * reference.boundary)
    return Calibration(boundary=boundary, scale=logit_scale(boundary, median))


def tally(rows: list[dict], margin: float) -> dict:
    """Per (rule, bounds) and set: escapes, defective, false calls, good (summed over lots)."""
    out: dict = {}
    candidates = [(None, (1.0, 1.0))] + list(itertools.product(RULES, BOUNDS))
    for row in rows:
        reference = Calibration.from_dict(row["calibration"])
        rng = np.random.default_rng(row["seed"])
        for _, scores, labels in lots(row, rng):
            for rule, bounds in candidates:
                flagged = np.asarray(rule_calibration(rule, bounds, scores, reference).apply(scores)) >= 0.5 - margin
                counts = out.setdefault((rule, bounds), {}).setdefault(row["set"], np.zeros(4))
                counts += [(~flagged & labels).sum(), labels.sum(), (flagged & ~labels).sum(), (~labels).sum()]
    return out


def balanced(counts: np.ndarray) -> float:
    return 1.0 - (counts[0] / max(1, counts[1]) + counts[2] / max(1, counts[3])) / 2


def describe(key) -> str:
    rule, bounds = key
    return "reference boundary alone" if rule is None else f"{rule[0]} {rule[1]} within {bounds[0]}-{bounds[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config", type=Path, help="JSON file of EngineConfig fields to study under")
    parser.add_argument("--rows", type=Path, help="reuse (or save) the recorded scores here")
    args = parser.parse_args()
    if args.rows and args.rows.is_file():
        rows = json.loads(args.rows.read_text())
    else:
        fields = json.loads(args.config.read_text()) if args.config else {}
        rows = collect(Engine(EngineConfig.from_dict({**fields, "num_threads": args.threads})), args.data, args.seeds)
        if args.rows:
            args.rows.write_text(json.dumps(rows))
    table = tally(rows, EngineConfig().review_margin)
    sets = sorted({row["set"] for row in rows})

    def show(key) -> str:
        parts = []
        for s in sets:
            escapes, defective, false_calls, good = table[key][s]
            parts.append(f"{s} {100 * balanced(table[key][s]):.1f} (escapes {100 * escapes / defective:.1f}%, "
                         f"false calls {100 * false_calls / good:.1f}%)")
        return "  ".join(parts)

    print("reference boundary alone:", show((None, (1.0, 1.0))))
    shipped = (("lower median + robust sigmas x", LOT_SPREAD), LOT_BOUNDS)
    print("shipped rule:", show(shipped))
    for held in sets:
        others = [s for s in sets if s != held]
        best = max(table, key=lambda key: np.mean([balanced(table[key][s]) for s in others]))
        print(f"held out {held}: chosen {describe(best)} -> {100 * balanced(table[best][held]):.1f}")
    overall = max(table, key=lambda key: np.mean([balanced(table[key][s]) for s in sets]))
    print("best over all sets:", describe(overall), show(overall))


if __name__ == "__main__":
    main()
