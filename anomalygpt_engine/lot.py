"""Lot inspection: many unlabeled parts of one product, judged together.

With references, each part is scored against them as it would be alone, and the boundary moves to the
spread of good parts that the lot's own scores show (calibration.lot_boundary). With `lot_pool` on, a
patch is also normal where a robust share of the other parts explains it (evidence.py) and the
boundary is first recalibrated under that evidence, so that held-out references, good variants and
simulated defects are scored exactly as the lot's parts; at 320 px that measured no gain on three
sets at 1 shot for about 5x the time, so it is off by default.
Without references (zero-shot on a lot), the lot alone scores, and the boundary is learned from the
lower half of the lot's own scores (the assumption: at most half of a lot is defective) and from
simulated defects on its most normal-looking parts.
"""
from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from anomalygpt_engine.calibration import TailRule, fit_boundary, lot_boundary
from anomalygpt_engine.errors import EngineError
from anomalygpt_engine.evidence import PatchPool
from anomalygpt_engine.imageio import ensure_rgb_uint8
from anomalygpt_engine.memory_bank import encode_images
from anomalygpt_engine.reference_set import ReferenceSet
from anomalygpt_engine.synthesis import simulate
from anomalygpt_engine.types import InspectionResult

MIN_LOT = 3  # fewer parts than this give no mutual evidence worth the name
LOT_SIMULATIONS = 8
MAX_LOT_PEERS = 32  # other parts each part is compared with; a lot's cost stays linear in its size


@dataclass(frozen=True)
class LotResult:
    """One part's result, by its index in the lot."""

    index: int
    result: InspectionResult


def inspect_lot_iter(engine, images: Sequence[np.ndarray], refs: ReferenceSet | None = None,
                     product: str = "") -> Generator:
    """Yield Progress while encoding and calibrating, then a LotResult per part in order."""
    from anomalygpt_engine.pipeline import Progress

    if refs is None and len(images) < MIN_LOT:
        raise EngineError(f"a lot without references needs at least {MIN_LOT} parts, got {len(images)}")
    if refs is not None:
        engine._check_compatible(refs)
    started = time.perf_counter()
    images = [ensure_rgb_uint8(img) for img in images]
    use_pool = len(images) >= MIN_LOT and (refs is None or engine.config.lot_pool)
    recalibrates = refs is not None and use_pool  # references rescored under the lot's evidence
    n_ref_steps = refs.size * len(engine.config.rotations or (0,)) if recalibrates else 0
    if refs is None:
        calibration_steps = LOT_SIMULATIONS
    else:
        calibration_steps = engine._calibration_steps(refs.size) if recalibrates else 0
    total = 2 * len(images) + n_ref_steps + calibration_steps
    layer_maps, embeddings = [], []
    done = 0
    for count, encoded in encode_images(engine.encoder, images, engine.config.image_size):
        layer_maps.append(encoded.layers)
        embeddings.append(encoded.embedding)
        done += count
        yield Progress(done, total, f"Encoding the lot: part {done} of {len(images)}")
    layer_maps = [torch.cat([batch[i] for batch in layer_maps]) for i in range(len(engine.config.layers))]
    embeddings = torch.cat(embeddings)
    pool = PatchPool.from_maps(layer_maps) if use_pool else None
    bank = engine._bank_on_device(refs) if refs is not None else None
    raws = []
    for index in range(len(images)):
        evidence = _evidence_for(engine, pool, index) if use_pool else None
        raws.append(engine._score_maps([lm[index : index + 1] for lm in layer_maps], bank, evidence)[0])
        done += 1
        yield Progress(done, total, f"Comparing part {index + 1} of {len(images)} with the lot")
    if refs is None:
        calibration = yield from _calibrate_on_lot(engine, images, raws, pool, done, total)
    elif use_pool:
        per_layer, _ = yield from engine._encode_references(refs.images, total, done)
        calibration = yield from engine.calibrate_iter(refs.images, per_layer, bank, engine.pool_evidence(pool),
                                                       done + n_ref_steps, total)
    else:
        calibration = refs.calibration
    if refs is not None:
        calibration = lot_boundary([float(raw.max()) for raw in raws], calibration)
    per_part = (time.perf_counter() - started) / len(images)
    for index, image in enumerate(images):
        result = engine._result(image, raws[index], refs, embeddings[index], time.perf_counter(),
                                calibration=calibration, mode="lot")
        result = _with_product_and_latency(result, refs, product, per_part)
        yield LotResult(index, result)


def _evidence_for(engine, pool: PatchPool, index: int):
    """Part `index` against the other parts, at most MAX_LOT_PEERS of them (evenly spread through the
    lot), so a lot's cost grows linearly rather than with the square of its size."""
    others = [i for i in range(len(pool)) if i != index]
    if len(others) <= MAX_LOT_PEERS:
        return engine.pool_evidence(pool, exclude=[index])
    picks = torch.tensor([others[round(k * len(others) / MAX_LOT_PEERS)] for k in range(MAX_LOT_PEERS)])
    return engine.pool_evidence(PatchPool([layer[picks] for layer in pool.layers]))


def _with_product_and_latency(result: InspectionResult, refs, product: str, per_part: float) -> InspectionResult:
    from dataclasses import replace

    return replace(result, product=refs.product if refs is not None else product,
                   latency_ms=per_part * 1000.0 + result.latency_ms)


def _calibrate_on_lot(engine, images, raws, pool: PatchPool, done: int, total: int):
    """Zero references: the lower half of the lot's scores is the normal side; simulated defects on
    the most normal-looking parts, scored without their source part, are the defect side."""
    from anomalygpt_engine.pipeline import Progress

    scores = np.array([float(r.max()) for r in raws])
    order = np.argsort(scores)
    normal = scores[order[: max(2, (len(scores) + 1) // 2)]]
    rng = np.random.default_rng(engine.config.seed)
    anomaly = []
    for step in range(LOT_SIMULATIONS):
        source = int(order[step % len(normal)])
        simulated = simulate(images[source], rng).image
        evidence = engine.pool_evidence(pool, exclude=[source])
        anomaly.append(float(engine._raw_maps([simulated], None, evidence).max()))
        done += 1
        yield Progress(done, total, f"Calibrating the lot on simulated defects {step + 1}/{LOT_SIMULATIONS}")
    calibration = fit_boundary(normal, np.array(anomaly), TailRule(quantile=1.0, factor=1.1))
    return replace(calibration, method="lot")
