"""Reference repository on disk, the first-run demo product, and settings round trips."""

from __future__ import annotations

import numpy as np
import pytest

from anomalygpt_engine import ReferenceSetError
from desktop_app.paths import user_data_dir
from desktop_app.references import DEMO_PRODUCT, FolderReferenceRepository, ensure_demo_product
from desktop_app.settings import Settings, load_settings, save_settings


def test_data_dir_follows_the_environment(data_dir):
    assert user_data_dir() == data_dir


def test_product_lifecycle_and_calibration_stamp(data_dir, demo_refs):
    repo = FolderReferenceRepository()
    repo.create_product("Bracket", "steel bracket")
    with pytest.raises(ReferenceSetError):
        repo.create_product("Bracket")
    path = repo.add_reference_image("Bracket", np.full((40, 50, 3), 90, np.uint8))
    info = repo.product("Bracket")
    assert info.n_references == 1 and not info.is_calibrated
    repo.save_calibrated("Bracket", demo_refs)
    assert repo.product("Bracket").is_calibrated
    assert repo.load_calibrated("Bracket").size == demo_refs.size
    repo.add_reference_image("Bracket", np.full((40, 50, 3), 80, np.uint8))
    assert not repo.product("Bracket").is_calibrated  # new reference: calibration is due again
    assert repo.load_calibrated("Bracket") is None
    repo.remove_reference("Bracket", path)
    assert not path.exists() and repo.product("Bracket").n_references == 1
    repo.rename_product("Bracket", "Bracket v2")
    repo.set_description("Bracket v2", "new text")
    assert [p.name for p in FolderReferenceRepository().products()] == ["Bracket v2"]
    assert repo.product("Bracket v2").description == "new text"
    repo.delete_product("Bracket v2")
    assert repo.products() == []


def test_adding_a_non_image_file_is_refused(data_dir, tmp_path):
    repo = FolderReferenceRepository()
    repo.create_product("P")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ReferenceSetError):
        repo.add_reference_files("P", [tmp_path / "notes.txt"])


def test_demo_product_installs_once(data_dir):
    repo = FolderReferenceRepository()
    assert ensure_demo_product(repo) == DEMO_PRODUCT
    assert repo.product(DEMO_PRODUCT).n_references == 4
    repo.delete_product(DEMO_PRODUCT)
    assert ensure_demo_product(repo) is None  # the user deleted it: do not bring it back


def test_settings_round_trip_and_damaged_file(data_dir):
    settings = Settings(camera_source="rtsp://cam/1", hot_folder="/tmp/in", heatmap_opacity=40)
    save_settings(settings)
    assert load_settings() == settings
    assert settings.camera_source_value() == "rtsp://cam/1" and Settings().camera_source_value() == 0
    (data_dir / "settings.json").write_text("{not json")
    assert load_settings() == Settings()
