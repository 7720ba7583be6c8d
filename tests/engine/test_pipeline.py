from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine import Engine, EngineConfig, ReferenceSet, ReferenceSetError, Verdict
from anomalygpt_engine.reference_set import tensors_equal
from tests.engine.conftest import texture_part, with_defect


def test_defect_scores_above_boundary_and_is_localised(engine, brick_refs, normals):
    defective = with_defect(normals[4], center=(50, 50))
    result = engine.inspect(defective, brick_refs)
    assert result.verdict is Verdict.NG
    assert result.score > 0.5
    assert result.anomaly_map.shape == defective.shape[:2]
    assert result.regions, "an NG result names where"
    assert result.regions[0].location == "top left"
    x, y, w, h = result.regions[0].bbox
    assert x <= 50 <= x + w and y <= 50 <= y + h


def test_normal_parts_score_lower_than_defective_ones(engine, brick_refs, normals):
    normal_scores = [engine.inspect(img, brick_refs).score for img in normals[2:6]]
    defect_scores = [engine.inspect(with_defect(img, (200, 180)), brick_refs).score for img in normals[2:6]]
    assert max(normal_scores) < min(defect_scores)
    assert np.median(normal_scores) < 0.5


def test_map_is_on_the_calibrated_scale(engine, brick_refs, normals):
    result = engine.inspect(normals[3], brick_refs)
    assert result.anomaly_map.dtype == np.float32
    assert 0.0 <= result.anomaly_map.min() and result.anomaly_map.max() <= 1.0
    assert result.anomaly_map.max() == pytest.approx(result.score, abs=0.02)


def test_single_reference_calibrates(engine):
    """One reference gives rotation and jitter evidence only; its rule (chosen by leave-one-dataset-out)
    leans to catching defects, so another crop of a random texture may be called for review."""
    gravel = [texture_part(seed, texture="gravel") for seed in range(4)]
    refs = engine.build_references(gravel[:1], product="one-shot")
    assert refs.size == 1
    assert len(refs.calibration.normal_scores) > 1 and refs.calibration.anomaly_scores
    normal = [engine.inspect(img, refs) for img in gravel[1:]]
    defect = engine.inspect(with_defect(gravel[3], (128, 128)), refs)
    assert defect.verdict is Verdict.NG
    assert max(r.score for r in normal) < defect.score
    assert min(normal, key=lambda r: r.score).verdict is Verdict.OK


def test_build_references_reports_progress(engine, normals):
    generator = engine.build_references_iter(normals[:2], product="p")
    steps = []
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as stop:
            refs = stop.value
            break
    assert steps[-1].done == steps[-1].total and [s.done for s in steps] == sorted(s.done for s in steps)
    assert isinstance(refs, ReferenceSet)


def test_no_references_is_an_error(engine):
    with pytest.raises(ReferenceSetError):
        engine.build_references([], product="empty")


def test_verdict_zones(engine):
    margin = engine.config.review_margin
    assert engine.verdict_for(0.1) is Verdict.OK
    assert engine.verdict_for(0.5) is Verdict.REVIEW
    assert engine.verdict_for(0.5 - margin) is Verdict.REVIEW
    assert engine.verdict_for(0.5 + margin) is Verdict.NG


def test_reference_set_round_trip(tmp_path, engine, brick_refs, normals):
    brick_refs.save(tmp_path / "brick")
    loaded = ReferenceSet.load(tmp_path / "brick")
    assert loaded.product == "brick" and loaded.description == brick_refs.description
    assert tensors_equal(loaded.bank, brick_refs.bank)
    assert loaded.calibration == brick_refs.calibration
    image = normals[4]
    assert engine.inspect(image, loaded).score == pytest.approx(engine.inspect(image, brick_refs).score, abs=1e-5)


def test_corrupt_reference_set_is_refused(tmp_path, brick_refs):
    folder = brick_refs.save(tmp_path / "brick")
    (folder / "bank.safetensors").write_bytes(b"garbage")
    with pytest.raises(ReferenceSetError):
        ReferenceSet.load(folder)


def test_reference_set_from_another_encoder_is_refused(brick_refs, normals):
    other = Engine(EngineConfig(layers=(4, 10)))
    with pytest.raises(ReferenceSetError, match="rebuild"):
        other.inspect(normals[0], brick_refs)


def test_nearest_reference_points_at_the_most_similar_image(engine, normals):
    grass = texture_part(7, texture="grass")
    refs = engine.build_references([normals[0], grass], product="mixed")
    assert engine.inspect(texture_part(8, texture="grass"), refs).nearest_reference == 1
    assert engine.inspect(normals[3], refs).nearest_reference == 0


def test_huge_image_map_is_downscaled_but_regions_use_image_pixels(engine, brick_refs, normals):
    big = np.kron(with_defect(normals[4], (60, 60)), np.ones((12, 12, 1), np.uint8))  # 3072 x 3072
    result = engine.inspect(big, brick_refs)
    assert max(result.anomaly_map.shape) == 2048 and result.image_size == (3072, 3072)
    assert result.regions and result.regions[0].location == "top left"
    x, y, w, h = result.regions[0].bbox
    assert x <= 720 <= x + w and y <= 720 <= y + h


def test_grayscale_and_rgba_inputs_are_accepted(engine, brick_refs, normals):
    gray = normals[2][:, :, 0]
    rgba = np.dstack([normals[2], np.full(gray.shape, 255, np.uint8)])
    assert engine.inspect(gray, brick_refs).score == pytest.approx(engine.inspect(rgba, brick_refs).score, abs=1e-6)


def test_reference_sets_scored_with_and_without_the_subspace_do_not_mix():
    """A set calibrated on plain nearest-neighbour distances must be rebuilt for subspace scoring."""
    plain = Engine(EngineConfig(llm="none", subspace_share=0.0)).fingerprint()
    subspace = Engine(EngineConfig(llm="none", subspace_share=0.95)).fingerprint()
    assert plain != subspace and subspace["subspace_share"] == 0.95 and "subspace_share" not in plain


def test_the_subspace_reads_one_reference_products_only_also_after_a_reload(tmp_path):
    """One reference: the subspace carries it to unseen poses; several: the bank alone (measured)."""
    engine = Engine(EngineConfig(llm="none", subspace_share=0.95, calibration_samples=2))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(2)]
    one = engine.build_references(images[:1], "one")
    two = engine.build_references(images, "two")
    assert one.bank.subspace_share == 0.95 and two.bank.subspace_share == 0.0
    one.save(tmp_path / "one")
    reloaded = ReferenceSet.load(tmp_path / "one")
    assert engine._bank_on_device(reloaded).subspace_share == 0.95
    again, first = engine.inspect(images[0], reloaded), engine.inspect(images[0], one)
    assert again.raw_score == pytest.approx(first.raw_score, rel=1e-4)
