"""Shared by tests/engine/test_published_*.py: the tiny published artefacts, built once per process."""
from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch


@lru_cache(maxsize=1)
def tiny_published():
    """TinyPaths of random ImageBind / Vicuna / PandaGPT delta / AnomalyGPT files in the release layout."""
    from anomalygpt_engine.published.tiny import save_tiny_published

    folder = Path(tempfile.mkdtemp(prefix="tiny-published-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return save_tiny_published(folder)


def published_config(**changes):
    from anomalygpt_engine.config import EngineConfig

    fields = {**tiny_published().config_fields(), "device": "cpu", "rotations": (0, 90, 180, 270)}
    return EngineConfig(**{**fields, **changes})


def part(seed: int = 0, defect: bool = False) -> np.ndarray:
    """A textured 'part' image; the defect is a bright square."""
    rng = np.random.default_rng(seed)
    image = (rng.random((120, 160, 3)) * 60 + 100).astype(np.uint8)
    if defect:
        image[30:70, 40:90] = 250
    return image


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread than on two busy cores; restore afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
