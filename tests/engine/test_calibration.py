from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine.calibration import NORMAL_LEVEL, Calibration, fit_boundary


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
