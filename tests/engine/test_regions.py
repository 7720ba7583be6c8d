from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine.regions import find_regions, location_phrase


@pytest.mark.parametrize(
    "x,y,words",
    [(10, 10, "top left"), (150, 10, "top"), (290, 10, "top right"), (10, 150, "left"),
     (150, 150, "center"), (290, 150, "right"), (10, 290, "bottom left"), (150, 290, "bottom"),
     (299.9, 299.9, "bottom right")],
)
def test_location_phrase_grid(x, y, words):
    assert location_phrase(x, y, 300, 300) == words


def test_regions_have_boxes_areas_and_locations():
    heat = np.zeros((300, 400), np.float32)
    heat[20:60, 30:90] = 0.9  # top left, 40 x 60
    heat[200:210, 300:310] = 0.7  # bottom right, 10 x 10
    heat[150, 200] = 0.99  # a single-pixel speck: dropped
    regions = find_regions(heat)
    assert [r.location for r in regions] == ["top left", "bottom right"]
    big = regions[0]
    assert big.bbox == (30, 20, 60, 40) and big.area_px == 2400
    assert big.area_fraction == pytest.approx(2400 / 120000)
    assert big.centroid == pytest.approx((59.5, 39.5))
    assert big.peak_score == pytest.approx(0.9)


def test_nothing_above_boundary_gives_no_regions():
    assert find_regions(np.full((50, 50), 0.49, np.float32)) == ()


def test_scale_maps_back_to_image_pixels():
    heat = np.zeros((100, 100), np.float32)
    heat[10:20, 10:30] = 1.0
    (region,) = find_regions(heat, scale=4.0)
    assert region.bbox == (40, 40, 80, 40) and region.area_px == 200 * 16
