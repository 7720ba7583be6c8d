"""Lot inspection on texture parts the tests make: repeated defects are still found, zero-shot works."""
from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine import EngineError
from anomalygpt_engine.lot import LotResult
from anomalygpt_engine.pipeline import Progress
from tests.engine.conftest import texture_part, with_defect


def _lot_results(engine, images, refs=None):
    items = list(engine.inspect_lot(images, refs))
    progress = [i for i in items if isinstance(i, Progress)]
    assert progress, "the lot reports progress"
    assert progress[-1].done == progress[-1].total, "the progress bar reaches its end"
    results = [i for i in items if isinstance(i, LotResult)]
    assert [r.index for r in results] == list(range(len(images)))
    return [r.result for r in results]


@pytest.fixture(scope="module")
def lot_with_repeated_defect():
    """Ten parts; the same defect at the same place in three of them."""
    goods = [texture_part(seed) for seed in range(20, 27)]
    bads = [with_defect(texture_part(seed), center=(70, 90)) for seed in range(30, 33)]
    images = goods[:3] + bads[:1] + goods[3:5] + bads[1:] + goods[5:]
    labels = [False] * 3 + [True] + [False] * 2 + [True, True] + [False] * 2
    return images, labels


def test_repeated_defect_is_found_in_every_part_with_references(engine, brick_refs, lot_with_repeated_defect):
    images, labels = lot_with_repeated_defect
    results = _lot_results(engine, images, brick_refs)
    scores = np.array([r.score for r in results])
    assert scores[labels].min() > scores[~np.array(labels)].max()
    assert all(r.verdict.is_defective for r, bad in zip(results, labels) if bad)
    assert not any(r.verdict.is_defective for r, bad in zip(results, labels) if not bad), \
        "the boundary learned from the lot's good half keeps its good parts OK"
    assert all(r.mode == "lot" and r.product == "brick" for r in results)


def test_with_the_pool_on_the_parts_score_each_other_and_still_find_the_repeated_defect(
        engine, brick_refs, lot_with_repeated_defect):
    """lot_pool: each part is also scored against the other parts (a defect in three of ten parts is not
    explained away by its twins) and the boundary recalibrated under that evidence."""
    from anomalygpt_engine import Engine

    pooled = Engine(engine.config.with_changes(lot_pool=True))
    pooled._encoder = engine.encoder  # same weights: no second load
    images, labels = lot_with_repeated_defect
    results = _lot_results(pooled, images, brick_refs)
    plain = _lot_results(engine, images, brick_refs)
    scores = np.array([r.score for r in results])
    assert scores[labels].min() > scores[~np.array(labels)].max()
    assert all(r.verdict.is_defective for r, bad in zip(results, labels) if bad)
    assert any(abs(a.score - b.score) > 1e-4 for a, b in zip(results, plain)), "the pool changed the scores"


def test_zero_shot_lot_finds_the_repeated_defect(engine, lot_with_repeated_defect):
    images, labels = lot_with_repeated_defect
    results = _lot_results(engine, images)
    scores = np.array([r.score for r in results])
    assert scores[labels].min() > scores[~np.array(labels)].max()
    flagged = [r.verdict.is_defective for r in results]
    assert flagged == labels, "with no references the lot's own spread sets the boundary"
    bad = results[3]
    x, y, w, h = bad.regions[0].bbox
    assert x <= 70 <= x + w and y <= 90 <= y + h


def test_a_lot_without_references_needs_a_few_parts(engine):
    with pytest.raises(EngineError):
        list(engine.inspect_lot([texture_part(1), texture_part(2)]))


def test_large_lots_compare_each_part_with_a_bounded_set_of_peers(engine, monkeypatch):
    import anomalygpt_engine.lot as lot

    monkeypatch.setattr(lot, "MAX_LOT_PEERS", 4)
    images = [texture_part(seed) for seed in range(80, 88)] + [with_defect(texture_part(90), (100, 100))]
    sizes = []
    real = lot.PatchPool

    class Recording(real):
        def __init__(self, layers, ids=None):
            super().__init__(layers, ids or [])
            sizes.append(len(self))

    monkeypatch.setattr(lot, "PatchPool", Recording)
    results = _lot_results(engine, images)
    assert sizes and max(sizes[1:]) == 4, "every part was scored against 4 peers, not all 8"
    assert results[-1].score == max(r.score for r in results)
