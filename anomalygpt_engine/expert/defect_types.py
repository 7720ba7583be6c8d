"""The defect-type classifier: measured region attributes -> coarse type with a confidence.

A small MLP (numpy at inference; weights in safetensors, trained by `anomalygpt_engine.training.
defect_type_train` on license-clean synthetic defects run through the engine). Below `threshold` the
answer is "unclear type": the classifier was never shown the product, so it says when it is unsure.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomalygpt_engine.expert.attributes import FEATURE_NAMES, RegionAttributes
from anomalygpt_engine.expert.taxonomy import DefectType

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "resources" / "defect_types" / "defect_types.safetensors"
UNCLEAR = "unclear type"


@dataclass(frozen=True)
class TypeGuess:
    kind: DefectType | None  # None: unclear
    confidence: float  # probability of the most likely type
    best: DefectType  # the most likely type even when unclear
    probabilities: dict[str, float]

    @property
    def clear(self) -> bool:
        return self.kind is not None


class DefectTypeClassifier:
    def __init__(self, tensors: dict[str, np.ndarray], classes: list[str], threshold: float) -> None:
        self.mean, self.std = tensors["mean"], tensors["std"]
        self.layers = [(tensors[f"w{i}"], tensors[f"b{i}"]) for i in range(len([k for k in tensors if k[0] == "w"]))]
        self.classes = [DefectType(c) for c in classes]
        self.threshold = threshold

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> DefectTypeClassifier | None:
        """None when no weights are shipped (the dialogue then says the type is not known)."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            return None
        with safe_open(str(path), "np") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key).astype(np.float32) for key in handle.keys()}
        if json.loads(meta.get("features", "[]")) != list(FEATURE_NAMES):
            return None  # trained on other features: refuse rather than guess
        return cls(tensors, json.loads(meta["classes"]), float(meta.get("threshold", 0.45)))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(features).astype(np.float32) - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        x = np.exp(x - x.max(axis=1, keepdims=True))
        return x / x.sum(axis=1, keepdims=True)

    def classify(self, attributes: RegionAttributes) -> TypeGuess:
        probs = self.probabilities(np.array(attributes.features))[0]
        best = int(np.argmax(probs))
        kind = self.classes[best]
        return TypeGuess(kind if probs[best] >= self.threshold else None, float(probs[best]), kind,
                         {c.value: round(float(p), 3) for c, p in zip(self.classes, probs)})


_CACHE: dict[str, DefectTypeClassifier | None] = {}


def shipped_classifier() -> DefectTypeClassifier | None:
    """The shipped classifier, loaded once per process (a few kilobytes)."""
    key = str(DEFAULT_WEIGHTS)
    if key not in _CACHE:
        _CACHE[key] = DefectTypeClassifier.load(DEFAULT_WEIGHTS)
    return _CACHE[key]
