"""Heatmap colouring shared by the PDF report and the browser: numpy in, numpy out, no Qt."""
from __future__ import annotations

import cv2
import numpy as np

TRANSPARENT_BELOW = 0.25  # as at the station (widgets/theme.py): normal parts never look hot
OPAQUE_AT = 0.5  # the calibrated decision boundary: from here on the colour is at full strength


def colorize(anomaly_map: np.ndarray) -> np.ndarray:
    """Calibrated 0..1 map -> RGB uint8 with the station's colour map, inferno (black, purple,
    orange, yellow), so the report and the review workspace read like the live screen."""
    scaled = np.clip(anomaly_map, 0.0, 1.0) * 255.0
    bgr = cv2.applyColorMap(scaled.astype(np.uint8), cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def overlay(image_rgb: np.ndarray, anomaly_map: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Blend the colour map over the image as the station does (its default opacity 60 %): clear
    below 0.25, full strength from the 0.5 boundary, so only calibrated anomalies glow."""
    h, w = image_rgb.shape[:2]
    amap = anomaly_map if anomaly_map.shape == (h, w) else cv2.resize(anomaly_map, (w, h))
    ramp = np.clip((amap - TRANSPARENT_BELOW) / (OPAQUE_AT - TRANSPARENT_BELOW), 0.0, 1.0)
    alpha = (ramp * strength)[..., None]
    blended = image_rgb.astype(np.float32) * (1 - alpha) + colorize(amap).astype(np.float32) * alpha
    return blended.astype(np.uint8)


def thumbnail(image_rgb: np.ndarray, max_side: int = 256) -> np.ndarray:
    h, w = image_rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image_rgb
    return cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def outline(image_rgb: np.ndarray, regions: list[dict], colour: tuple[int, int, int] = (0, 229, 255)) -> np.ndarray:
    """The regions' boxes (x, y, w, h in image pixels) drawn in the station's cyan, on a copy."""
    out = np.ascontiguousarray(image_rgb).copy()
    thickness = max(2, round(max(out.shape[:2]) / 300))
    for region in regions:
        x, y, w, h = (int(v) for v in region["bbox"])
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
    return out
