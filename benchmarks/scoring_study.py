"""Which image score ranks parts best at one reference? Variants of the engine's scoring, side by side.

Per category and reference draw (1 shot) it builds the references as the engine does and scores every
test image under each variant below, then reports image AUROC per data set (mean over categories,
then mean and std over seeds). Only ranking is measured here: the verdict of a variant also depends
on its calibration, which `anomalygpt eval` measures once a variant is chosen.

- default: the engine (layers 4 + 14, subspace-bounded distances, decoder at weight 0.05, Gaussian
  smoothing, maximum of the map)
- top2: the mean of the top 2% of the map instead of its maximum
- flip: the map averaged with that of the horizontally flipped image (test-time augmentation)
- layer_norm: each layer's distance divided by its mean on the reference's held-out view
- layers 4+7+14, 4+10+14, 10+14: other encoder stages (same decoder, same weight)
- 320 alone: the encoder at 320 px on its reference memory alone
- 320 + decoder w: the decoder fused at 320 px with weight w
- 224 + 320: the sum of the default map and the 320 px map

    python benchmarks/scoring_study.py --data ../shared/data/mvtec15 ../shared/data/bsdata OUT/synthetic \\
        --seeds 3 --threads 1 --json benchmarks/results/scoring_study.json
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
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomalygpt_engine import Engine, EngineConfig, load_image  # noqa: E402
from anomalygpt_engine.evaluation.datasets import Category, discover_categories  # noqa: E402
from anomalygpt_engine.evaluation.metrics import auroc  # noqa: E402
from anomalygpt_engine.memory_bank import (  # noqa: E402
    PatchBank,
    flatten_patches,
    reference_distance,
    rotate_images,
)

STAGES = (4, 7, 10, 14)  # encoder blocks scored separately; the variants combine them
LAYER_SETS = {"layers 4+7+14": (4, 7, 14), "layers 4+10+14": (4, 10, 14), "layers 10+14": (10, 14)}
FINE_WEIGHTS = (0.025, 0.0375, 0.05)
SIZE = 224


def layer_distances(layers: list[torch.Tensor], bank: PatchBank) -> list[torch.Tensor]:
    """Per layer, B x h x w subspace-bounded distance (as memory_bank.patch_distance_maps, unsummed)."""
    out = []
    for index, feature_map in enumerate(layers):
        b, _, h, w = feature_map.shape
        out.append(reference_distance(flatten_patches(feature_map), bank, index).view(b, h, w))
    return out


def upsampled(distance: torch.Tensor, size: int = SIZE) -> np.ndarray:
    return F.interpolate(distance[:, None].float(), size=(size, size), mode="bilinear",
                         align_corners=False)[0, 0].numpy()


def top_share_mean(image_map: np.ndarray, share: float) -> float:
    values = np.sort(image_map.ravel())
    return float(values[-max(1, int(values.size * share)):].mean())


class Scorer:
    """Engines for the variants and what each needs from one reference draw."""

    def __init__(self, threads: int) -> None:
        # The study's base is the 224 px engine (the quick preset; the default until 320 px won here).
        self.default = Engine(EngineConfig(num_threads=threads, image_size=SIZE, fusion_weight=0.05))
        self.stages = Engine(EngineConfig(num_threads=threads, layers=STAGES, mode="fewshot", image_size=SIZE))
        self.fine = Engine(EngineConfig(num_threads=threads, image_size=320, mode="fewshot"))
        self.decoder = self.default.decoder[0]
        self.sigma = self.default.config.smoothing_sigma

    def _smooth(self, image_map: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image_map.astype(np.float32), (0, 0), self.sigma)

    def _stage_maps(self, image: np.ndarray, bank: PatchBank) -> tuple[dict[int, np.ndarray], np.ndarray]:
        encoded = self.stages.encode([image])
        distances = layer_distances(encoded.layers, bank)
        maps = {stage: upsampled(d) for stage, d in zip(STAGES, distances)}
        fitted = [encoded.layers[STAGES.index(s)] for s in self.default.config.layers]
        return maps, self.decoder(fitted, SIZE)[0].float().numpy()

    def _held_out_means(self, reference: np.ndarray) -> dict[int, float]:
        """Each stage's mean distance on the unrotated view against its other rotations."""
        rotated = rotate_images([reference], self.stages.config.rotations)
        encoded = self.stages.encode(rotated)
        per_layer = [[flatten_patches(layer[i:i + 1]) for i in range(len(rotated))] for layer in encoded.layers]
        bank = self.stages._assemble_bank(per_layer, range(1, len(rotated)), torch.zeros(1, 1), 1, subsample=False)
        distances = layer_distances([layer[:1] for layer in encoded.layers], bank)
        return {stage: float(d.mean()) for stage, d in zip(STAGES, distances)}

    def draw_scores(self, category: Category, seed: int, images: dict) -> dict[str, list[float]]:
        """Every variant's image score for each test image of the category, for one reference draw."""
        reference = load_image(category.draw_references(1, seed)[0])
        banks = {name: engine._bank_on_device(engine.build_references([reference], product=category.key))
                 for name, engine in (("default", self.default), ("stages", self.stages), ("fine", self.fine))}
        held = self._held_out_means(reference)
        scores: dict[str, list[float]] = {}

        def add(name: str, value: float) -> None:
            scores.setdefault(name, []).append(float(value))

        weight = self.default.config.fusion_weight
        for sample in category.test_samples:
            image = images[sample.path]
            maps, decoder_map = self._stage_maps(image, banks["stages"])
            flipped_maps, flipped_decoder = self._stage_maps(np.ascontiguousarray(image[:, ::-1]), banks["stages"])

            def combined(stages, maps=maps, decoder_map=decoder_map, norm=None):
                total = sum(maps[s] / (norm[s] if norm else 1.0) for s in stages) / len(stages)
                return total + weight * decoder_map

            default_map = self._smooth(combined((4, 14)))
            add("default", default_map.max())
            add("top2", top_share_mean(default_map, 0.02))
            flipped = combined((4, 14), flipped_maps, flipped_decoder)[:, ::-1]
            add("flip", self._smooth((combined((4, 14)) + flipped) / 2).max())
            add("layer_norm", self._smooth(combined((4, 14), norm=held)).max())
            for name, stages in LAYER_SETS.items():
                add(name, self._smooth(combined(stages)).max())
            encoded = self.fine.encode([image])
            fine = self.fine._score_maps(encoded.layers, banks["fine"])[0]
            fine_decoder = self.fine._smooth(self.decoder(encoded.layers, 320))[0]
            add("320 alone", fine.max())
            for w in FINE_WEIGHTS:
                add(f"320 + decoder {w}", (fine + w * fine_decoder).max())
            add("224 + 320", (default_map + cv2.resize(fine, (SIZE, SIZE), interpolation=cv2.INTER_AREA)).max())
        return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scorer = Scorer(args.threads)
    report: dict[str, dict] = {}
    for root in args.data:
        per_seed: dict[str, dict[int, list[float]]] = {}
        for category in discover_categories(root):
            images = {s.path: load_image(s.path) for s in category.test_samples}
            labels = np.array([s.is_anomalous for s in category.test_samples])
            for seed in range(args.seeds):
                start = time.time()
                for name, values in scorer.draw_scores(category, seed, images).items():
                    per_seed.setdefault(name, {}).setdefault(seed, []).append(auroc(labels, np.array(values)))
                print(f"{category.key} seed {seed}: {time.time() - start:.1f} s", file=sys.stderr, flush=True)
        report[root.name] = {name: {"mean": 100 * float(np.mean([np.mean(v) for v in seeds.values()])),
                                    "std": 100 * float(np.std([np.mean(v) for v in seeds.values()]))}
                             for name, seeds in per_seed.items()}
    names = list(next(iter(report.values())))
    print(f"{'variant (1 shot, image AUROC)':32s}" + "".join(f"{s:>16s}" for s in report))
    for name in names:
        print(f"{name:32s}" + "".join(f"{report[s][name]['mean']:9.1f} ±{report[s][name]['std']:4.1f}" for s in report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
