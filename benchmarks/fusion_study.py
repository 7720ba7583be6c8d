"""Does multi-mask fusion (expert/fusion.py) localise better than the maps it fuses?

Per category and reference draw it scores every test image with the few-shot map (reference bank with
the principal-subspace bound, as the engine), the decoder map, the lot map (the bank plus the other
test images of the category as unlabeled lot evidence, as `Engine.inspect_lot`) and the engine's own
map (`engine.inspect(...).anomaly_map`), and fuses the first three with `fusion.fuse`. Each map kind
is standardised on normal evidence that needs no test label: the reference's unrotated view against
its other rotations and jittered copies of the reference, scored the way the map scores parts (as
calibration does). Weights are never chosen on test labels of the set they are reported on: fixed
equal weights, or a decoder weight chosen on one set and reported on the other.

    python benchmarks/fusion_study.py --data ../shared/data/mvtec15 ../shared/data/bsdata --seeds 2 \\
        --threads 1 --json benchmarks/results/fusion_study.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomalygpt_engine import Engine, load_image, preset  # noqa: E402
from anomalygpt_engine.evaluation.datasets import Category, discover_categories  # noqa: E402
from anomalygpt_engine.evaluation.metrics import aupro, auroc  # noqa: E402
from anomalygpt_engine.evaluation.runner import METRIC_SIDE  # noqa: E402
from anomalygpt_engine.evidence import PatchPool  # noqa: E402
from anomalygpt_engine.expert.fusion import fuse, normal_stats  # noqa: E402
from anomalygpt_engine.lot import MIN_LOT, _evidence_for  # noqa: E402
from anomalygpt_engine.memory_bank import patch_distance_maps  # noqa: E402
from anomalygpt_engine.synthesis import jitter  # noqa: E402

SINGLE = ("fewshot", "decoder", "lot")
N_JITTER = Engine.good_variant_count(1)  # as calibrate_iter with one reference
DECODER_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7)  # share of the decoder in a fewshot+decoder fusion, chosen cross-set


def _metric_size(amap: np.ndarray, nearest: bool = False) -> np.ndarray:
    """As evaluation.runner: pixel metrics at METRIC_SIDE x METRIC_SIDE."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(amap.astype(np.uint8 if nearest else np.float32), (METRIC_SIDE, METRIC_SIDE),
                      interpolation=interpolation)


class MapMaker:
    """The three single maps of the engine's scoring, taken apart (raw, smoothed, model-input grid)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.size = engine.config.image_size

    def fewshot(self, layers, bank, evidence=None) -> np.ndarray:
        maps = patch_distance_maps(layers, bank, self.size, evidence)  # the bank carries its subspace share
        return self.engine._smooth(maps)

    def decoder(self, layers) -> np.ndarray:
        return self.engine._smooth(self.engine.decoder[0](layers, self.size))

    def normal_maps(self, reference: np.ndarray, bank, pool_evidence) -> dict[str, list[np.ndarray]]:
        """Maps of label-free normal evidence: the unrotated reference against a bank of its other
        rotations (the held-out stand-in calibration uses) and jittered copies against the full bank."""
        engine = self.engine
        per_layer, _ = _drain(engine._encode_references([reference], 10**6))
        n_rot = len(engine.config.rotations or (0,))
        out: dict[str, list[np.ndarray]] = {k: [] for k in SINGLE}
        if n_rot > 1:
            held = engine._assemble_bank(per_layer, range(1, n_rot), torch.zeros(1, 1), 1, subsample=False)
            layers = [engine._as_map(store[0]) for store in per_layer]
            out["fewshot"].append(self.fewshot(layers, held)[0])
            out["decoder"].append(self.decoder(layers)[0])
            if pool_evidence is not None:
                out["lot"].append(self.fewshot(layers, held, pool_evidence)[0])
        rng = np.random.default_rng(engine.config.seed)
        copies = [jitter(reference, rng) for _ in range(N_JITTER)]
        layers = engine.encode(copies).layers
        out["fewshot"].extend(self.fewshot(layers, bank))
        out["decoder"].extend(self.decoder(layers))
        if pool_evidence is not None:
            out["lot"].extend(self.fewshot(layers, bank, pool_evidence))
        return out


def _drain(generator):
    """The return value of a Progress generator."""
    try:
        while True:
            next(generator)
    except StopIteration as stop:
        return stop.value


def collect_category(engine: Engine, maker: MapMaker, category: Category, seed: int, cache: dict) -> dict:
    """Every map kind of every test image of one draw, at metric size, with the normal statistics."""
    def image(path):
        if path not in cache:
            cache[path] = load_image(path)
        return cache[path]

    drawn = category.draw_references(1, seed)
    refs = engine.build_references([image(p) for p in drawn], product=category.key)
    bank = engine._bank_on_device(refs)
    samples = list(category.test_samples)
    pictures = [image(s.path) for s in samples]
    with torch.inference_mode():
        encoded = [engine.encode([p]) for p in pictures]
        layer_maps = [torch.cat([e.layers[i] for e in encoded]) for i in range(len(engine.config.layers))]
        pool = PatchPool.from_maps(layer_maps) if len(pictures) >= MIN_LOT else None
        raw: dict[str, list[np.ndarray]] = {k: [] for k in SINGLE}
        for index, e in enumerate(encoded):
            raw["fewshot"].append(maker.fewshot(e.layers, bank)[0])
            raw["decoder"].append(maker.decoder(e.layers)[0])
            if pool is not None:
                raw["lot"].append(maker.fewshot(e.layers, bank, _evidence_for(engine, pool, index))[0])
        normals = maker.normal_maps(image(drawn[0]), bank, engine.pool_evidence(pool) if pool is not None else None)
        engine_maps = [engine.inspect(p, refs).anomaly_map for p in pictures]
    stats = {k: normal_stats(v) for k, v in normals.items() if v}
    maps = {k: np.stack([_metric_size(m) for m in v]) for k, v in raw.items() if v}
    maps["engine"] = np.stack([_metric_size(m) for m in engine_maps])
    masks = np.stack([_metric_size(s.load_mask(p.shape[:2]), nearest=True).astype(bool)
                      for s, p in zip(samples, pictures)])
    return {"maps": maps, "stats": stats, "masks": masks}


def fusions(row: dict) -> dict[str, np.ndarray]:
    """Fused maps of one draw (the same standardisation for all; weights fixed, or from a grid)."""
    maps, stats = row["maps"], row["stats"]
    out = {}

    def fused(kinds, weights=None, agreement=False):
        return np.stack([fuse([maps[k][i] for k in kinds], [stats[k] for k in kinds], weights, agreement)
                         for i in range(len(row["masks"]))])

    out["fuse fewshot+decoder"] = fused(("fewshot", "decoder"))
    out["fuse fewshot+decoder agree"] = fused(("fewshot", "decoder"), agreement=True)
    for weight in DECODER_WEIGHTS:
        out[f"fuse fewshot+decoder w={weight}"] = fused(("fewshot", "decoder"), (1 - weight, weight))
    if "lot" in maps:
        out["fuse lot+decoder"] = fused(("lot", "decoder"))
        out["fuse fewshot+decoder+lot"] = fused(("fewshot", "decoder", "lot"))
        out["fuse fewshot+decoder+lot agree"] = fused(("fewshot", "decoder", "lot"), agreement=True)
    return out


def pixel_metrics(masks: np.ndarray, maps: np.ndarray) -> tuple[float, float]:
    return auroc(masks.ravel(), maps.ravel()), aupro(list(masks), list(maps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="set folders (e.g. ../shared/data/mvtec15)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--categories", nargs="*", help="only these category names")
    parser.add_argument("--json", type=Path, help="write per-category figures and the summary here")
    parser.add_argument("--preset", default="default", help="engine preset whose maps are taken apart")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine(preset(args.preset).with_changes(num_threads=args.threads, device="cpu"))
    maker = MapMaker(engine)
    print(f"engine mode {engine.mode}, fusion_weight {engine.config.fusion_weight}", file=sys.stderr)
    per_category: list[dict] = []
    for root in map(Path, args.data):
        for category in discover_categories(root):
            if args.categories and category.root.name not in args.categories:
                continue
            cache: dict = {}
            for seed in range(args.seeds):
                started = time.perf_counter()
                row = collect_category(engine, maker, category, seed, cache)
                kinds = dict(row["maps"]) | fusions(row)
                figures = {k: pixel_metrics(row["masks"], v) for k, v in kinds.items()}
                per_category.append({"set": root.name, "category": category.key, "seed": seed,
                                     "stats": row["stats"], "figures": figures})
                maps = row["maps"]
                lot_change = float(np.abs(maps["lot"] - maps["fewshot"]).max()) if "lot" in maps else 0.0
                print(f"{category.key} seed {seed} ({time.perf_counter() - started:.0f} s, lot-fewshot max "
                      f"{lot_change:.4f}): " + ", ".join(
                    f"{k} {v[0]:.3f}" for k, v in figures.items() if "w=" not in k), file=sys.stderr, flush=True)
    summary = summarise(per_category)
    print_table(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"per_category": per_category, "summary": summary}, indent=1))


def summarise(rows: list[dict]) -> dict:
    """Mean per set and map kind over categories and seeds; the decoder weight chosen on the other set."""
    sets = sorted({r["set"] for r in rows})
    kinds = sorted({k for r in rows for k in r["figures"]})
    means = {s: {k: [float(np.nanmean([r["figures"][k][m] for r in rows if r["set"] == s and k in r["figures"]]))
                     for m in (0, 1)] for k in kinds if any(k in r["figures"] for r in rows if r["set"] == s)}
             for s in sets}
    for held in sets:
        others = [s for s in sets if s != held]
        if not others:
            continue
        best = max(DECODER_WEIGHTS, key=lambda w: np.mean([means[s][f"fuse fewshot+decoder w={w}"][0] for s in others]))
        means[held]["fuse fewshot+decoder cross-set w"] = means[held][f"fuse fewshot+decoder w={best}"] + [best]
    return means


def print_table(summary: dict) -> None:
    for name, kinds in summary.items():
        print(f"\n{name}: map kind -> pixel AUROC, AUPRO")
        for kind, values in kinds.items():
            extra = f"  (w={values[2]} chosen on the other set)" if len(values) > 2 else ""
            print(f"  {kind:34s} {values[0]:.4f}  {values[1]:.4f}{extra}")


if __name__ == "__main__":
    main()
