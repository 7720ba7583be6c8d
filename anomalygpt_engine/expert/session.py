"""ExpertSession: the dialogue with IAD-GPT-style answers around the station's DialogueSession.

Questions are recognised by meaning (intent_model). Verdict, location, size, count and product
questions that the base session also reads the same way go to it (its grounded sentence, then the
LLM's guarded elaboration); every other intent, and any question the base session would read
differently, is answered here from ExpertFindings. Everything passes `consistency`: no sentence
repeats an earlier one, and no size or count word differs from the findings.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from anomalygpt_engine.expert.answers import ExpertFindings, expert_answer
from anomalygpt_engine.expert.intent_model import Ask, recognise
from anomalygpt_engine.findings import size_word
from anomalygpt_engine.types import ChatTurn

_BASE_ASKS = {Ask.VERDICT: "verdict", Ask.LOCATION: "location", Ask.SIZE: "size", Ask.COUNT: "count",
              Ask.PRODUCT: "product"}
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_SIZE_WORDS = re.compile(r"\b(very small|tiny|small|medium[- ]sized|medium|large|big|huge|minor|major)\b", re.I)
_SIZE_FAMILY = {"very small": "very small", "tiny": "very small", "small": "small", "minor": "small",
                "medium-sized": "medium-sized", "medium sized": "medium-sized", "medium": "medium-sized",
                "large": "large", "big": "large", "huge": "large", "major": "large"}
_COUNT = re.compile(r"\b(one|two|three|four|five|six|several|multiple|many|\d+)\s+(?:\w+\s+)?"
                    r"(anomal\w*|defects?|regions?|areas?|spots?|flaws?)\b", re.I)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def size_words_differ(sentence: str, expert: ExpertFindings) -> bool:
    """A size word for the defect that no region of the findings has ("small" for a medium-sized area)."""
    regions = expert.findings.regions
    if not regions or not expert.findings.is_defective:
        return False
    allowed = {r.size for r in regions} | {size_word(expert.findings.total_area_fraction)}
    for match in _SIZE_WORDS.finditer(sentence):
        if _SIZE_FAMILY[match.group(1).lower()] not in allowed:
            return True
    return False


def count_differs(sentence: str, expert: ExpertFindings) -> bool:
    n = len(expert.findings.regions) if expert.findings.is_defective else 0
    for match in _COUNT.finditer(sentence):
        word = match.group(1).lower()
        said = _NUMBERS.get(word, int(word) if word.isdigit() else None)
        if said is None:  # several / multiple / many
            if n <= 1:
                return True
        elif said != n and not (said == 1 and n >= 1 and "of the" in sentence.lower()):
            return True
    return False


class ExpertSession:
    """Same interface as DialogueSession (ask, answer, cancel, reset, history, last_stats, notice)."""

    def __init__(self, base, expert: ExpertFindings) -> None:
        self.base = base
        self.expert = expert
        self.findings = base.findings
        self.last_stats: dict = {}

    def __getattr__(self, name):  # language_model, uses_llm, llm_verdict, visual_tokens ...
        return getattr(self.base, name)

    @property
    def history(self) -> list[ChatTurn]:
        return self.base.history

    def cancel(self) -> None:
        self.base.cancel()

    def reset(self) -> None:
        self.base.reset()

    def answer(self, question: str) -> str:
        return "".join(self.ask(question)).strip()

    def ask(self, question: str) -> Iterator[str]:
        ask = recognise(question)
        self.last_stats = {"intent": ask.value}
        said = [t.text for t in self.base.history if t.role == "assistant"]
        base_reads = self._base_intent(question)
        if ask in _BASE_ASKS and base_reads == _BASE_ASKS[ask]:
            yield from self._filtered(self.base.ask(question), said, from_llm=True)
            self.last_stats.update(self.base.last_stats, intent=ask.value)
            return
        text = expert_answer(self.expert, ask, question)
        sentences = [s for s in _SENTENCES.split(text) if s.strip()]
        kept = [s for s in sentences if not self._repeated(s, said, [])]
        # A question asked again gets its answer again, as one sentence that says so (never nothing).
        answer = " ".join(kept) or "As I said: " + "; ".join(s.strip().rstrip(".") for s in sentences) + "."
        self.base.history.append(ChatTurn("user", question))
        self.base.history.append(ChatTurn("assistant", answer))
        yield from re.findall(r"\S+\s*", answer)

    @staticmethod
    def _base_intent(question: str) -> str:
        from anomalygpt_engine.intents import classify

        return classify(question).value

    @staticmethod
    def _repeated(sentence: str, said: list[str], this: list[str]) -> bool:
        key = re.sub(r"\W+", " ", sentence.lower()).strip()
        if len(key) < 12:
            return False
        return any(key in re.sub(r"\W+", " ", s.lower()) for s in said + this)

    def _filtered(self, pieces: Iterator[str], said: list[str], from_llm: bool) -> Iterator[str]:
        """Sentence by sentence: drop a repeat, or an LLM sentence whose size or count words differ."""
        buffer, kept = "", []
        first = True
        try:
            for piece in pieces:
                buffer += piece
                parts = _SENTENCES.split(buffer)
                for sentence in parts[:-1]:
                    if self._keep(sentence, said, kept, first):
                        yield ("" if not kept else " ") + sentence.strip()
                        kept.append(sentence.strip())
                    first = False
                buffer = parts[-1]
            if buffer.strip() and self._keep(buffer, said, kept, first):
                yield ("" if not kept else " ") + buffer.strip()
                kept.append(buffer.strip())
        finally:
            pieces.close()
        if kept and self.base.history and self.base.history[-1].role == "assistant":
            self.base.history[-1] = ChatTurn("assistant", " ".join(kept))

    def _keep(self, sentence: str, said: list[str], kept: list[str], first: bool) -> bool:
        if not sentence.strip():
            return False
        if first:  # the grounded sentence of the findings
            return not kept
        if self._repeated(sentence, said, kept):
            self.last_stats["dropped"] = sentence.strip()
            return False
        if size_words_differ(sentence, self.expert) or count_differs(sentence, self.expert):
            self.last_stats["dropped"] = sentence.strip()
            return False
        return True


def expert_chat(engine, result, refs=None, image=None, knowledge=None) -> ExpertSession:
    """A dialogue about `result` with measured attributes, defect types and the product's knowledge."""
    base = engine.chat(result, refs)
    return ExpertSession(base, ExpertFindings.build(result, image, refs, knowledge))
