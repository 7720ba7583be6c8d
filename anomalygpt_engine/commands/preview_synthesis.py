"""`anomalygpt preview-synthesis`: a PNG contact sheet of simulated anomalies, to look at them.

Each cell shows the anomalous image with the mask outlined in red, the generator's kind and the
AnomalyGPT-style answer underneath, so a wrong location word or an invisible defect stands out.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np

CELL = 224
CAPTION = 44


def register(subparsers) -> None:
    parser = subparsers.add_parser("preview-synthesis", help="write a PNG grid of simulated anomalies")
    parser.add_argument("--normals", type=Path, nargs="*", default=[], help="folders of normal images")
    parser.add_argument("--no-builtin", action="store_true", help="skip scikit-image textures and drawn parts")
    parser.add_argument("--out", type=Path, default=Path("synthesis_preview.png"))
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def _cell(image: np.ndarray, mask: np.ndarray, kind: str, description: str) -> np.ndarray:
    cell = np.full((CELL + CAPTION, CELL, 3), 255, np.uint8)
    picture = cv2.resize(image, (CELL, CELL), interpolation=cv2.INTER_AREA).copy()
    small = cv2.resize(mask.astype(np.uint8), (CELL, CELL), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(picture, contours, -1, (255, 0, 0), 1)
    cell[:CELL] = picture
    answer = description.replace("Yes, there is an anomaly in the image, ", "Yes, ")
    lines = [kind] + textwrap.wrap(answer, 38)
    for row, line in enumerate(lines[:3]):
        cv2.putText(cell, line, (3, CELL + 12 + 13 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return cell


def run(args: argparse.Namespace) -> int:
    from anomalygpt_engine.training.decoder_data import DecoderData

    try:
        data = DecoderData.build(args.normals, builtin=not args.no_builtin, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data.normal_fraction = 1.0 / args.columns  # about one normal per row, for comparison
    batch = data.batch(args.seed, 0, args.count)
    cells = []
    for image, mask, kind, answer in zip(batch.images, batch.masks, batch.kinds, batch.descriptions):
        cells.append(_cell(image, mask > 0, kind, answer))
    while len(cells) % args.columns:
        cells.append(np.full_like(cells[0], 255))
    rows = [np.hstack(cells[i : i + args.columns]) for i in range(0, len(cells), args.columns)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows)[:, :, ::-1])
    print(f"wrote {args.out} ({len(batch.images)} samples: {', '.join(sorted(set(batch.kinds)))})")
    return 0
