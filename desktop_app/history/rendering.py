"""Heatmap colouring shared by the PDF report and the browser: numpy in, numpy out, no Qt."""
from __future__ import annotations

import cv2
import numpy as np


def colorize(anomaly_map: np.ndarray) -> np.ndarray:
    """Calibrated 0..1 map -> RGB uint8 with the JET colour map (blue normal, red anomalous)."""
    scaled = np.clip(anomaly_map, 0.0, 1.0) * 255.0
    bgr = cv2.applyColorMap(scaled.astype(np.uint8), cv2.COLORMAP_JET)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def overlay(image_rgb: np.ndarray, anomaly_map: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Blend the colour map over the image; below the 0.5 boundary the colour fades out, so a
    normal part stays readable and only calibrated anomalies glow."""
    h, w = image_rgb.shape[:2]
    amap = anomaly_map if anomaly_map.shape == (h, w) else cv2.resize(anomaly_map, (w, h))
    alpha = (np.clip((amap - 0.25) / 0.5, 0.0, 1.0) * strength)[..., None]
    blended = image_rgb.astype(np.float32) * (1 - alpha) + colorize(amap).astype(np.float32) * alpha
    return blended.astype(np.uint8)


def thumbnail(image_rgb: np.ndarray, max_side: int = 256) -> np.ndarray:
    h, w = image_rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image_rgb
    return cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
