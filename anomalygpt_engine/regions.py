"""Calibrated anomaly map -> connected regions with boxes, areas and AnomalyGPT-style location words."""
from __future__ import annotations

import cv2
import numpy as np

from anomalygpt_engine.types import Region

_ROWS = ("top", "", "bottom")
_COLUMNS = ("left", "", "right")


def location_phrase(x: float, y: float, width: int, height: int) -> str:
    """Name the cell of a 3x3 grid that holds (x, y): "top left", "top", ..., "center"."""
    column = min(2, max(0, int(3 * x / max(width, 1))))
    row = min(2, max(0, int(3 * y / max(height, 1))))
    words = " ".join(word for word in (_ROWS[row], _COLUMNS[column]) if word)
    return words or "center"


def find_regions(
    calibrated_map: np.ndarray, boundary: float = 0.5, min_area_fraction: float = 0.0005, scale: float = 1.0
) -> tuple[Region, ...]:
    """Connected components of map >= boundary, largest first; specks below min area are dropped.

    `scale` converts map pixels to image pixels when the map was downscaled from a huge image.
    """
    height, width = calibrated_map.shape
    mask = (calibrated_map >= boundary).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(1, int(min_area_fraction * height * width))
    regions = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < min_area:
            continue
        cx, cy = (float(v) for v in centroids[label])
        peak = float(calibrated_map[labels == label].max())
        regions.append(
            Region(
                bbox=(round(x * scale), round(y * scale), round(w * scale), round(h * scale)),
                area_px=round(area * scale * scale),
                area_fraction=area / float(height * width),
                centroid=(cx * scale, cy * scale),
                location=location_phrase(cx, cy, width, height),
                peak_score=peak,
            )
        )
    regions.sort(key=lambda r: r.area_px, reverse=True)
    return tuple(regions)
