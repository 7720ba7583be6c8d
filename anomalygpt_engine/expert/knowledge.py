"""Product knowledge the engineer writes: what the product is, which defect types matter, and the
disposition rules the assistant applies ("pitting under 1% of the area at the centre: rework").

Rules are plain lines, one per rule, `<condition>: <action>`; the condition may name a defect type
(any word of the taxonomy: pitting, scratch, crack, bent, stain ...; or "any"), an area bound
("under 1%", "over 5%", "< 0.5%"), a place ("at the centre", "at the edge", "top left"), and
"otherwise" for the rule that takes everything left. Stored as `knowledge.json` beside the product.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from anomalygpt_engine.expert.taxonomy import DefectType, taxonomy_for

FILE_NAME = "knowledge.json"
_ANY = re.compile(r"\b(any|all|every|otherwise|else|other|default|anything)\b", re.IGNORECASE)
_MAX = re.compile(r"(?:under|below|less than|smaller than|up to|at most|<=?)\s*(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
_MIN = re.compile(r"(?:over|above|more than|larger than|at least|>=?)\s*(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
_PLACE = re.compile(r"\b(top left|top right|bottom left|bottom right|centre|center|middle|edge|rim|border|top|bottom|"
                    r"left|right|background)\b", re.IGNORECASE)
_SEVERITY = ("accept", "use as is", "rework", "repair", "review", "scrap", "reject")


@dataclass(frozen=True)
class DispositionRule:
    text: str  # the line as the engineer wrote it
    action: str
    defect_type: str | None = None  # DefectType value; None: any type
    max_percent: float | None = None
    min_percent: float | None = None
    place: str | None = None

    @classmethod
    def parse(cls, line: str) -> DispositionRule | None:
        if ":" not in line:
            return None
        condition, action = line.rsplit(":", 1)
        action = action.strip().rstrip(".")
        if not action:
            return None
        kind = None if _ANY.search(condition) and not re.search(r"\b(pit|scratch|crack|dent|bent|stain)", condition,
                                                                 re.IGNORECASE) else _type_in(condition)
        high, low = _MAX.search(condition), _MIN.search(condition)
        place = _PLACE.search(condition)
        place_word = place.group(1).lower() if place else None
        place_word = {"centre": "center", "middle": "center", "rim": "edge", "border": "edge"}.get(place_word, place_word)
        return cls(line.strip(), action, kind.value if kind else None, float(high.group(1)) if high else None,
                   float(low.group(1)) if low else None, place_word)

    def matches(self, kind: DefectType | None, percent: float, location: str, position: str) -> bool:
        if self.defect_type is not None and (kind is None or kind.value != self.defect_type):
            return False
        if self.max_percent is not None and percent >= self.max_percent:
            return False
        if self.min_percent is not None and percent <= self.min_percent:
            return False
        if self.place == "edge":
            return "edge" in position
        if self.place == "background":
            return "background" in position
        if self.place is not None:
            return set(self.place.split()) <= set(location.split())
        return True


def _type_in(text: str) -> DefectType | None:
    for word in re.findall(r"[a-z_]+", text.lower()):
        kind = taxonomy_for(word)
        if kind is not None:
            return kind
    return None


def severity(action: str) -> int:
    text = action.lower()
    return max((i for i, word in enumerate(_SEVERITY) if word in text), default=3)


@dataclass
class ProductKnowledge:
    description: str = ""
    defect_types: list[str] = field(default_factory=list)  # DefectType values that matter for the product
    rules_text: str = ""  # one rule per line
    decider: str = "the quality engineer"  # who decides what no rule covers
    mm_per_px: float | None = None  # the product's scale, where it is known

    @property
    def rules(self) -> list[DispositionRule]:
        return [rule for line in self.rules_text.splitlines() if (rule := DispositionRule.parse(line))]

    def matters(self, kind: DefectType | None) -> bool | None:
        if not self.defect_types or kind is None:
            return None
        return kind.value in self.defect_types

    def rule_for(self, kind: DefectType | None, percent: float, location: str, position: str) -> DispositionRule | None:
        return next((r for r in self.rules if r.matches(kind, percent, location, position)), None)

    # -- storage -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProductKnowledge:
        known = {k: data[k] for k in ("description", "defect_types", "rules_text", "decider", "mm_per_px") if k in data}
        knowledge = cls(**known)
        knowledge.defect_types = [t for t in knowledge.defect_types if t in {d.value for d in DefectType}]
        return knowledge

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ProductKnowledge | None:
        path = Path(folder) / FILE_NAME
        if not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None
