from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from anomalygpt_engine.cli import build_parser, main
from tests.engine.conftest import texture_part, with_defect


def _write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image[:, :, ::-1])


@pytest.fixture(scope="module")
def mvtec_layout(tmp_path_factory):
    """A two-category MVTec-layout dataset built from textures, with masks for the stains."""
    root = tmp_path_factory.mktemp("data") / "toyset"
    for category, texture in (("brick", "brick"), ("gravel", "gravel")):
        base = root / category
        for i in range(3):
            _write(base / "train" / "good" / f"{i:03d}.png", texture_part(i, 128, texture))
        for i in range(2):
            _write(base / "test" / "good" / f"{i:03d}.png", texture_part(10 + i, 128, texture))
            defect = with_defect(texture_part(20 + i, 128, texture), (40 + 40 * i, 60), radius=12)
            _write(base / "test" / "stain" / f"{i:03d}.png", defect)
            mask = np.zeros((128, 128), np.uint8)
            cv2.circle(mask, (40 + 40 * i, 60), 12, 255, -1)
            _write(base / "ground_truth" / "stain" / f"{i:03d}_mask.png", np.dstack([mask] * 3))
    return root


def test_parser_knows_the_core_commands():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"eval", "inspect", "bench"} <= set(commands)


def test_eval_writes_the_documented_json(mvtec_layout, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["eval", "--data", str(mvtec_layout), "--shots", "1", "2", "--seeds", "2",
                 "--json", str(out), "--quiet", "--image-size", "128"])
    assert code == 0
    report = json.loads(out.read_text())
    for k in ("1", "2"):
        block = report["shots"][k]
        assert set(block["categories"]) == {"toyset/brick", "toyset/gravel"}
        for stats in (block["mean"], block["std"], *block["categories"].values()):
            assert set(stats) >= {"image_auroc", "pixel_auroc", "aupro", "accuracy", "f1"}
        assert all(0.0 <= v <= 1.0 for v in block["mean"].values())
        assert block["mean"]["image_auroc"] > 0.7  # stains this plain are easy to find
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith("summary: 1-shot image AUROC")


def test_eval_without_categories_fails_cleanly(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path), "--quiet"]) == 2
    assert "no MVTec-layout categories" in capsys.readouterr().err


def test_inspect_round_trip_with_saved_references(mvtec_layout, tmp_path, capsys):
    category = mvtec_layout / "brick"
    refs_dir, report = tmp_path / "refs", tmp_path / "out.jsonl"
    assert main(["inspect", str(category / "test" / "stain"), "--refs", str(category / "train" / "good"),
                 "--product", "brick", "--save-refs", str(refs_dir), "--json", str(report),
                 "--heatmaps", str(tmp_path / "heat"), "--image-size", "128"]) == 0
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 2 and all(r["verdict"] in ("NG", "REVIEW") for r in records)
    assert len(list((tmp_path / "heat").glob("*_heatmap.png"))) == 2
    capsys.readouterr()
    assert main(["inspect", str(category / "test" / "good"), "--refs-set", str(refs_dir), "--image-size", "128"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("\t" in line for line in lines)


def test_inspect_reports_unreadable_files_and_continues(mvtec_layout, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    good = mvtec_layout / "brick" / "test" / "good" / "000.png"
    code = main(["inspect", str(bad), str(good), "--refs", str(mvtec_layout / "brick" / "train" / "good"),
                 "--image-size", "128"])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.png: ERROR" in captured.err and "000.png" in captured.out


def test_inspect_a_folder_as_one_lot(mvtec_layout, tmp_path, capsys):
    """--lot: the good and stained parts of the category form one lot; every readable part gets its
    line in order, stains flagged and good parts OK, and an unreadable file is reported, not fatal."""
    category = mvtec_layout / "brick"
    lot = tmp_path / "lot"
    lot.mkdir()
    for folder in ("good", "stain"):
        for path in sorted((category / "test" / folder).glob("*.png")):
            (lot / f"{folder}_{path.name}").write_bytes(path.read_bytes())
    (lot / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    report = tmp_path / "lot.jsonl"
    code = main(["inspect", str(lot), "--refs", str(category / "train" / "good"), "--lot", "--json", str(report),
                 "--image-size", "128"])
    captured = capsys.readouterr()
    assert code == 1 and "zz_broken.png: ERROR" in captured.err
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["image"].rsplit("/", 1)[-1] for r in records] == sorted(p.name for p in lot.glob("*_0*.png"))
    verdicts = {r["image"].rsplit("/", 1)[-1].split("_")[0]: [] for r in records}
    for r in records:
        verdicts[r["image"].rsplit("/", 1)[-1].split("_")[0]].append(r["verdict"])
    assert all(v in ("NG", "REVIEW") for v in verdicts["stain"]) and all(v == "OK" for v in verdicts["good"])


def test_bench_writes_the_documented_json(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--repeats", "3", "--batch", "4", "--json", str(out), "--image-size", "128"]) == 0
    report = json.loads(out.read_text())
    for key in ("latency_ms_p50", "latency_ms_p95", "images_per_s", "build_refs_s_k1", "build_refs_s_k4", "peak_rss_mb"):
        assert report[key] > 0
    assert report["latency_ms_p95"] >= report["latency_ms_p50"]
