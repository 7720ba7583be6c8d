"""StationCatalog: one product catalog with roles, an audit trail, and renames the history follows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_helpers import make_result  # noqa: E402

from desktop_app.catalog import StationCatalog  # noqa: E402
from desktop_app.history.operators import NotAllowedError, Operator  # noqa: E402
from desktop_app.history.recorder import StationRecorder, Trace  # noqa: E402
from desktop_app.references import FolderReferenceRepository  # noqa: E402

TRACE = Trace(engine_version="0.1.0", models={}, model_version="m", boundary=0.5)


@pytest.fixture
def station(tmp_path):
    state = {"operator": Operator("erin", "engineer")}
    recorder = StationRecorder("st1", tmp_path / "db", operator=state["operator"])
    catalog = StationCatalog(FolderReferenceRepository(tmp_path / "products"), lambda: state["operator"], recorder)
    yield catalog, recorder, state
    recorder.close()


def test_inspectors_cannot_edit_the_catalog(station):
    catalog, recorder, state = station
    catalog.create_product("Bracket")
    state["operator"] = Operator("ivan", "inspector")
    image = np.full((40, 50, 3), 90, np.uint8)
    for edit in (lambda: catalog.create_product("Gear"), lambda: catalog.rename_product("Bracket", "B2"),
                 lambda: catalog.delete_product("Bracket"), lambda: catalog.add_reference_image("Bracket", image),
                 lambda: catalog.set_description("Bracket", "x")):
        with pytest.raises(NotAllowedError):
            edit()
    assert [p.name for p in catalog.products()] == ["Bracket"] and catalog.product("Bracket").n_references == 0


def test_rename_reaches_the_history_and_delete_keeps_it_readable(station):
    catalog, recorder, _state = station
    catalog.create_product("Bracket")
    catalog.add_reference_image("Bracket", np.full((40, 50, 3), 90, np.uint8))
    result, image = make_result("NG", 0.8, product="Bracket")
    key = recorder.record_inspection(result, image, source="cam0", trace=TRACE).key
    catalog.rename_product("Bracket", "Bracket v2")
    assert [p.name for p in recorder.store.list_products()] == ["Bracket v2"]
    assert recorder.store.query()[0].product == "Bracket v2"
    catalog.delete_product("Bracket v2")
    assert catalog.products() == []
    assert recorder.store.get(key, with_images=False).row.product == "Bracket v2"  # history kept, readable
    kinds = [(e["kind"], e["actor"], e["subject"]) for e in reversed(recorder.store.audit_events())]
    assert kinds == [("product_created", "erin", "product:Bracket"), ("reference_added", "erin", "product:Bracket"),
                     ("product_renamed", "erin", "product:Bracket v2"),
                     ("product_deleted", "erin", "product:Bracket v2")]


def test_retention_is_set_through_the_catalog_and_applies_to_the_next_record(station):
    catalog, recorder, state = station
    catalog.create_product("Gear")
    assert catalog.retention("Gear") == ("all", 0.1)
    state["operator"] = Operator("ivan", "inspector")
    with pytest.raises(NotAllowedError):
        catalog.set_retention("Gear", "ng_only")
    state["operator"] = Operator("erin", "engineer")
    catalog.set_retention("Gear", "ng_only")
    assert catalog.retention("Gear") == ("ng_only", 0.1)
    result, image = make_result("OK", 0.1, product="Gear")
    key = recorder.record_inspection(result, image, source="cam0", trace=TRACE).key
    assert recorder.store.get(key, with_images=False).columns["image_path"] is None  # OK part: no image kept
    assert recorder.store.audit_events(kind="product_changed")[0]["actor"] == "erin"
