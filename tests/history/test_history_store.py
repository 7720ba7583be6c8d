"""Models, migrations, recording, querying, overrides, references and audit on SQLite and PostgreSQL."""
from __future__ import annotations

import numpy as np
import pytest
from history_helpers import at, make_result, record
from sqlalchemy import inspect as sa_inspect

from desktop_app.history import HistoryError, HistoryFilter, HistoryStore, NotFoundError, Sort
from desktop_app.history.migrations import current_revision, downgrade, head_revision, upgrade


def test_migrations_create_schema_and_downgrade(any_store):
    names = set(sa_inspect(any_store.engine).get_table_names())
    assert {"products", "reference_images", "inspections", "chat_messages", "overrides",
            "audit_events", "alembic_version"} <= names
    assert current_revision(any_store.engine) == head_revision()
    downgrade(any_store.engine, "base")
    assert set(sa_inspect(any_store.engine).get_table_names()) <= {"alembic_version"}
    upgrade(any_store.engine)
    assert current_revision(any_store.engine) == head_revision()


def test_record_roundtrip_with_images_and_dialogue(any_store):
    result, image = make_result("NG", 0.83, seed=3)
    iid = any_store.record_inspection(result, image, station="st1", operator="ann", source="cam0",
                                      lot="L7", serial="SN1", engine_version="0.1.0", model_version="lite0",
                                      boundary=0.5)
    any_store.add_chat_message(iid, "user", "Is there any anomaly?")
    any_store.add_chat_message(iid, "assistant", "Yes: a dent at the top left.")
    rec = any_store.get(iid)
    assert rec.row.verdict == "NG" and rec.row.lot == "L7" and rec.row.product == "bracket"
    assert np.array_equal(rec.image, image)
    assert np.abs(rec.heatmap - result.anomaly_map).max() < 1 / 65535 + 1e-6
    assert [m[0] for m in rec.messages] == ["user", "assistant"]
    assert rec.columns["regions"][0]["location"] == "top left"
    assert rec.columns["engine_version"] == "0.1.0" and rec.columns["model_version"] == "lite0"
    assert any_store.files.abspath(rec.columns["image_path"]).exists()


def test_filters_sorting_and_paging(any_store):
    for i in range(12):
        verdict = ("OK", "REVIEW", "NG")[i % 3]
        record(any_store, verdict, score=0.1 + i * 0.05, product="cap" if i < 6 else "gear", seed=i,
               operator="bob" if i % 2 else "ann", time=at(i), lot=f"L{i // 4}")
    iid = any_store.query(HistoryFilter(products=("gear",)), Sort("time", False), limit=1)[0].id
    any_store.add_chat_message(iid, "user", "What about the SCRATCH near the rim?")
    assert any_store.count() == 12
    assert any_store.count(HistoryFilter(products=("cap",))) == 6
    assert any_store.count(HistoryFilter(verdicts=("NG",))) == 4
    assert any_store.count(HistoryFilter(operator="bob")) == 6
    assert any_store.count(HistoryFilter(since=at(2), until=at(5))) == 3
    assert [r.id for r in any_store.query(HistoryFilter(text="scratch"))] == [iid]
    assert any_store.count(HistoryFilter(text="100%_")) == 0  # LIKE wildcards are literal
    scores = [r.score for r in any_store.query(sort=Sort("score", descending=True), limit=5)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    page1 = any_store.query(sort=Sort("time"), offset=0, limit=5)
    page3 = any_store.query(sort=Sort("time"), offset=10, limit=5)
    assert len(page3) == 2 and page1[0].time > page3[-1].time
    products = [r.product for r in any_store.query(sort=Sort("product", False), limit=12)]
    assert products == sorted(products)
    assert any_store.distinct("operator") == ["ann", "bob"]
    with pytest.raises(ValueError):
        any_store.query(sort=Sort("nonsense"))


def test_override_keeps_original_and_is_audited(any_store):
    iid = record(any_store, "NG", 0.7)
    oid = any_store.override(iid, "OK", "false_alarm", "dust on the lens", operator="ivan", propose_reference=True)
    rec = any_store.get(iid, with_images=False)
    assert rec.row.verdict == "NG" and rec.row.effective_verdict == "OK" and rec.row.overridden
    assert rec.overrides[0]["reason_code"] == "false_alarm" and rec.overrides[0]["old_verdict"] == "NG"
    assert any_store.count(HistoryFilter(verdicts=("NG",))) == 0
    assert any_store.count(HistoryFilter(overridden=True)) == 1
    event = any_store.audit_events("override")[0]
    assert event["actor"] == "ivan" and event["details"]["original"] == "NG"
    # the proposal becomes a reference only when an engineer confirms it
    assert any_store.list_references("bracket") == []
    assert [p["override_id"] for p in any_store.reference_proposals("bracket")] == [oid]
    ref_id = any_store.confirm_reference(oid, engineer="erin")
    refs = any_store.list_references("bracket")
    assert [r.id for r in refs] == [ref_id] and refs[0].source_inspection_id == iid
    assert np.array_equal(any_store.load_reference(refs[0]), any_store.get(iid).image)
    assert any_store.reference_proposals() == []
    with pytest.raises(HistoryError):
        any_store.confirm_reference(oid, engineer="erin")
    kinds = [e["kind"] for e in any_store.audit_events()]
    assert kinds[:2] == ["reference_added", "override"]


def test_override_validation(any_store):
    iid = record(any_store, "OK", 0.1)
    with pytest.raises(HistoryError):
        any_store.override(iid, "NG", "missed_defect", "   ", operator="ivan")
    with pytest.raises(HistoryError):  # a missed defect can never become a normal reference
        any_store.override(iid, "NG", "missed_defect", "crack", operator="ivan", propose_reference=True)
    with pytest.raises(ValueError):
        any_store.override(iid, "NG", "because", "crack", operator="ivan")
    with pytest.raises(NotFoundError):
        any_store.override(9999, "NG", "missed_defect", "crack", operator="ivan")
    oid = any_store.override(iid, "NG", "missed_defect", "hairline crack", operator="ivan")
    assert oid and any_store.get(iid, with_images=False).row.effective_verdict == "NG"


def test_products_and_references_crud(any_store):
    any_store.create_product("gear", description="spur gear", retention="ng_only", actor="erin")
    with pytest.raises(HistoryError):
        any_store.create_product("gear")
    info = any_store.update_product("gear", actor="erin", retention="sample", sample_rate=0.5)
    assert info.retention == "sample" and info.sample_rate == 0.5
    image = np.full((20, 30, 3), 128, np.uint8)
    ref = any_store.add_reference("gear", image, actor="erin")
    assert [r.id for r in any_store.list_references("gear")] == [ref]
    any_store.remove_reference(ref, actor="erin")
    assert any_store.list_references("gear") == []
    assert len(any_store.list_references("gear", include_removed=True)) == 1
    kinds = [e["kind"] for e in any_store.audit_events()]
    assert {"product_created", "product_changed", "reference_added", "reference_removed"} <= set(kinds)
    any_store.audit("settings_changed", "erin", "station", {"camera": "exposure 8 ms"})
    assert any_store.audit_events("settings_changed")[0]["details"] == {"camera": "exposure 8 ms"}
    record(any_store, "OK", product="gear")
    with pytest.raises(HistoryError):
        any_store.delete_product("gear", actor="erin")
    any_store.create_product("unused")
    any_store.delete_product("unused", actor="erin")
    assert "unused" not in [p.name for p in any_store.list_products()]


def test_retention_policies_keep_rows_always(store):
    store.create_product("ngonly", retention="ng_only")
    store.create_product("sampled", retention="sample", sample_rate=0.3)
    ok_id = record(store, "OK", 0.1, product="ngonly")
    ng_id = record(store, "NG", 0.9, product="ngonly")
    review_id = record(store, "REVIEW", 0.5, product="ngonly", seed=1)
    assert store.get(ok_id).image is None and store.get(ok_id).row.verdict == "OK"
    assert store.get(ng_id).image is not None and store.get(review_id).image is not None
    kept = [store.get(record(store, "OK", 0.1, product="sampled", seed=i)).image is not None
            for i in range(40)]
    assert 3 <= sum(kept) <= 22  # ~30 % by uid hash
    assert store.count(HistoryFilter(products=("sampled",))) == 40


def test_default_location_is_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ANOMALYGPT_DATA_DIR", str(tmp_path / "data"))
    with HistoryStore() as s:
        assert s.url.endswith("data/history.sqlite3")
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "data" / "history.sqlite3").exists()
