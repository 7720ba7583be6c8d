"""Fixtures for the desktop station: one shared engine, a pre-calibrated demo product, no stray threads."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from anomalygpt_engine import Engine, EngineConfig, load_image
from desktop_app.paths import demo_samples_dir
from desktop_app.references import DEMO_PRODUCT, FolderReferenceRepository, ensure_demo_product
from desktop_app.worker import running_threads

# Template answers keep chat tests fast and deterministic; one core is left to the GUI thread.
TEST_CONFIG = EngineConfig(llm="none", num_threads=1)


@pytest.fixture(autouse=True)
def no_qthread_left_running():
    """napari's rule: a test that leaves a QThread running fails. Then the test's garbage is collected
    here, in the GUI thread, while nothing else runs, not at a random point of the next test."""
    yield
    alive = running_threads()
    assert not alive, f"QThreads still running after the test: {[t.objectName() for t in alive]}"
    gc.collect()


@pytest.fixture(scope="session")
def engine() -> Engine:
    engine = Engine(TEST_CONFIG)
    _ = engine.encoder
    return engine


@pytest.fixture(scope="session")
def demo_refs(engine):
    paths = sorted((demo_samples_dir() / "references").glob("*.jpg"))
    return engine.build_references([load_image(p) for p in paths], DEMO_PRODUCT, "demo")


@pytest.fixture(scope="session")
def calibrated_template(tmp_path_factory, demo_refs) -> Path:
    """A data folder with the demo product already calibrated, copied into each station test."""
    root = tmp_path_factory.mktemp("template")
    repo = FolderReferenceRepository(root / "products")
    ensure_demo_product(repo, marker_dir=root)
    repo.save_calibrated(DEMO_PRODUCT, demo_refs)
    return root


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("ANOMALYGPT_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def calibrated_data_dir(data_dir, calibrated_template) -> Path:
    shutil.copytree(calibrated_template, data_dir, dirs_exist_ok=True)
    return data_dir


def make_station(qtbot, engine, settings=None, record_history: bool = False):
    """A real Station (window, worker, camera, hot folder) on the shared engine, started and shown."""
    from PySide6.QtWidgets import QApplication

    from desktop_app.app import Station
    from desktop_app.settings import Settings
    from desktop_app.widgets.theme import apply_theme

    apply_theme(QApplication.instance())
    station = Station(settings=settings or Settings(), engine=engine, record_history=record_history)
    qtbot.addWidget(station.window)
    with qtbot.waitSignal(station.controller.productReady, timeout=60_000):
        station.start(show=True)
    return station


@pytest.fixture
def station(qtbot, engine, calibrated_data_dir):
    station = make_station(qtbot, engine)
    yield station
    station.shutdown(save=False)
