from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine.calibration import LOT_BOUNDS, NORMAL_LEVEL, Calibration, TailRule, fit_boundary, lot_boundary


def test_boundary_lies_between_normal_tail_and_defects():
    calibration = fit_boundary(np.array([0.10, 0.12, 0.11]), np.array([0.30, 0.40, 0.35]))
    assert 0.12 < calibration.boundary < 0.35
    assert calibration.apply(calibration.boundary) == pytest.approx(0.5)
    assert calibration.apply(0.11) == pytest.approx(NORMAL_LEVEL, abs=1e-6)
    assert calibration.method == "reference+simulated"


def test_apply_is_monotonic_and_bounded_on_maps():
    calibration = fit_boundary(np.array([0.1, 0.2]), np.array([0.5, 0.6]))
    raw = np.linspace(-1, 5, 100, dtype=np.float32).reshape(10, 10)
    mapped = calibration.apply(raw)
    assert mapped.dtype == np.float32 and mapped.shape == (10, 10)
    assert np.all(np.diff(mapped.ravel()) >= 0) and mapped.min() >= 0 and mapped.max() <= 1


def test_weak_simulation_falls_back_to_a_margin_above_normals():
    calibration = fit_boundary(np.array([0.20, 0.22, 0.21]), np.array([0.18, 0.19]))
    assert calibration.method == "reference-margin"
    assert calibration.boundary > 0.22


def test_single_normal_score_still_calibrates():
    calibration = fit_boundary(np.array([0.2]), np.array([0.5]))
    assert calibration.apply(0.2) < 0.5 < calibration.apply(0.5)


def test_needs_normal_evidence():
    with pytest.raises(ValueError):
        fit_boundary(np.array([]), np.array([0.5]))


def test_dict_round_trip():
    calibration = fit_boundary(np.array([0.1, 0.2]), np.array([0.5]))
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_one_reference_tail_sits_between_its_jittered_copies_and_its_held_out_view():
    """Jittered copies of the one reference are too kind, its other rotations too harsh for parts
    whose pose matters: the 1-shot tail lies between them, nearer the held-out view."""
    from anomalygpt_engine.calibration import normal_tail, tail_rule

    held_out, variants = 0.40, [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]
    normal = np.array([held_out, *variants])
    rule = tail_rule(1)
    tail = normal_tail(normal, rule, held_out=1)
    assert np.quantile(variants, rule.quantile) < tail < held_out
    assert tail > np.sqrt(np.quantile(variants, rule.quantile) * held_out)  # nearer the held-out view
    assert normal_tail(normal, rule, held_out=0) == np.quantile(normal, rule.quantile)  # no held-out: as before
    several = tail_rule(4)
    assert normal_tail(np.array([0.2, 0.3, 0.25, 0.22]), several, held_out=4) == pytest.approx(0.235)  # their median


def test_clearly_defective_scores_keep_their_order_instead_of_saturating():
    calibration = Calibration(boundary=0.2, scale=0.01)
    raw = np.array([0.5, 1.0, 5.0, 50.0], dtype=np.float32)  # 30 to 4980 logits above the boundary
    calibrated = calibration.apply(raw)
    assert np.all(np.diff(calibrated) > 0) and np.all(calibrated < 1.0) and calibrated[0] > 0.9999
    low = calibration.apply(np.array([-50.0, -5.0, -0.5], dtype=np.float32))
    assert np.all(np.diff(low) > 0) and np.all(low > 0.0)
    assert calibration.apply(0.2) == pytest.approx(0.5)
    assert calibration.apply(0.25) == pytest.approx(1 / (1 + np.exp(-5)))  # unchanged within 8 logits


def test_calibration_keeps_how_many_normal_scores_were_held_out_references():
    """Studies of the boundary rule re-fit from the stored evidence: they need to tell the kinds apart."""
    calibration = fit_boundary(np.array([0.4, 0.1, 0.12]), np.array([0.6]), held_out=1)
    assert calibration.held_out == 1
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    assert Calibration.from_dict({"boundary": 0.3, "scale": 0.1}).held_out == 0  # sets saved before it


def _reference(boundary: float = 1.0) -> Calibration:
    return fit_boundary(np.array([boundary / 1.2]), np.array([]), TailRule(quantile=1.0, factor=1.2))


def test_lot_boundary_follows_the_good_half_of_the_lot():
    """Half good (tight around 1.0), half defective (far above): the boundary sits just above the good
    parts, and defective parts land above it, good ones below."""
    reference = _reference(1.1)
    good = [0.98, 1.0, 1.01, 1.02, 0.99, 1.0]
    bad = [1.4, 1.5, 1.35, 1.6, 1.45, 1.38]
    lot = lot_boundary(good + bad, reference)
    assert max(good) < lot.boundary < min(bad)
    assert lot.method.endswith("+lot")
    assert all(lot.apply(g) < 0.5 for g in good) and all(lot.apply(b) > 0.5 for b in bad)


def test_lot_boundary_stays_within_its_bounds_of_the_reference():
    """A lot whose parts all score far above (or below) the reference cannot carry the boundary beyond
    LOT_BOUNDS x the reference boundary."""
    reference = _reference(1.0)
    high = lot_boundary([5.0, 5.1, 5.2, 5.3, 5.4], reference)
    low = lot_boundary([0.1, 0.1, 0.1, 0.1], reference)
    assert high.boundary == pytest.approx(LOT_BOUNDS[1] * reference.boundary)
    assert low.boundary == pytest.approx(LOT_BOUNDS[0] * reference.boundary)


def test_lot_boundary_needs_a_few_parts():
    reference = _reference(1.0)
    assert lot_boundary([0.5, 2.0], reference) is reference
