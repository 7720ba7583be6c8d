"""`anomalygpt inspect`: verdicts for images or folders, from a folder of normal references."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from anomalygpt_engine.commands._common import add_engine_options, engine_config
from anomalygpt_engine.errors import EngineError, ImageLoadError
from anomalygpt_engine.imageio import is_image_path, load_image
from anomalygpt_engine.pipeline import Engine
from anomalygpt_engine.reference_set import ReferenceSet
from anomalygpt_engine.types import InspectionResult


def register(subparsers) -> None:
    parser = subparsers.add_parser("inspect", help="inspect images against normal references")
    parser.add_argument("images", type=Path, nargs="+", help="image files or folders")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--refs", type=Path, help="folder (or file) of normal reference images")
    source.add_argument("--refs-set", type=Path, help="a reference set saved earlier with --save-refs")
    parser.add_argument("--product", default="product")
    parser.add_argument("--save-refs", type=Path, help="save the built reference set to this folder")
    parser.add_argument("--heatmaps", type=Path, help="write heatmap overlays (PNG) into this folder")
    parser.add_argument("--json", type=Path, help="write one JSON object per image (JSON lines)")
    parser.add_argument("--lot", action="store_true",
                        help="the images are one lot of the product: the boundary also learns from the lot's "
                             "own scores (README, \"Verdicts\"; at most half of a lot may be defective)")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to their image files, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p)))
        else:
            out.append(path)
    return out


def result_record(path: Path, result: InspectionResult) -> dict:
    return {
        "image": str(path),
        "verdict": result.verdict.value,
        "score": round(result.score, 4),
        "latency_ms": round(result.latency_ms, 1),
        "regions": [
            {"bbox": list(r.bbox), "area_px": r.area_px, "area_fraction": round(r.area_fraction, 5),
             "centroid": [round(v, 1) for v in r.centroid], "location": r.location}
            for r in result.regions
        ],
    }


def overlay(image: np.ndarray, anomaly_map: np.ndarray) -> np.ndarray:
    """Heatmap over the image on the fixed calibrated scale (0..1), BGR for cv2.imwrite."""
    heat = cv2.resize(anomaly_map, (image.shape[1], image.shape[0]))
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    alpha = np.clip((heat - 0.2) / 0.6, 0, 0.6)[:, :, None]
    return (image[:, :, ::-1] * (1 - alpha) + colour * alpha).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    engine = Engine(engine_config(args))
    if args.refs_set:
        refs = ReferenceSet.load(args.refs_set)
    else:
        reference_paths = expand([args.refs])
        refs = engine.build_references([load_image(p) for p in reference_paths], args.product)
        print(f"built {args.product!r} from {len(reference_paths)} references "
              f"(boundary {refs.calibration.boundary:.4f}, {refs.calibration.method})", file=sys.stderr)
    if args.save_refs:
        refs.save(args.save_refs)
    sink = args.json.open("w") if args.json else None
    failures = 0
    for path, outcome in _outcomes(engine, expand(args.images), refs, args.lot):
        if isinstance(outcome, Exception):
            failures += 1
            print(f"{path}: ERROR {outcome}", file=sys.stderr)
            continue
        result = outcome
        where = ", ".join(r.location for r in result.regions) or "-"
        print(f"{path}\t{result.verdict.value}\t{result.score:.3f}\t{where}")
        if sink:
            sink.write(json.dumps(result_record(path, result)) + "\n")
        if args.heatmaps:
            args.heatmaps.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.heatmaps / f"{path.stem}_heatmap.png"), overlay(load_image(path), result.anomaly_map))
    if sink:
        sink.close()
    return 1 if failures else 0


def _outcomes(engine: Engine, paths: list[Path], refs: ReferenceSet, lot: bool):
    """(path, InspectionResult or the error that stopped it), in order: one at a time, or the readable
    images as one lot (an unreadable image is reported and left out of the lot)."""
    if not lot:
        for path in paths:
            try:
                yield path, engine.inspect(load_image(path), refs)
            except (ImageLoadError, EngineError) as exc:
                yield path, exc
        return
    from anomalygpt_engine.lot import LotResult

    readable: list[tuple[Path, np.ndarray]] = []
    for path in paths:
        try:
            readable.append((path, load_image(path)))
        except ImageLoadError as exc:
            yield path, exc
    try:
        items = [item for item in engine.inspect_lot([image for _, image in readable], refs)
                 if isinstance(item, LotResult)]
    except EngineError as exc:
        for path, _ in readable:
            yield path, exc
        return
    for item in items:
        yield readable[item.index][0], item.result
