"""What the engine found, in words: the facts every dialogue answer is grounded in.

The findings come from an InspectionResult (and its reference set), never from the LLM. They give
the compact block placed in the LLM's prompt and the template sentences used for the verdict,
location and size, so that a small model elaborates on facts rather than inventing them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from anomalygpt_engine.regions import location_phrase
from anomalygpt_engine.types import InspectionResult, Verdict

MAX_REGIONS = 3  # the prompt lists the largest few; the rest are only counted
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A good part's map sits near 0.1; below this peak nothing stands out enough to be worth naming.
NOTABLE_PEAK = 0.25


def size_word(area_fraction: float) -> str:
    """Plain-words size of a region relative to the whole image."""
    if area_fraction < 0.005:
        return "very small"
    if area_fraction < 0.02:
        return "small"
    if area_fraction < 0.08:
        return "medium-sized"
    return "large"


def percent(fraction: float) -> str:
    value = 100.0 * fraction
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


@dataclass(frozen=True)
class RegionFinding:
    location: str  # 3x3 grid words: "top left", ..., "center"
    area_fraction: float
    area_px: int
    bbox: tuple[int, int, int, int]  # x, y, width, height in image pixels
    peak_score: float

    @property
    def size(self) -> str:
        return size_word(self.area_fraction)


@dataclass(frozen=True)
class Findings:
    """The grounded facts of one inspection."""

    verdict: Verdict
    score: float  # calibrated: 0.5 is the product's boundary
    regions: tuple[RegionFinding, ...]
    product: str
    description: str = ""
    n_references: int = 0
    image_size: tuple[int, int] = (0, 0)
    peak_location: str | None = None  # where the map peaks: the answer for a REVIEW without regions
    peak_value: float = 0.0  # the calibrated map's highest value (0.5 = boundary)

    @classmethod
    def from_result(cls, result: InspectionResult, refs=None) -> Findings:
        regions = tuple(
            RegionFinding(r.location, r.area_fraction, r.area_px, tuple(r.bbox), r.peak_score)
            for r in result.regions
        )
        peak, peak_value = None, 0.0
        if result.anomaly_map is not None and result.anomaly_map.size:
            height, width = result.anomaly_map.shape[:2]
            y, x = np.unravel_index(int(np.argmax(result.anomaly_map)), (height, width))
            peak = location_phrase(float(x), float(y), width, height)
            peak_value = float(result.anomaly_map[y, x])
        return cls(
            peak_location=peak,
            peak_value=peak_value,
            verdict=result.verdict,
            score=float(result.score),
            regions=regions,
            product=result.product,
            description=getattr(refs, "description", "") or "",
            n_references=int(getattr(refs, "size", 0) or 0),
            image_size=tuple(result.image_size),
        )

    # -- facts ---------------------------------------------------------------------------------
    @property
    def is_defective(self) -> bool:
        """REVIEW counts as an anomaly in words too: the answer must make a person look."""
        return self.verdict.is_defective

    @property
    def main_region(self) -> RegionFinding | None:
        return self.regions[0] if self.regions else None

    @property
    def total_area_fraction(self) -> float:
        return sum(r.area_fraction for r in self.regions)

    def locations(self) -> list[str]:
        seen: list[str] = []
        for region in self.regions[:MAX_REGIONS]:
            if region.location not in seen:
                seen.append(region.location)
        if not seen and self.is_defective and self.peak_location:
            seen.append(self.peak_location)  # borderline score, no region above the boundary
        return seen

    @cached_property
    def stated_numbers(self) -> frozenset[str]:
        """Every number the prompt block and the grounded sentences give; anything else is invented."""
        said = " ".join((self.to_prompt(), self.size_sentence(), self.score_sentence(), self.location_sentence()))
        return frozenset(NUMBER.findall(said))

    def subject(self) -> str:
        return self.product.replace("_", " ") if self.product else "part"

    # -- prompt block ----------------------------------------------------------------------------
    def to_prompt(self) -> str:
        """The compact findings block placed in the LLM's system message."""
        lines = [
            f"Product: {self.subject()}" + (f" ({self.description})" if self.description else ""),
            f"Verdict: {self.verdict.value} ({'anomaly' if self.is_defective else 'no anomaly'}), "
            f"score {self.score:.2f} (0.5 = boundary)",
            f"Normal references compared: {self.n_references}",
        ]
        for index, region in enumerate(self.regions[:MAX_REGIONS], start=1):
            lines.append(
                f"Region {index}: {region.location}, {region.size}, {percent(region.area_fraction)} of the image"
            )
        if len(self.regions) > MAX_REGIONS:
            lines.append(f"Other regions: {len(self.regions) - MAX_REGIONS}")
        if not self.regions and self.is_defective and self.peak_location:
            lines.append(f"Most suspicious area: {self.peak_location} (no region above the boundary)")
        return "\n".join(lines)

    # -- grounded sentences -------------------------------------------------------------------------
    def verdict_sentence(self) -> str:
        if not self.is_defective:
            return f"No, there are no anomalies in the image; the {self.subject()} looks normal."
        hedge = " It is a borderline case that a person should check." if self.verdict is Verdict.REVIEW else ""
        where = self.location_clause()
        return f"Yes, there is an anomaly in the image{where}.{hedge}"

    def location_clause(self) -> str:
        places = self.locations()
        if not places:
            return ""
        if len(places) == 1:
            return f", at the {places[0]} of the image"
        return ", at the " + ", the ".join(places[:-1]) + f" and the {places[-1]} of the image"

    def location_sentence(self) -> str:
        if not self.is_defective:
            text = "No anomaly was found, so there is nothing to locate."
            if self.peak_location and self.peak_value >= NOTABLE_PEAK:  # where to look if in doubt
                text += (f" The area that differs most from the references, still below the boundary "
                         f"(map value {self.peak_value:.2f} of 0.5), is at the {self.peak_location} of the image.")
            return text
        places = self.locations()
        if not places:
            return "The image as a whole differs from the references, with no single spot standing out."
        if not self.regions:
            return f"The most suspicious area is at the {places[0]} of the image."
        if len(places) == 1:
            return f"The anomaly is at the {places[0]} of the image."
        return "The anomalies are at the " + ", the ".join(places[:-1]) + f" and the {places[-1]} of the image."

    def size_sentence(self) -> str:
        if not self.is_defective:
            return "There is no anomaly, so there is nothing to measure."
        region = self.main_region
        if region is None:
            return "The deviation is spread over the image rather than in one region."
        text = (
            f"The anomaly is {region.size}: about {percent(region.area_fraction)} of the image "
            f"({region.bbox[2]} x {region.bbox[3]} pixels)."
        )
        if len(self.regions) > 1:
            text += f" Together the {len(self.regions)} regions cover {percent(self.total_area_fraction)}."
        return text

    def count_sentence(self) -> str:
        if not self.is_defective:
            return "There are no anomalous regions."
        n = len(self.regions)
        if n == 0:
            return "There is no distinct region; the image as a whole differs from the references."
        return "There is one anomalous region." if n == 1 else f"There are {n} anomalous regions."

    def score_sentence(self) -> str:
        zone = {Verdict.OK: "below", Verdict.REVIEW: "close to", Verdict.NG: "above"}[self.verdict]
        return (
            f"The calibrated anomaly score is {self.score:.2f}, {zone} the product's decision boundary of 0.5, "
            f"from a comparison with {self.n_references} normal reference image"
            f"{'' if self.n_references == 1 else 's'}."
        )

    def appearance_sentence(self) -> str:
        if not self.is_defective:
            return f"The {self.subject()} looks like the normal references, without visible defects."
        region = self.main_region
        where = f" at the {region.location}" if region else ""
        return (
            f"The {self.subject()} differs from its normal references{where}: the heatmap marks "
            f"{'a ' + region.size + ' area' if region else 'the area'} whose texture or colour does not match them."
        )

    def product_sentence(self) -> str:
        if self.description:
            return f"This is an image of a {self.subject()} ({self.description.rstrip('.')})."
        return f"This is an image of a {self.subject()}."
