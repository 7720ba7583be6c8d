"""MVTec-layout discovery and reproducible reference draws."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from anomalygpt_engine.evaluation.datasets import discover_categories


def make_category(root: Path, name: str, n_train: int) -> Path:
    folder = root / name
    for index in range(n_train):
        (folder / "train" / "good").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "train" / "good" / f"{index:03d}.png"), np.full((40, 40, 3), index, np.uint8))
    (folder / "test" / "good").mkdir(parents=True)
    cv2.imwrite(str(folder / "test" / "good" / "000.png"), np.zeros((40, 40, 3), np.uint8))
    return folder


def test_seeds_draw_different_references(tmp_path):
    make_category(tmp_path, "widget", 10)
    (category,) = discover_categories(tmp_path)
    one_shot = [tuple(category.draw_references(1, seed)) for seed in range(10)]
    assert len(set(one_shot)) == 10  # every 1-shot seed has its own reference
    first, second = category.draw_references(4, 0), category.draw_references(4, 1)
    assert len(first) == len(second) == 4 and not set(first) & set(second)
    assert category.draw_references(4, 0) == first  # reproducible
    with pytest.raises(ValueError, match="11 shots requested"):
        category.draw_references(11, 0)


def test_categories_draw_independently(tmp_path):
    make_category(tmp_path, "widget", 10)
    make_category(tmp_path, "gadget", 10)
    draws = {c.root.name: [p.name for s in range(3) for p in c.draw_references(1, s)]
             for c in discover_categories(tmp_path)}
    assert draws["widget"] != draws["gadget"]
