"""AnomalyGPT Inspector engine: few-shot industrial anomaly detection and localisation, Qt-free."""
from __future__ import annotations

from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.config import EngineConfig, preset
from anomalygpt_engine.errors import (
    EngineError,
    ImageLoadError,
    ImageTooLargeError,
    ModelLoadError,
    ReferenceSetError,
)
from anomalygpt_engine.imageio import decode_image, ensure_rgb_uint8, load_image
from anomalygpt_engine.pipeline import Engine, Progress
from anomalygpt_engine.reference_set import ReferenceSet
from anomalygpt_engine.types import ChatTurn, InspectionResult, Region, Verdict

__version__ = "0.1.0"

__all__ = [
    "Calibration",
    "ChatTurn",
    "Engine",
    "EngineConfig",
    "EngineError",
    "ImageLoadError",
    "ImageTooLargeError",
    "InspectionResult",
    "ModelLoadError",
    "Progress",
    "ReferenceSet",
    "ReferenceSetError",
    "Region",
    "Verdict",
    "decode_image",
    "ensure_rgb_uint8",
    "load_image",
    "preset",
]
