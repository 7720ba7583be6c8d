"""Scripted conversations on MVTec-layout data: are the answers right, consistent and fast?

Per test image, with k references: "Is there any anomaly in the image?", "Where is the anomaly?",
"How large is it?", then a follow-up chosen from the first answer. Scores: yes/no accuracy, location
accuracy (the first place the answer names is the 3x3 cell of the mask centroid), contradictions of
the first answer's verdict in later sentences, latency of the LLM (first token, tokens/s), and the
LLM's own Yes/No (AnomalyGPT's route) against the calibrated verdict on the same images.

The conversation runs through the expert session (issue 14): every image the engine flags also gets
TYPE_QUESTION, and the coarse type it names is scored against the folder's defect type mapped onto
the taxonomy (expert/taxonomy.py); empty answers and sentences repeated within a conversation are
counted.
"""
from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from anomalygpt_engine.dialogue import VERDICT_QUESTION, DialogueSession, polarity
from anomalygpt_engine.evaluation.metrics import auroc
from anomalygpt_engine.regions import location_phrase

SCRIPT = (VERDICT_QUESTION, "Where is the anomaly?", "How large is it?")
FOLLOW_UP_YES = "What does the anomaly look like?"
FOLLOW_UP_NO = "Are you sure the part is free of defects?"
TYPE_QUESTION = "What kind of defect is it?"
_PLACE = re.compile(r"\b(top left|top right|bottom left|bottom right|top|bottom|left|right|center|centre|middle)\b")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def said_location(answer: str) -> str | None:
    match = _PLACE.search(answer.lower())
    if match is None:
        return None
    return {"centre": "center", "middle": "center"}.get(match.group(1), match.group(1))


def mask_cell(mask: np.ndarray) -> str | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return location_phrase(float(xs.mean()), float(ys.mean()), mask.shape[1], mask.shape[0])


@dataclass
class ConversationRecord:
    category: str
    image: str
    is_anomalous: bool
    calibrated_defective: bool
    said_yes: bool | None
    llm_yes_prob: float | None
    location_truth: str | None
    location_said: str | None
    contradictions: int
    answers: list[str]
    turn_stats: list[dict] = field(default_factory=list)
    defect_type: str = "good"  # the folder's name
    type_truth: str | None = None  # the folder's type on the coarse taxonomy
    type_said: str | None = None  # the type the answer named; None: unclear or not asked
    repeats: int = 0
    empty_answers: int = 0


def converse(session: DialogueSession, ask_type: bool = False) -> tuple[list[str], list[dict]]:
    answers, stats = [], []
    for question in SCRIPT:
        answers.append(session.answer(question))
        stats.append(dict(session.last_stats))
    follow = FOLLOW_UP_YES if polarity(_SENTENCES.split(answers[0])[0]) else FOLLOW_UP_NO
    answers.append(session.answer(follow))
    stats.append(dict(session.last_stats))
    if ask_type:
        answers.append(session.answer(TYPE_QUESTION))
        stats.append(dict(session.last_stats))
    return answers, stats


def said_type(answer: str) -> str | None:
    """The coarse type an answer names first; None when it says the type is unclear."""
    from anomalygpt_engine.expert.taxonomy import TYPE_WORDS

    lowered = answer.lower()
    hits = [(lowered.find(f"like {words}"), kind.value) for kind, words in TYPE_WORDS.items()]
    unclear = lowered.find("unclear type")
    hits = [(at, kind) for at, kind in hits if at >= 0]
    if not hits or (0 <= unclear < min(hits)[0]):
        return None
    return min(hits)[1]


def count_repeats(answers: list[str]) -> int:
    """Sentences (of 12+ characters) said twice in one conversation."""
    seen: set[str] = set()
    repeats = 0
    for answer in answers:
        for sentence in _SENTENCES.split(answer):
            key = re.sub(r"\W+", " ", sentence.lower()).strip()
            if len(key) < 12:
                continue
            repeats += key in seen
            seen.add(key)
    return repeats


def count_contradictions(answers: list[str], said_yes: bool | None) -> int:
    """Sentences of any answer whose polarity differs from the first answer's verdict."""
    if said_yes is None:
        return 0
    count = 0
    for answer in answers:
        for sentence in _SENTENCES.split(answer):
            said = polarity(sentence)
            if said is not None and said != said_yes:
                count += 1
    return count


def run_image(engine, refs, sample, category: str, llm_verdict: bool = True) -> ConversationRecord:
    from anomalygpt_engine.imageio import load_image

    from anomalygpt_engine.expert.session import expert_chat
    from anomalygpt_engine.expert.taxonomy import taxonomy_for

    image = load_image(sample.path)
    result = engine.inspect(image, refs)
    session = expert_chat(engine, result, refs, image)
    answers, stats = converse(session, ask_type=result.is_defective)
    truth_type = taxonomy_for(sample.defect_type) if sample.is_anomalous else None
    said_yes = polarity(_SENTENCES.split(answers[0])[0])
    truth = mask_cell(sample.load_mask(image.shape[:2])) if sample.is_anomalous else None
    return ConversationRecord(
        category=category, image=str(sample.path), is_anomalous=sample.is_anomalous,
        calibrated_defective=result.is_defective, said_yes=said_yes,
        llm_yes_prob=session.llm_verdict() if llm_verdict else None,
        location_truth=truth, location_said=said_location(answers[1]),
        contradictions=count_contradictions(answers, said_yes), answers=answers, turn_stats=stats,
        defect_type=sample.defect_type, type_truth=truth_type.value if truth_type else None,
        type_said=said_type(answers[-1]) if result.is_defective else None,
        repeats=count_repeats(answers), empty_answers=sum(not a.strip() for a in answers),
    )


def summarise(records: list[ConversationRecord]) -> dict:
    n = len(records)
    located = [r for r in records if r.is_anomalous and r.location_truth is not None]
    flagged = [r for r in located if r.calibrated_defective]
    llm = [r for r in records if r.llm_yes_prob is not None]
    first, tokens, decode = [], 0, 0.0
    for record in records:
        for turn in record.turn_stats:
            llm_stats = turn.get("llm")
            if not llm_stats or "prefill_s" not in llm_stats:
                continue
            first.append(llm_stats.get("prompt_s", 0.0) + llm_stats["prefill_s"])
            if llm_stats["tokens"] >= 2:
                tokens += llm_stats["tokens"] - 1  # the first token comes from the prefill
                decode += llm_stats["decode_s"]
    return {
        "images": n,
        "yes_no_accuracy": sum(r.said_yes == r.is_anomalous for r in records) / max(1, n),
        "location_accuracy": sum(r.location_said == r.location_truth for r in located) / max(1, len(located)),
        "location_images": len(located),
        # The same, only over the defective images the calibrated verdict flagged (NG or REVIEW).
        "location_accuracy_flagged": sum(r.location_said == r.location_truth for r in flagged) / max(1, len(flagged)),
        "location_images_flagged": len(flagged),
        "contradictions": int(sum(r.contradictions for r in records)),
        "first_token_s": statistics.median(first) if first else None,
        "first_token_s_p90": float(np.percentile(first, 90)) if first else None,
        "tokens_per_s": tokens / decode if decode > 0 else None,
        "llm_verdict_accuracy": (sum((r.llm_yes_prob > 0.5) == r.is_anomalous for r in llm) / len(llm))
        if llm else None,
        "calibrated_verdict_accuracy": sum(r.calibrated_defective == r.is_anomalous for r in records) / max(1, n),
        # Threshold-free: how well P("Yes") alone ranks defective above good images.
        "llm_verdict_auroc": auroc(np.array([r.is_anomalous for r in llm]), np.array([r.llm_yes_prob for r in llm]))
        if llm and len({r.is_anomalous for r in llm}) == 2 else None,
        "llm_calibrated_agreement": (sum((r.llm_yes_prob > 0.5) == r.calibrated_defective for r in llm) / len(llm))
        if llm else None,
        "unanswered_yes_no": sum(r.said_yes is None for r in records),
        **type_summary(records),
    }


def type_summary(records: list[ConversationRecord]) -> dict:
    """Type accuracy on the detected defects (an unclear type counts as wrong), answer rate, repeats."""
    typed = [r for r in records if r.is_anomalous and r.calibrated_defective and r.type_truth]
    named = [r for r in typed if r.type_said]
    answers = sum(len(r.answers) for r in records)
    per_type: dict[str, list[int]] = {}
    for r in typed:
        per_type.setdefault(r.type_truth, [0, 0])
        per_type[r.type_truth][0] += r.type_said == r.type_truth
        per_type[r.type_truth][1] += 1
    return {
        "type_images": len(typed),
        "type_accuracy": sum(r.type_said == r.type_truth for r in typed) / max(1, len(typed)),
        "type_named_rate": len(named) / max(1, len(typed)),  # answers that named a type (not "unclear")
        "type_accuracy_named": sum(r.type_said == r.type_truth for r in named) / max(1, len(named)),
        "type_per_truth": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per_type.items())},
        "answer_rate": (answers - sum(r.empty_answers for r in records)) / max(1, answers),
        "empty_answers": int(sum(r.empty_answers for r in records)),
        "repeats": int(sum(r.repeats for r in records)),
    }


def evaluate_dialogue(
    engine, root: str | Path, shots: int = 1, seeds: tuple[int, ...] = (0,), categories: list[str] | None = None,
    limit: int | None = None, llm_verdict: bool = True,
) -> Iterator[str | tuple[dict, list[ConversationRecord]]]:
    """Yields progress lines; the last item is (summary, records). Summary: overall + per seed."""
    from anomalygpt_engine.evaluation.datasets import discover_categories
    from anomalygpt_engine.imageio import load_image

    found = [c for c in discover_categories(root) if not categories or c.root.name in categories]
    if not found:
        raise FileNotFoundError(f"{root}: no MVTec-layout categories found")
    records: list[ConversationRecord] = []
    per_seed = {}
    for seed in seeds:
        seed_records = []
        for category in found:
            refs = engine.build_references([load_image(p) for p in category.draw_references(shots, seed)],
                                           product=category.root.name)
            for sample in spread(category.test_samples, limit):
                seed_records.append(run_image(engine, refs, sample, category.root.name, llm_verdict))
            done = summarise(seed_records)
            yield (f"seed {seed} {category.root.name}: yes/no {done['yes_no_accuracy']:.3f} "
                   f"location {done['location_accuracy']:.3f} contradictions {done['contradictions']} "
                   f"type {done['type_accuracy']:.3f} of {done['type_images']} repeats {done['repeats']}")
        per_seed[str(seed)] = summarise(seed_records)
        records += seed_records
    summary = summarise(records)
    summary.update(shots=shots, seeds=list(seeds), categories=len(found), per_seed=per_seed)
    yield summary, records


def spread(items: list, limit: int | None) -> list:
    """At most `limit` items, evenly spaced (so a small limit still mixes defect types and good)."""
    if not limit or limit >= len(items):
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, limit).round()]


def records_as_dicts(records: list[ConversationRecord]) -> list[dict]:
    return [asdict(r) for r in records]
