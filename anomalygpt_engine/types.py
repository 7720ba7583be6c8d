"""Result types crossing the engine boundary: plain dataclasses with numpy arrays."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


DECISION_BOUNDARY = 0.5  # every product's decision boundary on the calibrated score and map scale


class Verdict(str, enum.Enum):
    """Three-zone decision; REVIEW is the uncertain band around the calibrated boundary."""

    OK = "OK"
    REVIEW = "REVIEW"
    NG = "NG"

    @property
    def is_defective(self) -> bool:
        """REVIEW counts as defective for yield: a person must look before the part ships."""
        return self is not Verdict.OK


@dataclass(frozen=True)
class Region:
    """One connected anomalous area of the calibrated map, in image pixel coordinates."""

    bbox: tuple[int, int, int, int]  # x, y, width, height
    area_px: int
    area_fraction: float
    centroid: tuple[float, float]  # x, y
    location: str  # 3x3 grid phrase: "top left", "center", ...
    peak_score: float  # highest calibrated map value inside the region


@dataclass(frozen=True)
class InspectionResult:
    """Everything one inspection produced; maps share the calibrated 0..1 scale (0.5 = boundary)."""

    verdict: Verdict
    score: float
    anomaly_map: np.ndarray  # float32, H x W of the input image
    regions: tuple[Region, ...]
    image_size: tuple[int, int]  # width, height
    product: str
    latency_ms: float
    mode: str = "fewshot"
    raw_score: float = 0.0
    nearest_reference: int | None = None  # index into the reference set's images
    global_embedding: np.ndarray | None = field(default=None, repr=False)
    # Not this product at all (wrong part, empty fixture): far from every reference view, see product_match
    wrong_part: bool = False
    product_similarity: float | None = None  # cosine similarity to the nearest reference view

    @property
    def is_defective(self) -> bool:
        return self.verdict.is_defective


@dataclass(frozen=True)
class ChatTurn:
    """One message of a dialogue; role is "user" or "assistant"."""

    role: str
    text: str
