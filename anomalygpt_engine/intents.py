"""What a question asks (intents) and the grounded answer the findings give to it.

The verdict, location, size and count sentences of every answer come from here, never from the LLM.
"""
from __future__ import annotations

import enum
import re

from anomalygpt_engine.findings import Findings


class Intent(enum.Enum):
    VERDICT = "verdict"
    LOCATION = "location"
    SIZE = "size"
    COUNT = "count"
    APPEARANCE = "appearance"
    CONFIRM = "confirm"
    SCORE = "score"
    PRODUCT = "product"
    OTHER = "other"


_INTENT_PATTERNS = (
    (Intent.LOCATION, r"\bwhere\b|\blocat|\bposition|\bwhich (part|side|area|region)"),
    (Intent.COUNT, r"\bhow many\b(?! pixels)"),
    (Intent.SIZE, r"\bhow (large|big|small|wide|long|extensive)\b|\bsize\b|\barea\b|\bextent\b|pixels|dimension"),
    (Intent.APPEARANCE, r"look(s)? like|what (kind|type|sort)|describe|appearance|colou?r|shape|what does"),
    (Intent.CONFIRM, r"\bsure\b|\bcertain\b|\bconfident\b|\breally\b"),
    (Intent.SCORE, r"\bscore\b|probab|how likely|\bconfidence\b"),
    (Intent.PRODUCT, r"what (is|do you see) (in )?(this|the) (image|picture)|what (object|product|part) is"),
    (Intent.VERDICT, r"anomal|defect|damag|flaw|broken|\bok\b|okay|normal|\bgood\b|faulty|\bng\b|\bpass|\bfail"
                     r"|reject|problem|issue|crack|scratch|contaminat|\bwrong\b"),
)


def classify(question: str) -> Intent:
    text = question.lower()
    for intent, pattern in _INTENT_PATTERNS:
        if re.search(pattern, text):
            return intent
    return Intent.OTHER


def grounded_answer(findings: Findings, intent: Intent) -> str:
    """The factual sentence(s) for an intent, straight from the findings; "" for free questions."""
    if intent is Intent.VERDICT:
        return findings.verdict_sentence()
    if intent is Intent.LOCATION:
        return findings.location_sentence()
    if intent is Intent.SIZE:
        return findings.size_sentence()
    if intent is Intent.COUNT:
        return findings.count_sentence()
    if intent is Intent.APPEARANCE:
        return findings.appearance_sentence()
    if intent is Intent.CONFIRM:
        state = "has an anomaly" if findings.is_defective else "is free of anomalies"
        return f"According to the inspection, the {findings.subject()} {state}. {findings.score_sentence()}"
    if intent is Intent.SCORE:
        return findings.score_sentence()
    if intent is Intent.PRODUCT:
        return findings.product_sentence()
    return ""


def template_answer(findings: Findings, intent: Intent) -> str:
    text = grounded_answer(findings, intent)
    if text:
        return text
    return (
        "I can tell whether the part has an anomaly, where it is, how large it is and what it looks like. "
        + findings.verdict_sentence()
    )
