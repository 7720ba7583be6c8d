"""Choose the automatic boundary rule by leave-one-dataset-out, not on one data set.

For every category and reference draw it records what calibration sees (held-out references, good
variants, simulated defects) and the raw scores of the test images, then scores each candidate rule
of the family in calibration.fit_boundary (normal-tail quantile x factor, or a position between the
tail and the simulated defects) by verdict accuracy (REVIEW counts as NG). Leave-one-dataset-out: the
rule chosen on all other sets is scored on the one left out.

    python benchmarks/calibration_study.py --data ../shared/data/mvtec15 ../shared/data/bsdata OUT/synthetic \\
        --shots 1 --seeds 3 --json benchmarks/results/calibration_study.json

Rows saved with `--rows FILE` at several shot counts can be studied together (one rule for several
references; a data set is held out with all its shot counts):

    python benchmarks/calibration_study.py --data ... --rows rows_4.json rows_10.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomalygpt_engine import Engine, EngineConfig, load_image  # noqa: E402
from anomalygpt_engine.calibration import TailRule, defect_position, fit_boundary, tail_rule  # noqa: E402
from anomalygpt_engine.evaluation.datasets import discover_categories  # noqa: E402

QUANTILES = (0.5, 0.75, 1.0)
FACTORS = (1.0, 1.1, 1.2, 1.3, 1.5)
POSITIONS = (0.2, 0.35, 0.5, 0.65, 10.0)  # 10: effectively never (the margin rule alone)
HELD_OUT_WEIGHTS = (0.0, 0.5, 0.75, 1.0)  # only matters where both held-out and variant scores exist


def collect(engine: Engine, roots: list[Path], shots: int, seeds: int) -> list[dict]:
    rows = []
    for root in roots:
        for category in discover_categories(root):
            images = {s.path: load_image(s.path) for s in category.test_samples}
            for seed in range(seeds):
                refs = engine.build_references([load_image(p) for p in category.draw_references(shots, seed)],
                                               product=category.key)
                raw = [engine.inspect(images[s.path], refs).raw_score for s in category.test_samples]
                rows.append({"set": root.name, "category": category.key, "seed": seed, "shots": shots,
                             "held_out": refs.calibration.held_out, "normal": list(refs.calibration.normal_scores),
                             "anomaly": list(refs.calibration.anomaly_scores), "raw": raw,
                             "labels": [s.is_anomalous for s in category.test_samples]})
                print(f"{category.key} seed {seed}", file=sys.stderr, flush=True)
    return rows


def accuracy(rows: list[dict], rule: tuple[float, float, float, float], margin: float) -> float:
    """Mean over rows of verdict accuracy, REVIEW (calibrated score >= 0.5 - margin) counting as NG."""
    quantile, factor, position, weight = rule
    values = []
    for row in rows:
        held_out = row.get("held_out", 1 if row["shots"] == 1 else len(row["normal"]))
        calibration = fit_boundary(np.array(row["normal"]), np.array(row["anomaly"]),
                                   TailRule(quantile, factor, weight), position, held_out)
        flagged = np.asarray(calibration.apply(np.array(row["raw"]))) >= 0.5 - margin
        values.append(float((flagged == np.array(row["labels"])).mean()))
    return float(np.mean(values))


def _group(row: dict, several_shots: bool) -> str:
    """A row's group: its data set, or data set @ shots when rows of several shot counts are studied."""
    return f"{row['set']}@{row['shots']}" if several_shots else row["set"]


def study(rows: list[dict], margin: float) -> dict:
    """Accuracy of every rule per group, and leave-one-dataset-out: a data set is held out with all its
    shot counts, the rule chosen on the mean over the other groups."""
    several = len({r["shots"] for r in rows}) > 1
    if several:  # one rule for several references: the 1-shot rule is another family member
        rows = [r for r in rows if r["shots"] > 1]
    rules = list(itertools.product(QUANTILES, FACTORS, POSITIONS, HELD_OUT_WEIGHTS))
    by_group: dict[str, list[dict]] = {}
    for row in rows:  # partitioned once, not per rule
        by_group.setdefault(_group(row, several), []).append(row)
    groups = sorted(by_group)
    table = {str(rule): {g: accuracy(by_group[g], rule, margin) for g in groups} for rule in rules}
    lodo = {}
    for held in sorted({r["set"] for r in rows}):
        mine = [g for g in groups if by_group[g][0]["set"] == held]
        others = [g for g in groups if g not in mine]
        best = max(rules, key=lambda rule, others=others: np.mean([table[str(rule)][g] for g in others]))
        for group in mine:
            lodo[group] = {"chosen_on_others": list(best), "accuracy_on_held_out": table[str(best)][group],
                           "best_possible_on_held_out": max(table[str(r)][group] for r in rules)}
    overall = max(rules, key=lambda r: np.mean([table[str(r)][g] for g in groups]))
    return {"sets": groups, "lodo": lodo, "best_overall": list(overall), "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=Path, nargs="+",
                        help="reuse rows saved by earlier runs (several files: several shot counts, one rule)")
    parser.add_argument("--config", type=Path, help="JSON file of EngineConfig fields to study under")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.rows and all(path.is_file() for path in args.rows):
        rows = [row for path in args.rows for row in json.loads(path.read_text())]
    else:
        fields = json.loads(args.config.read_text()) if args.config else {}
        config = EngineConfig.from_dict({**fields, "num_threads": args.threads})
        rows = collect(Engine(config), args.data, args.shots, args.seeds)
        if args.rows:
            args.rows[0].write_text(json.dumps(rows))
    report = study(rows, EngineConfig().review_margin)
    for held, entry in report["lodo"].items():
        print(f"held out {held}: rule {entry['chosen_on_others']} -> accuracy {100 * entry['accuracy_on_held_out']:.1f}"
              f" (best possible {100 * entry['best_possible_on_held_out']:.1f})")
    shots = max(row["shots"] for row in rows)  # reused rows say how many references they were collected with
    rule = tail_rule(shots)
    current = str((rule.quantile, rule.factor, defect_position(shots), rule.held_out_weight))
    print("current rule", current, {s: round(100 * v, 1) for s, v in report["table"][current].items()})
    print("best overall", report["best_overall"],
          {s: round(100 * v, 1) for s, v in report["table"][str(tuple(report["best_overall"]))].items()})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
