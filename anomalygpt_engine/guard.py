"""The guard on LLM sentences: a sentence that contradicts the engine's findings (the verdict, a
location of a detected defect, a number the findings never stated, calling a detected anomaly
invisible) is dropped before the operator sees it."""
from __future__ import annotations

import re

from anomalygpt_engine.findings import NUMBER, Findings

_NEGATED = re.compile(
    r"(\b(no|not|never|without|free of|free from|absence of)\b|n't\b)"
    r"[^.!?]{0,40}\b(anomal|defect|damag|flaw|crack|scratch|problem|issue|irregular)"
    r"|\b(looks?|appears?|is|seems?) (completely |perfectly |entirely )?(normal|fine|flawless|perfect|intact|good)\b"
    r"|\bno (visible )?(signs?|evidence)\b",
    re.IGNORECASE,
)
_ASSERTED = re.compile(
    r"\b(there (is|are)|has|have|shows?|contains?|with|found|detected|visible)\s+(an?\s+|some\s+|one\s+|several\s+|"
    r"two\s+|three\s+|a few\s+)?((?!no\b|not\b|any\b)\w+\s+){0,2}"
    r"(anomal|defect|damag|flaw|crack|scratch|hole|stain|contaminat)"
    r"|\bthe (anomaly|defect) (is|lies|appears)\b|^\s*yes\b",
    re.IGNORECASE,
)
LOCATION_WORDS = re.compile(
    r"\b(top left|top right|bottom left|bottom right|top|bottom|left|right|center|centre|middle)\b"
)


def polarity(text: str) -> bool | None:
    """True if the text says there is an anomaly, False if it says there is none, None if neither."""
    stripped = text.strip().lower()
    if re.match(r"yes\b", stripped):
        return True
    if re.match(r"no\b", stripped):
        return False
    if _NEGATED.search(text):  # a negated mention dominates: "with no visible anomalies"
        return False
    if _ASSERTED.search(text):
        return True
    return None


def invents_numbers(sentence: str, findings: Findings) -> bool:
    """A number the findings never stated ("10 pixels long"): a small model making up a measurement."""
    return any(number not in findings.stated_numbers for number in NUMBER.findall(sentence))


_DENIES_VISIBILITY = re.compile(r"\b(not|never|barely|hardly) (\w+ )?(visible|seen|noticeable)\b|\binvisible\b",
                                re.IGNORECASE)


def contradicts(sentence: str, findings: Findings) -> bool:
    """Whether an LLM sentence contradicts the findings (verdict, a location for a defect, a number,
    or calling a detected anomaly invisible)."""
    if invents_numbers(sentence, findings):
        return True
    if findings.is_defective and _DENIES_VISIBILITY.search(sentence):
        return True
    said = polarity(sentence)
    if said is not None and said != findings.is_defective:
        return True
    if findings.is_defective and findings.regions:
        allowed = {word for place in findings.locations() for word in place.split()}
        allowed |= {"center", "centre", "middle"} if "center" in allowed else set()
        for match in LOCATION_WORDS.finditer(sentence.lower()):
            if not set(match.group(1).split()) <= allowed:
                return True
    return False
