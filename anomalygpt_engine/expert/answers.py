"""Grounded expert answers: type, shape, colour, comparison, disposition, confidence, "why", and an
honest "I can't tell that from this inspection". Every fact comes from ExpertFindings (the engine's
findings, the measured attributes, the type classifier and the engineer's product knowledge).

Sentences are worded so that the contradiction check (guard.polarity) reads them as the verdict
says: no negated defect words in an answer about a defective part.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from anomalygpt_engine.expert.attributes import RegionAttributes, measure_regions
from anomalygpt_engine.expert.defect_types import TypeGuess, shipped_classifier
from anomalygpt_engine.expert.intent_model import Ask
from anomalygpt_engine.expert.knowledge import ProductKnowledge, severity
from anomalygpt_engine.expert.taxonomy import SHORT_WORDS, TYPE_WORDS, DefectType, taxonomy_for
from anomalygpt_engine.findings import Findings, percent, size_word
from anomalygpt_engine.types import DECISION_BOUNDARY, Verdict

MAX_NAMED = 3  # regions described one by one; the rest are counted


@dataclass
class ExpertFindings:
    findings: Findings
    attributes: list[RegionAttributes] = field(default_factory=list)
    types: list[TypeGuess | None] = field(default_factory=list)
    knowledge: ProductKnowledge | None = None
    reference_index: int | None = None

    @classmethod
    def build(cls, result, image=None, refs=None, knowledge: ProductKnowledge | None = None, classifier=None):
        findings = Findings.from_result(result, refs)
        attributes: list[RegionAttributes] = []
        if image is not None and result.anomaly_map is not None and findings.is_defective:
            reference = None
            if refs is not None and result.nearest_reference is not None:
                reference = refs.images[result.nearest_reference]
            scale = knowledge.mm_per_px if knowledge else None
            attributes = measure_regions(image, result.anomaly_map, reference, scale)
        classifier = classifier if classifier is not None else shipped_classifier()
        types = [classifier.classify(a) if classifier else None for a in attributes]
        return cls(findings, attributes, types, knowledge, result.nearest_reference)

    @property
    def main(self) -> tuple[RegionAttributes, TypeGuess | None] | None:
        return (self.attributes[0], self.types[0]) if self.attributes else None

    def subject(self) -> str:
        return self.findings.subject()


def _where(a: RegionAttributes) -> str:
    return f"at the {a.location} ({a.position})"


def _type_phrase(guess: TypeGuess | None) -> str:
    if guess is None:
        return "of a type the station cannot name (no type classifier is installed)"
    if guess.clear:
        return f"like {TYPE_WORDS[guess.kind]} (confidence {guess.confidence:.2f})"
    return f"of unclear type (best guess {SHORT_WORDS[guess.best]}, confidence only {guess.confidence:.2f})"


def _nothing(f: ExpertFindings, what: str) -> str:
    return f"No anomaly was found, so there is no {what} to describe; the {f.subject()} looks like its references."


def type_answer(f: ExpertFindings, question: str = "") -> str:
    if not f.findings.is_defective:
        return _nothing(f, "defect type")
    if not f.attributes:
        return "The image as a whole differs from the references, with no region to classify; the type is unclear."
    asked = _asked_types(question)
    lines = []
    for i, (a, guess) in enumerate(zip(f.attributes[:MAX_NAMED], f.types[:MAX_NAMED]), start=1):
        label = "The anomaly" if len(f.attributes) == 1 else f"Region {i}"
        lines.append(f"{label} {_where(a)} looks {_type_phrase(guess)}.")
    guess = f.types[0]
    if asked and guess is not None and guess.clear:
        named = ", ".join(SHORT_WORDS[k] for k in asked)
        if guess.kind in asked:
            lines.insert(0, f"Yes, it looks like {SHORT_WORDS[guess.kind]}.")
        else:
            lines.insert(0, f"It looks most like {SHORT_WORDS[guess.kind]} rather than {named}.")
    elif asked and guess is not None:
        lines.insert(0, "The type is unclear from this inspection, so I cannot confirm "
                        + ", ".join(SHORT_WORDS[k] for k in asked) + ".")
    if f.knowledge is not None and guess is not None and guess.clear:
        matters = f.knowledge.matters(guess.kind)
        if matters is not None:
            lines.append(f"For the {f.subject()}, {SHORT_WORDS[guess.kind]} is "
                         f"{'one of the defect types that matter' if matters else 'not among the listed defect types'}.")
    return " ".join(lines)


def _asked_types(question: str) -> list[DefectType]:
    found: list[DefectType] = []
    for word in re.findall(r"[a-z]+", question.lower()):
        if word in ("defect", "anomaly", "type", "kind", "damage", "it", "is", "one", "or", "a"):
            continue
        kind = taxonomy_for(word)
        if kind is not None and kind not in found:
            found.append(kind)
    return found


def _look(a: RegionAttributes) -> str:
    parts = [a.brightness if a.brightness != "same brightness" else "about as bright as the reference"]
    if a.hue:
        parts.append(a.hue)
    parts.append({"structure changed": "with its structure changed", "rougher": "with a rougher texture",
                  "smoother": "with a smoother texture", "texture unchanged": "with the texture kept"}[a.texture])
    return ", ".join(parts)


def appearance_answer(f: ExpertFindings) -> str:
    if not f.findings.is_defective:
        return _nothing(f, "anomaly")
    if not f.attributes:
        return "The image as a whole differs from the references, with no single spot standing out."
    sentences = []
    for i, a in enumerate(f.attributes[:MAX_NAMED], start=1):
        label = "The anomaly" if len(f.attributes) == 1 else f"Region {i}"
        turn = f" running {a.orientation}ly" if a.orientation else ""
        sentences.append(f"{label} {_where(a)} is a {size_word(a.area_fraction)}, {a.shape} area{turn}; against "
                         f"the reference it is {_look(a)}.")
    return " ".join(sentences)


def shape_answer(f: ExpertFindings) -> str:
    if not f.findings.is_defective:
        return _nothing(f, "shape")
    if not f.attributes:
        return "The deviation is spread over the image rather than in one shaped region."
    sentences = []
    for i, a in enumerate(f.attributes[:MAX_NAMED], start=1):
        label = "The anomaly" if len(f.attributes) == 1 else f"Region {i}"
        turn = f", running {a.orientation}ly" if a.orientation else ""
        size = f"about {a.length_px:.0f} x {a.width_px:.0f} pixels (length x width)"
        if a.length_mm is not None:
            size += f", {a.length_mm:.1f} x {a.width_mm:.1f} mm"
        sentences.append(f"{label} is {a.shape}{turn}: {size}.")
    return " ".join(sentences)


def colour_answer(f: ExpertFindings) -> str:
    if not f.findings.is_defective:
        return _nothing(f, "colour change")
    if not f.attributes:
        return "The whole image differs slightly from the references; no single area has a colour of its own."
    sentences = []
    for i, a in enumerate(f.attributes[:MAX_NAMED], start=1):
        label = "The anomaly" if len(f.attributes) == 1 else f"Region {i}"
        hue = f", {a.hue}" if a.hue else ", with no clear hue shift"
        sat = f", {a.saturation}" if a.saturation else ""
        sentences.append(f"Against the nearest reference at the same place, {label[0].lower() + label[1:]} is "
                         f"{a.brightness}{hue}{sat} (lightness change {a.delta_l:+.1f}, colour difference "
                         f"{a.delta_e:.1f} in Lab).")
    return " ".join(sentences)


def comparison_answer(f: ExpertFindings) -> str:
    ref = (f"reference image {f.reference_index + 1} of {f.findings.n_references}"
           if f.reference_index is not None else "the normal references")
    if not f.findings.is_defective:
        return (f"Compared with {ref}, the {f.subject()} matches: its highest map value is "
                f"{f.findings.peak_value:.2f}, below the product's boundary of {DECISION_BOUNDARY}.")
    if not f.attributes:
        return f"Compared with {ref}, the image as a whole differs, with no single spot standing out."
    a = f.attributes[0]
    texture = {"structure changed": "its edges and structure differ from the reference there",
               "rougher": "its texture is rougher", "smoother": "its texture is smoother",
               "texture unchanged": "its texture is like the reference's"}[a.texture]
    return (f"Compared with {ref} at the same place, the main region {_where(a)} is {a.brightness}"
            f"{', ' + a.hue if a.hue else ''}, and {texture} (structural similarity {a.ncc:.2f}, 1.00 = identical).")


def disposition_answer(f: ExpertFindings) -> str:
    k = f.knowledge
    who = k.decider if k else "the quality engineer"
    if not f.findings.is_defective:
        return (f"The {f.subject()} passed (OK), so it goes on as a good part; no disposition rule is needed. "
                f"If you still doubt it, {who} decides.")
    if k is None or not k.rules:
        return (f"No disposition rules are written for the {f.subject()}, so I can't say whether to scrap, rework or "
                f"ship it; {who} decides. Rules can be added in the reference-set manager.")
    if not f.attributes:
        return f"The image as a whole differs, with no region the rules can be applied to; {who} decides."
    decided = []
    for a, guess in zip(f.attributes, f.types):
        kind = guess.kind if guess is not None else None
        rule = k.rule_for(kind, 100.0 * a.area_fraction, a.location, a.position)
        if rule is None:
            what = SHORT_WORDS[kind] if kind else "unclear type"
            return (f"None of the rules covers this case ({what}, {percent(a.area_fraction)} of the image, {_where(a)}); "
                    f"{who} decides.")
        decided.append((severity(rule.action), rule, a, kind))
    _, rule, a, kind = max(decided, key=lambda item: item[0])
    what = SHORT_WORDS[kind] if kind else "an anomaly of unclear type"
    return (f"By the rule \"{rule.text}\", this part goes to {rule.action}: {what}, {percent(a.area_fraction)} of "
            f"the image, {_where(a)}. The rules are the engineer's; {who} has the final word.")


def confidence_answer(f: ExpertFindings) -> str:
    fs = f.findings
    margin = abs(fs.score - DECISION_BOUNDARY)
    strength = "clearly" if margin >= 0.2 else "moderately" if margin >= 0.08 else "only just"
    text = fs.score_sentence() + f" That is {strength} on the {'defective' if fs.is_defective else 'normal'} side."
    if fs.verdict is Verdict.REVIEW:
        text += " It is a borderline case: a person should check it."
    if f.types and f.types[0] is not None:
        guess = f.types[0]
        text += (f" The defect type ({SHORT_WORDS[guess.best]}) has confidence {guess.confidence:.2f}"
                 f"{'' if guess.clear else ', too low to name it'}.")
    return text


def why_answer(f: ExpertFindings) -> str:
    fs = f.findings
    if not fs.is_defective:
        return (f"The {fs.subject()} is OK because no area differs from its {fs.n_references} normal reference"
                f"{'' if fs.n_references == 1 else 's'} more than the product's calibrated boundary allows: the "
                f"highest map value is {fs.peak_value:.2f}, below {DECISION_BOUNDARY}.")
    zone = "REVIEW, a borderline case," if fs.verdict is Verdict.REVIEW else "NG"
    text = (f"It is {zone} because the calibrated score {fs.score:.2f} is "
            f"{'close to' if fs.verdict is Verdict.REVIEW else 'above'} the product's boundary of {DECISION_BOUNDARY}")
    if f.attributes:
        a = f.attributes[0]
        text += f": the area {_where(a)} differs from the references ({_look(a)})"
    return text + "."


def cannot_tell(f: ExpertFindings) -> str:
    return ("I can't tell that from this inspection: it compares the image with normal references and measures "
            "what differs. I can tell you the verdict, and for any anomalous area its place, size, shape, colour, "
            "likely type, how sure the verdict is and, where the engineer wrote rules, what to do with the part. "
            + fs_verdict(f))


def fs_verdict(f: ExpertFindings) -> str:
    return f.findings.verdict_sentence()


def location_answer(f: ExpertFindings) -> str:
    text = f.findings.location_sentence()
    if f.findings.is_defective and f.attributes and "part" in f.attributes[0].position:
        text += f" Relative to the part, it is {f.attributes[0].position.replace('on the part', 'on the part itself')}."
    return text


def size_answer(f: ExpertFindings) -> str:
    text = f.findings.size_sentence()
    if f.findings.is_defective and f.attributes and f.attributes[0].length_mm is not None:
        a = f.attributes[0]
        text += f" With the product's scale that is about {a.length_mm:.1f} x {a.width_mm:.1f} mm."
    return text


def product_answer(f: ExpertFindings) -> str:
    text = f.findings.product_sentence()
    if f.knowledge is not None and f.knowledge.description and f.knowledge.description not in text:
        text += f" {f.knowledge.description.rstrip('.')}."
    return text


def expert_answer(f: ExpertFindings, ask: Ask, question: str = "") -> str:
    """The grounded answer to a recognised intent; never empty."""
    answers = {
        Ask.VERDICT: lambda: f.findings.verdict_sentence(),
        Ask.LOCATION: lambda: location_answer(f),
        Ask.SIZE: lambda: size_answer(f),
        Ask.COUNT: lambda: f.findings.count_sentence(),
        Ask.TYPE: lambda: type_answer(f, question),
        Ask.SHAPE: lambda: shape_answer(f),
        Ask.APPEARANCE: lambda: appearance_answer(f),
        Ask.COLOUR: lambda: colour_answer(f),
        Ask.COMPARISON: lambda: comparison_answer(f),
        Ask.DISPOSITION: lambda: disposition_answer(f),
        Ask.CONFIDENCE: lambda: confidence_answer(f),
        Ask.WHY: lambda: why_answer(f),
        Ask.PRODUCT: lambda: product_answer(f),
        Ask.UNKNOWN: lambda: cannot_tell(f),
    }
    return answers[ask]() or cannot_tell(f)
