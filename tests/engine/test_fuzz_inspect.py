"""Hostile arrays and files for Engine.inspect(): a well-formed result or an EngineError, never a crash.

Cameras and integrations hand the engine whatever they have: odd shapes and dtypes, NaN and inf,
views with strides, one-pixel or one-row images, extreme aspect ratios, damaged files. The contract
the station relies on: a result whose map matches the image, or a typed EngineError it can show.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from anomalygpt_engine import InspectionResult, Verdict
from anomalygpt_engine.errors import EngineError
from anomalygpt_engine.imageio import decode_image
from tests.engine.test_fuzz_imageio import mutated_files, time_limit

SUITE = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                        HealthCheck.data_too_large])
CASE_LIMIT_S = 20.0

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32,
                          np.float64, np.bool_, np.complex64])


def check_result(result: InspectionResult, image_shape: tuple[int, ...]) -> None:
    assert isinstance(result.verdict, Verdict)
    assert math.isfinite(result.score) and result.score >= 0.0
    height, width = image_shape[:2]
    assert result.image_size == (width, height)
    assert result.anomaly_map.dtype == np.float32 and result.anomaly_map.ndim == 2
    assert np.isfinite(result.anomaly_map).all()
    map_h, map_w = result.anomaly_map.shape
    scale = max(map_h, map_w) / max(height, width)  # the map is the image scaled, to a pixel
    assert abs(map_h - height * scale) <= 1.0 and abs(map_w - width * scale) <= 1.0


def inspect_or_error(engine, image, refs) -> str:
    with time_limit(CASE_LIMIT_S):
        try:
            result = engine.inspect(image, refs)
        except EngineError as exc:
            assert str(exc)
            return "refused"
    check_result(result, np.asarray(image).shape)
    return "inspected"


@st.composite
def hostile_arrays(draw) -> np.ndarray:
    shape = draw(st.one_of(
        st.tuples(st.integers(0, 96), st.integers(0, 96)),
        st.tuples(st.integers(0, 96), st.integers(0, 96), st.sampled_from([1, 2, 3, 4, 5])),
        st.tuples(st.sampled_from([8, 9]), st.integers(8, 4000), st.just(3)),  # one-row line-scan strips
        st.tuples(st.integers(8, 4000), st.sampled_from([8, 9]), st.just(3)),
        st.tuples(st.integers(1, 4), st.integers(1, 16), st.integers(1, 16), st.just(3)),
    ))
    dtype = draw(DTYPES)
    small = int(np.prod(shape)) <= 30_000
    if small:
        elements = None
        if np.dtype(dtype).kind == "f":
            elements = st.floats(allow_nan=True, allow_infinity=True, width=np.dtype(dtype).itemsize * 8)
        array = draw(hnp.arrays(dtype, shape, elements=elements))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        array = (rng.random(shape) * 300 - 20).astype(dtype)
    layout = draw(st.sampled_from(["c", "fortran", "strided", "readonly"]))
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim >= 2 and min(array.shape[:2]) >= 2:
        array = array[::2, ::-1]
    elif layout == "readonly":
        array.setflags(write=False)
    return array


@SUITE
@given(image=hostile_arrays())
def test_hostile_arrays_give_a_result_or_an_engine_error(engine, brick_refs, image):
    inspect_or_error(engine, image, brick_refs)


@pytest.mark.parametrize("value", [None, "part.png", b"\x89PNG", [[0, 1], [2, 3]], 3.5, np.float32(1.0)])
def test_non_arrays_are_an_engine_error(engine, brick_refs, value):
    with pytest.raises(EngineError):
        engine.inspect(value, brick_refs)


def test_nan_and_inf_images_are_inspected_on_a_finite_scale(engine, brick_refs):
    image = np.full((64, 64, 3), np.nan, np.float32)
    image[::3] = np.inf
    image[1::3] = -np.inf
    assert inspect_or_error(engine, image, brick_refs) == "inspected"


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=mutated_files())
def test_damaged_files_end_as_a_result_or_an_engine_error(engine, brick_refs, data):
    """The station's path: file bytes -> decode -> inspect, with the refs of a real product."""
    try:
        image = decode_image(data)
    except EngineError:
        return
    inspect_or_error(engine, image, brick_refs)
