"""Measured attributes of every anomalous region: shape, colour against the nearest reference at the
same place (CIE Lab), texture change, position relative to the part, size in px (and mm with a scale).

Inputs are the inspection's calibrated map, the inspected image and its nearest normal reference. The
reference crop is aligned to the region by a small template search (parts shift between shots); the
fine defect mask is the part of the map region where the image differs most from that reference.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from anomalygpt_engine.regions import location_phrase
from anomalygpt_engine.types import DECISION_BOUNDARY

FEATURE_NAMES = (
    "log_area", "elongation", "fill", "log_width", "hole", "n_parts", "dl", "da", "db", "de", "dchroma",
    "surround_dl", "surround_de", "texture_ratio", "ncc", "edge_change", "peak", "fine_share", "on_edge",
    "background", "log_length",
)


@dataclass(frozen=True)
class RegionAttributes:
    index: int
    shape: str  # "line-like", "elongated", "compact", "ring"
    orientation: str  # "horizontal", "vertical", "diagonal", "" for compact shapes
    angle_deg: float
    length_px: float
    width_px: float
    area_px: int
    area_fraction: float
    bbox: tuple[int, int, int, int]
    location: str  # 3x3 words of the image
    position: str  # relative to the part: "on the part", "at the part's edge", "on the background", "on the surface"
    brightness: str  # "darker", "lighter", "same brightness"
    hue: str  # "" or "more red", "more green", "more yellow", "more blue"
    saturation: str  # "", "more saturated", "less saturated"
    texture: str  # "rougher", "smoother", "structure changed", "texture unchanged"
    delta_l: float
    delta_e: float
    texture_ratio: float
    ncc: float
    features: tuple[float, ...]
    length_mm: float | None = None
    width_mm: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32) * np.array([100 / 255, 1, 1], np.float32) \
        - np.array([0, 128, 128], np.float32)


def _aligned_reference(image: np.ndarray, reference: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The reference crop at `box` after the best shift (within 10% of the image) by grey correlation."""
    height, width = image.shape[:2]
    x, y, w, h = box
    pad = int(0.1 * max(height, width))
    grey_t = cv2.cvtColor(image[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY)
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
    search = cv2.cvtColor(reference[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    if grey_t.std() < 1e-3 or search.shape[0] < h or search.shape[1] < w:
        return reference[y:y + h, x:x + w]
    scores = cv2.matchTemplate(search, grey_t, cv2.TM_CCOEFF_NORMED)
    # Prefer the unshifted place unless a shift is clearly better (the defect itself must not steer it).
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    ux, uy = x - x0, y - y0
    if scores[uy, ux] >= best - 0.05:
        bx, by = ux, uy
    return reference[y0 + by:y0 + by + h, x0 + bx:x0 + bx + w]


def _foreground(reference: np.ndarray) -> np.ndarray | None:
    """The part against its background, from the reference: pixels unlike the border's colour.
    None where the part fills the image (textures, surfaces)."""
    lab = _lab(cv2.resize(reference, (128, 128), interpolation=cv2.INTER_AREA))
    border = np.concatenate([lab[:4].reshape(-1, 3), lab[-4:].reshape(-1, 3), lab[:, :4].reshape(-1, 3),
                             lab[:, -4:].reshape(-1, 3)])
    spread = float(np.linalg.norm(border.std(axis=0)))
    distance = np.linalg.norm(lab - np.median(border, axis=0), axis=2)
    mask = distance > max(12.0, 3 * spread)
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    share = mask.mean()
    if share < 0.05 or share > 0.85 or spread > 12:
        return None
    return mask.astype(bool)


def _gradient_energy(grey: np.ndarray) -> float:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.sqrt(gx ** 2 + gy ** 2).mean())


def _shape(mask: np.ndarray) -> tuple[float, float, float, float, bool, int]:
    """(length, width, angle in degrees, fill, has a hole, parts) of a boolean mask."""
    mask8 = mask.astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask8, connectivity=8)
    parts = int(((stats[1:, cv2.CC_STAT_AREA] if count > 1 else np.zeros(0)) >= 3).sum())
    points = cv2.findNonZero(mask8)
    if points is None or len(points) < 3:
        return 1.0, 1.0, 0.0, 1.0, False, max(parts, 1)
    (_, _), (a, b), angle = cv2.minAreaRect(points)
    length, width = max(a, b, 1.0), max(min(a, b), 1.0)
    if a < b:
        angle += 90.0
    fill = float(mask.sum()) / (length * width)
    contours, hierarchy = cv2.findContours(mask8, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    holes = 0.0
    if hierarchy is not None:
        holes = sum(cv2.contourArea(c) for c, h in zip(contours, hierarchy[0]) if h[3] >= 0)
    return float(length), float(width), float(angle % 180.0), fill, holes > 0.15 * mask.sum(), max(parts, 1)


def _words_shape(length: float, width: float, fill: float, hole: bool) -> str:
    if hole:
        return "ring"
    ratio = length / max(width, 1.0)
    if ratio >= 4.0 or (ratio >= 2.5 and fill < 0.45):
        return "line-like"
    if ratio >= 1.8:
        return "elongated"
    return "compact"


def _words_orientation(angle: float, shape: str) -> str:
    if shape in ("compact", "ring"):
        return ""
    folded = min(angle, 180.0 - angle)
    if folded < 22.5:
        return "horizontal"
    if folded > 67.5:
        return "vertical"
    return "diagonal"


def _hue_word(da: float, db: float) -> str:
    if math.hypot(da, db) < 4.0:
        return ""
    if abs(da) >= abs(db):
        return "more red" if da > 0 else "more green"
    return "more yellow" if db > 0 else "more blue"


def measure_region(index: int, region_mask: np.ndarray, image: np.ndarray, reference: np.ndarray,
                   amap: np.ndarray, foreground: np.ndarray | None, mm_per_px: float | None = None) -> RegionAttributes:
    """Attributes of one region (boolean mask at image size)."""
    height, width = image.shape[:2]
    ys, xs = np.nonzero(region_mask)
    x, y = int(xs.min()), int(ys.min())
    w, h = int(xs.max()) - x + 1, int(ys.max()) - y + 1
    grow = max(4, int(0.25 * max(w, h)))
    box = (max(0, x - grow), max(0, y - grow))
    box = (*box, min(width, x + w + grow) - box[0], min(height, y + h + grow) - box[1])
    bx, by, bw, bh = box
    crop = image[by:by + bh, bx:bx + bw]
    ref_crop = _aligned_reference(image, reference, box)
    inside = region_mask[by:by + bh, bx:bx + bw]
    lab_t, lab_r = _lab(crop), _lab(ref_crop)
    diff = np.linalg.norm(cv2.GaussianBlur(lab_t, (0, 0), 1.0) - cv2.GaussianBlur(lab_r, (0, 0), 1.0), axis=2)
    values = diff[inside]
    # Fine mask: the pixels of the map region that differ clearly more than its typical pixel.
    cut = max(float(np.percentile(values, 60)), float(np.median(diff[~inside])) * 2 if (~inside).any() else 0.0, 6.0)
    fine = inside & (diff >= cut)
    if fine.sum() < max(6, 0.03 * inside.sum()):
        fine = inside
    length, width_px, angle, fill, hole, parts = _shape(fine)
    shape = _words_shape(length, width_px, fill, hole)
    mean_t, mean_r = lab_t[fine].mean(axis=0), lab_r[fine].mean(axis=0)
    dl, da, db = (float(v) for v in mean_t - mean_r)
    de = float(np.linalg.norm(mean_t - mean_r))
    dchroma = float(np.hypot(*mean_t[1:]) - np.hypot(*mean_r[1:]))
    ring = cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~inside
    surround = lab_t[ring].mean(axis=0) if ring.any() else lab_r[fine].mean(axis=0)
    surround_dl = float(mean_t[0] - surround[0])
    surround_de = float(np.linalg.norm(mean_t - surround))
    grey_t = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_r = cv2.cvtColor(ref_crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy_t, energy_r = _gradient_energy(grey_t), _gradient_energy(grey_r)
    texture_ratio = (energy_t + 1.0) / (energy_r + 1.0)
    a, b = grey_t - grey_t.mean(), grey_r - grey_r.mean()
    ncc = float((a * b).sum() / max(1e-6, np.sqrt((a * a).sum() * (b * b).sum())))
    edges_t, edges_r = cv2.Canny(grey_t.astype(np.uint8), 50, 150) > 0, cv2.Canny(grey_r.astype(np.uint8), 50, 150) > 0
    edge_change = float((edges_t ^ edges_r)[inside].mean())
    cx, cy = float(xs.mean()), float(ys.mean())
    position, on_edge, background = "on the surface", 0.0, 0.0
    if foreground is not None:
        fg = cv2.resize(foreground.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
        share = float(fg[region_mask].mean())
        contour = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_GRADIENT,
                                   np.ones((max(3, width // 40),) * 2, np.uint8)).astype(bool)
        on_edge = float(contour[region_mask].mean())
        background = 1.0 - share
        if share < 0.3:
            position = "on the background, off the part"
        elif on_edge > 0.25:
            position = "at the part's edge"
        else:
            position = "on the part"
    area = int(region_mask.sum())
    fraction = area / float(height * width)
    texture = ("structure changed" if ncc < 0.5 and edge_change > 0.15 else "rougher" if texture_ratio > 1.3
               else "smoother" if texture_ratio < 0.77 else "texture unchanged")
    sat = "" if abs(dchroma) < 4.0 else ("more saturated" if dchroma > 0 else "less saturated")
    scale = max(width, height)
    features = (
        math.log(fraction + 1e-6), min(length / width_px, 20.0), fill, math.log(width_px / scale + 1e-4), float(hole),
        min(parts, 10), dl, da, db, de, dchroma, surround_dl, surround_de, math.log(texture_ratio), ncc, edge_change,
        float(amap[region_mask].max()), float(fine.sum()) / max(1, inside.sum()), on_edge, background,
        math.log(length / scale + 1e-4),
    )
    return RegionAttributes(
        index=index, shape=shape, orientation=_words_orientation(angle, shape), angle_deg=round(angle, 1),
        length_px=round(length, 1), width_px=round(width_px, 1), area_px=area, area_fraction=fraction,
        bbox=(x, y, w, h), location=location_phrase(cx, cy, width, height), position=position,
        brightness="darker" if dl < -4 else "lighter" if dl > 4 else "same brightness",
        hue=_hue_word(da, db), saturation=sat, texture=texture, delta_l=round(dl, 1), delta_e=round(de, 1),
        texture_ratio=round(texture_ratio, 2), ncc=round(ncc, 2), features=tuple(float(f) for f in features),
        length_mm=round(length * mm_per_px, 2) if mm_per_px else None,
        width_mm=round(width_px * mm_per_px, 2) if mm_per_px else None,
    )


def region_masks(amap: np.ndarray, shape: tuple[int, int], max_regions: int = 5,
                 boundary: float = DECISION_BOUNDARY) -> list[np.ndarray]:
    """Boolean masks (image size) of the map's regions, largest first; for a borderline part with no
    region above the boundary, the area around the map's peak (values >= 80% of the peak)."""
    height, width = shape
    full = amap if amap.shape == (height, width) else cv2.resize(amap, (width, height), interpolation=cv2.INTER_LINEAR)
    mask = full >= boundary
    if not mask.any():
        peak = float(full.max())
        if peak <= 0:
            return []
        mask = full >= 0.8 * peak
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    min_area = max(1, int(0.0005 * height * width))
    order = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    masks = [labels == i for i in order if stats[i, cv2.CC_STAT_AREA] >= min_area]
    if not masks and count > 1:
        masks = [labels == order[0]]
    return masks[:max_regions]


def measure_regions(image: np.ndarray, anomaly_map: np.ndarray, reference: np.ndarray | None,
                    mm_per_px: float | None = None, max_regions: int = 5) -> list[RegionAttributes]:
    """Attributes of the inspection's regions, largest first (the nearest reference is resized to the
    image; without one the image itself stands in, so colour deltas are then against the surround)."""
    height, width = image.shape[:2]
    reference = image if reference is None else reference
    if reference.shape[:2] != (height, width):
        reference = cv2.resize(reference, (width, height), interpolation=cv2.INTER_AREA)
    full = anomaly_map if anomaly_map.shape == (height, width) else cv2.resize(
        anomaly_map, (width, height), interpolation=cv2.INTER_LINEAR)
    foreground = _foreground(reference)
    return [measure_region(i, m, image, reference, full, foreground, mm_per_px)
            for i, m in enumerate(region_masks(full, (height, width), max_regions))]
