"""Simulated anomalies: masks inside the image, reproducible by seed, answers that match the mask."""
from __future__ import annotations

import re

import numpy as np
import pytest

from anomalygpt_engine import synthesis
from anomalygpt_engine.regions import location_phrase
from anomalygpt_engine.synthesis import NO_ANOMALY, SimulatedAnomaly, describe, simulate, simulate_training
from anomalygpt_engine.training.decoder_data import DecoderData
from tests.engine.conftest import texture_part

GENERATORS = {
    "cutpaste": synthesis.cutpaste,
    "scratch": synthesis.scratch,
    "blotch": synthesis.blotch,
    "scar": synthesis.cutpaste_scar,
    "poisson": lambda img, rng: synthesis.poisson_patch(img, rng, texture_part(99, texture="grass")),
    "perlin": synthesis.perlin_texture,
}


@pytest.fixture(scope="module")
def part() -> np.ndarray:
    return texture_part(1, size=224)


def _where(description: str) -> str:
    match = re.fullmatch(r"Yes, there is an anomaly in the image, at the (.+) of the image\.", description)
    assert match, description
    return match.group(1)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_mask_inside_image_and_answer_matches(name, part):
    for seed in range(6):
        sample = GENERATORS[name](part, np.random.default_rng(seed))
        assert isinstance(sample, SimulatedAnomaly)
        assert sample.image.shape == part.shape and sample.image.dtype == np.uint8
        assert sample.mask.shape == part.shape[:2] and sample.mask.dtype == bool
        assert sample.mask.any(), f"{name} seed {seed}: empty mask"
        assert sample.mask.sum() < 0.5 * sample.mask.size
        ys, xs = np.nonzero(sample.mask)
        assert _where(sample.description) == location_phrase(xs.mean(), ys.mean(), part.shape[1], part.shape[0])
        if name != "poisson":  # Poisson blending shifts colours slightly beyond its visible mask
            assert np.array_equal(sample.image[~sample.mask], part[~sample.mask]), "pixels outside the mask changed"
        assert np.abs(sample.image.astype(int) - part)[sample.mask].mean() > 2, "defect is invisible"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_reproducible_by_seed(name, part):
    first = GENERATORS[name](part, np.random.default_rng(7))
    again = GENERATORS[name](part, np.random.default_rng(7))
    other = GENERATORS[name](part, np.random.default_rng(8))
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert first.description == again.description
    assert not np.array_equal(first.mask, other.mask)


def test_describe_uses_the_3x3_location_words():
    mask = np.zeros((90, 90), bool)
    mask[5:20, 5:20] = True
    assert describe(mask) == "Yes, there is an anomaly in the image, at the top left of the image."
    mask[:] = False
    mask[40:50, 40:50] = True
    assert describe(mask) == "Yes, there is an anomaly in the image, at the center of the image."
    mask[:] = False
    mask[70:85, 40:50] = True
    assert describe(mask) == "Yes, there is an anomaly in the image, at the bottom of the image."
    assert describe(np.zeros((9, 9), bool)) == NO_ANOMALY


def test_calibration_entry_points_keep_their_signatures(part):
    sample = simulate(part, np.random.default_rng(0))
    assert sample.kind in {"cutpaste", "scratch", "blotch"} and sample.mask.any()
    assert sample.description.startswith("Yes")
    variant = synthesis.jitter(part, np.random.default_rng(0))
    assert variant.shape == part.shape and variant.dtype == np.uint8


def test_training_mix_covers_every_kind_and_never_returns_an_empty_mask(part):
    rng = np.random.default_rng(3)
    kinds = set()
    for _ in range(60):
        sample = simulate_training(part, rng, sources=[texture_part(5)], textures=[texture_part(6, texture="gravel")])
        assert sample.mask.any()
        kinds.add(sample.kind)
    assert kinds == set(synthesis.TRAINING_KINDS)


def test_training_batches_are_a_function_of_seed_and_step():
    data = DecoderData([texture_part(s) for s in range(4)], [texture_part(9, texture="grass")], size=128)
    first, again, other = data.batch(0, 5, 6), data.batch(0, 5, 6), data.batch(0, 6, 6)
    assert all(np.array_equal(a, b) for a, b in zip(first.images, again.images))
    assert np.array_equal(first.masks, again.masks) and first.descriptions == again.descriptions
    assert not np.array_equal(first.masks, other.masks)
    for mask, kind, answer in zip(first.masks, first.kinds, first.descriptions):
        assert mask.shape == (128, 128)
        assert (kind == "normal") == (not mask.any()) == (answer == NO_ANOMALY)
