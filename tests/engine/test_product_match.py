"""Wrong product: a part that does not look like the product at all is said so, not a defect at a place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anomalygpt_engine import Engine, EngineConfig, Verdict, load_image
from anomalygpt_engine import product_match as pm
from desktop_app.paths import demo_samples_dir

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(EngineConfig(llm="none", num_threads=1))


@pytest.fixture(scope="module")
def demo(engine):
    refs = [load_image(p) for p in sorted((demo_samples_dir() / "references").glob("*.jpg"))[:1]]
    return engine.build_references(refs, "ballscrew")


def test_parts_of_the_product_are_not_wrong_parts(engine, demo):
    for path in sorted((demo_samples_dir() / "test").glob("*.jpg")):  # good and pitting
        result = engine.inspect(load_image(path), demo)
        assert not result.wrong_part, path.name
        assert result.product_similarity is not None and result.product_similarity > 0.5


def test_another_object_and_an_empty_fixture_are_wrong_parts(engine, demo):
    skimage_data = pytest.importorskip("skimage.data")
    brick = np.stack([skimage_data.brick()] * 3, axis=-1)
    for image in (brick, np.full((261, 640, 3), 90, np.uint8)):
        result = engine.inspect(image, demo)
        assert result.wrong_part and result.verdict is Verdict.NG
        assert result.regions == ()  # not "a defect at the center"


def test_the_threshold_is_learned_from_the_references_alone():
    rng = np.random.default_rng(0)
    base = rng.normal(size=16).astype(np.float32)

    def embed(images):  # a stand-in encoder: mean colour plus a fixed direction
        return np.stack([base + np.asarray(im, np.float32).mean() / 255.0 for im in images])

    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    match = pm.learn([image], embed)
    assert match.threshold >= pm.FLOOR and match.threshold == max(pm.FLOOR, pm.FACTOR * match.drift)
    assert not pm.decide(match.threshold * 0.9, match.threshold, 1.0)
    assert not pm.decide(match.threshold * 1.5, match.threshold, 0.1)  # far, but a defect at a place
    assert pm.decide(match.threshold * 1.5, match.threshold, 0.9)
    assert pm.decide(match.threshold * (pm.STRONG + 0.1), match.threshold, 0.0)


@pytest.mark.skipif(not (DATA / "mvtec15").is_dir(), reason="../shared/data/mvtec15 is absent")
def test_a_bottle_against_the_ball_screw_is_a_wrong_part(engine, demo):
    bottle = sorted((DATA / "mvtec15" / "bottle" / "test" / "good").glob("*.png"))[0]
    result = engine.inspect(load_image(bottle), demo)
    assert result.wrong_part and result.regions == ()
