"""Every export format written and read back; statistics; cancelling leaves no partial file."""
from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess

import numpy as np
import pytest
from history_helpers import at, record
from openpyxl import load_workbook

from desktop_app.history import HistoryFilter, Sort
from desktop_app.history.export import export_csv, export_jsonl, export_pdf, export_xlsx
from desktop_app.history.stats import shift_of, statistics


@pytest.fixture
def filled(store):
    for i in range(30):
        verdict = "NG" if i % 5 == 0 else ("REVIEW" if i % 7 == 0 else "OK")
        iid = record(store, verdict, score=0.9 if verdict == "NG" else (0.5 if verdict == "REVIEW" else 0.12),
                     seed=i, time=at(i * 0.5), lot="L1" if i < 20 else "L2", serial=f"SN{i:03d}",
                     product="cap" if i % 2 else "gear", operator="ann, \"the\" inspector")
        if verdict == "NG":
            store.add_chat_message(iid, "user", "Where is the defect?")
            store.add_chat_message(iid, "assistant", "A dent, top left, ünïcode.")
    store.override(store.query(HistoryFilter(verdicts=("NG",)), Sort("time", False), limit=1)[0].id, "OK", "false_alarm",
                   "glare", operator="ivan")
    return store


def drain(gen):
    progress = list(gen)
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1]
    return progress


def test_csv_roundtrip(filled, tmp_path):
    drain(export_csv(filled, tmp_path / "out.csv", HistoryFilter(lot="L1")))
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 == filled.count(HistoryFilter(lot="L1"))
    assert rows[0]["operator"] == 'ann, "the" inspector'
    assert {r["lot"] for r in rows} == {"L1"}
    overridden = [r for r in rows if r["overridden"] == "True"]
    assert len(overridden) == 1 and overridden[0]["verdict"] == "NG" and overridden[0]["effective_verdict"] == "OK"
    assert dt.datetime.fromisoformat(rows[0]["time_utc"]).tzinfo is not None


def test_xlsx_roundtrip(filled, tmp_path):
    drain(export_xlsx(filled, tmp_path / "out.xlsx"))
    book = load_workbook(tmp_path / "out.xlsx", read_only=True)
    rows = list(book["Inspections"].iter_rows(values_only=True))
    assert rows[0][0] == "id" and len(rows) == 31
    assert isinstance(rows[1][2], dt.datetime)
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True)}
    assert summary["inspections"] == 30 and summary["NG"] == 5  # 6 NG, one overridden to OK
    assert summary["OK"] + summary["REVIEW"] + summary["NG"] == 30


def test_jsonl_has_everything(filled, tmp_path):
    drain(export_jsonl(filled, tmp_path / "out.jsonl", batch=7))
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 30
    ng = [x for x in lines if x["verdict"] == "NG"]
    assert all(len(x["messages"]) == 2 for x in ng) and "ünïcode" in ng[0]["messages"][1]["text"]
    assert sum(len(x["overrides"]) for x in lines) == 1
    assert all(x["regions"][0]["location"] == "top left" for x in ng)
    from desktop_app.history.files import decode_heatmap_png
    heat = decode_heatmap_png(open(ng[0]["heatmap_file"], "rb").read())
    assert heat.max() == pytest.approx(0.9, abs=1e-4)


def test_cancelled_export_leaves_no_file(filled, tmp_path):
    gen = export_csv(filled, tmp_path / "cancelled.csv", every=5)
    next(gen), next(gen)
    gen.close()
    assert list(tmp_path.glob("*cancelled*")) == []


def test_statistics_by_day_shift_product(filled):
    by_product = {g.key: g for g in statistics(filled, by="product").groups}
    assert by_product["cap"].total + by_product["gear"].total == 30
    stats = statistics(filled, by="shift", tz=dt.timezone.utc)
    assert sum(g.total for g in stats.groups) == 30 and stats.overall.ng == 5
    assert stats.overall.yield_ == pytest.approx(stats.overall.ok / 30)
    assert [g.key for g in stats.groups] == ["2025-03-03 early", "2025-03-03 late"]
    counts, edges = stats.histogram(10)
    assert counts.sum() == 30 and edges[0] == 0 and edges[-1] == 1
    assert shift_of(dt.datetime(2025, 3, 4, 2, 0)) == (dt.date(2025, 3, 3), "night")


def test_pdf_report_pages_and_render(filled, tmp_path):
    drain(export_pdf(filled, tmp_path / "lot.pdf", HistoryFilter(lot="L1"), title="Lot L1 report",
                     tz=dt.timezone.utc))
    data = (tmp_path / "lot.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils (pdfinfo/pdftoppm) not installed")
    info = subprocess.run(["pdfinfo", str(tmp_path / "lot.pdf")], capture_output=True, text=True, check=True)
    pages = int(next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:")))
    assert pages >= 1
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(tmp_path / "lot.pdf"), str(tmp_path / "page")], check=True)
    from PIL import Image
    first = np.asarray(Image.open(sorted(tmp_path.glob("page*.png"))[0]).convert("RGB"))
    assert first.std() > 10  # not a blank page: text, charts and thumbnails are drawn
    text = subprocess.run(["pdftotext", str(tmp_path / "lot.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Lot L1 report" in text and "NG parts (3)" in text and "boundary" in text
