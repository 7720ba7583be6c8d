"""Part id, serial and lot of a line-triggered part (issue 16): stored, migrated, filtered, exported."""
from __future__ import annotations

import csv
import json

import pytest
from history_helpers import at, make_result, record
from openpyxl import load_workbook
from sqlalchemy import create_engine, inspect, text

from desktop_app.history import HistoryError, HistoryFilter, HistoryStore, Sort
from desktop_app.history.export import TABLE_HEADER, export_csv, export_jsonl, export_xlsx
from desktop_app.history.migrations import downgrade, upgrade
from desktop_app.history.recorder import StationRecorder, Trace

TRACE = Trace(engine_version="0.1.0", models={}, model_version="lite0", boundary=0.5)


def test_part_labels_are_stored_filtered_and_sorted(any_store):
    for i in range(6):
        record(any_store, "OK" if i % 2 else "NG", seed=i, time=at(i), lot=f"L{i // 3}", serial=f"SN-{i:04d}",
               part_id=f"P{5 - i}")
    record(any_store, "OK", seed=9, time=at(7))  # off the line: no labels at all
    rows = any_store.query(HistoryFilter(serial="SN-0003"))
    assert [(r.serial, r.part_id, r.lot) for r in rows] == [("SN-0003", "P2", "L1")]
    assert any_store.count(HistoryFilter(part_id="P5")) == 1
    assert any_store.count(HistoryFilter(serial="SN-00")) == 0  # exact: a serial names one part
    assert any_store.count(HistoryFilter(lot="L1", serial="SN-0004")) == 1
    unlabelled = any_store.query(sort=Sort("time"), limit=1)[0]
    assert (unlabelled.serial, unlabelled.part_id, unlabelled.lot) == (None, None, None)
    ordered = [r.part_id for r in any_store.query(HistoryFilter(lot="L0"), Sort("part_id", descending=False))]
    assert ordered == ["P3", "P4", "P5"]
    assert any_store.get(rows[0].id).columns["part_id"] == "P2"


def test_empty_labels_are_none_and_too_long_ones_are_refused(store):
    iid = record(store, serial="  ", part_id="", lot=" L9 ")
    row = store.get(iid).row
    assert (row.serial, row.part_id, row.lot) == (None, None, "L9")
    with pytest.raises(HistoryError, match="at most 100"):
        record(store, serial="S" * 101)


def test_recorder_keeps_the_labels_of_judged_and_unjudged_parts(tmp_path):
    recorder = StationRecorder("st1", tmp_path / "db")
    try:
        result, image = make_result("NG", 0.8)
        judged = recorder.record_inspection(result, image, source="plc", trace=TRACE, lot="L1", serial="SN-1",
                                            part_id="P-1")
        failed = recorder.record_failure("NO IMAGE", "camera: timeout", product="bracket", source="plc",
                                         serial="SN-2", part_id="P-2")
        store = recorder.store
        assert store is not None
        by_serial = {r.serial: r for r in store.query()}
        assert by_serial["SN-1"].id == judged.key and by_serial["SN-1"].part_id == "P-1"
        assert by_serial["SN-1"].lot == "L1"
        assert by_serial["SN-2"].id == failed.key and by_serial["SN-2"].verdict == "NO IMAGE"
        assert by_serial["SN-2"].part_id == "P-2"
    finally:
        recorder.close()


def test_exports_carry_part_id_and_serial(store, tmp_path):
    record(store, "NG", seed=1, time=at(1), serial="SN-7", part_id="P-7", lot="L7")
    record(store, "OK", seed=2, time=at(2))
    for name, export in (("out.csv", export_csv), ("out.xlsx", export_xlsx), ("out.jsonl", export_jsonl)):
        list(export(store, tmp_path / name, HistoryFilter(), Sort("time", False)))
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["serial"], r["part_id"], r["lot"]) for r in rows] == [("SN-7", "P-7", "L7"), ("", "", "")]
    sheet = load_workbook(tmp_path / "out.xlsx").worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[: len(TABLE_HEADER)] == TABLE_HEADER
    first = {k: c.value for k, c in zip(header, sheet[2])}
    assert (first["serial"], first["part_id"]) == ("SN-7", "P-7")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (lines[0]["serial"], lines[0]["part_id"], lines[1]["part_id"]) == ("SN-7", "P-7", None)


def test_migration_0004_adds_part_id_to_an_existing_record_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine, "0003")  # a station database from before the line integration
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO products (id, name, description, retention, sample_rate, created_at) "
                          "VALUES (1, 'bracket', '', 'all', 0.1, '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO inspections (uid, time, station, operator, product_id, source, serial, verdict, "
            "effective_verdict, score, raw_score, boundary, regions, region_count, image_width, image_height, "
            "latency_ms, mode, engine_version, model_version) VALUES ('u1', '2026-01-01 08:00:00', 'st1', "
            "'ann', 1, 'cam', 'SN-OLD', 'OK', 'OK', 0.1, 0.2, 0.5, '[]', 0, 8, 8, 1.0, 'fewshot', '0.1', 'm')"))
    upgrade(engine)
    assert "ix_inspections_part_id" in {i["name"] for i in inspect(engine).get_indexes("inspections")}
    engine.dispose()
    with HistoryStore(url, files_dir=tmp_path / "files") as store:
        (row,) = store.query(HistoryFilter(serial="SN-OLD"))
        assert row.part_id is None
        new = record(store, serial="SN-NEW", part_id="P-NEW")
        assert store.get(new).row.part_id == "P-NEW"
        downgrade(store.engine, "0003")
        assert "part_id" not in {c["name"] for c in inspect(store.engine).get_columns("inspections")}
        upgrade(store.engine)
