"""DialogueSession: multi-turn questions about one inspection, grounded in the engine's findings.

Who decides what (so nobody is misled): the verdict, location, size and count sentences come from
the engine's Findings (templates), never from the LLM. The LLM receives AnomalyGPT's input (image
embedding, base prompts, map prompts) plus the findings block and the history, and elaborates after
the grounded sentence or answers free questions; each LLM sentence passes a guard that drops
sentences contradicting the findings. `llm_verdict()` is the LLM's own Yes/No (AnomalyGPT's route),
measured against the calibrated verdict by `anomalygpt eval-dialogue`.

Split by concern: `intents` (what a question asks, the grounded answer), `guard` (dropping LLM
sentences that contradict the findings), this module (prompt layout and the session), and
`dialogue_models` (building a session over the LLM and prompt learner).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import torch

from anomalygpt_engine.findings import Findings
from anomalygpt_engine.guard import contradicts, invents_numbers, polarity  # noqa: F401 (re-exported)
from anomalygpt_engine.intents import Intent, classify, grounded_answer, template_answer  # noqa: F401
from anomalygpt_engine.llm.model import IMAGE_PLACEHOLDER, LanguageModel, PrefixCache
from anomalygpt_engine.types import ChatTurn

SYSTEM_PROMPT = (
    "You are an industrial visual inspection assistant. You see an image of a product and "
    "answer briefly and factually."
)
FINDINGS_HEADER = "Inspection findings (measured, always true):"
VERDICT_QUESTION = "Is there any anomaly in the image?"


def build_messages(question: str, history: list[ChatTurn] | tuple = (), findings_text: str | None = None) -> list[dict]:
    """AnomalyGPT's conversation layout, shared by the session and the prompt-learner training."""
    system = SYSTEM_PROMPT + (f"\n{FINDINGS_HEADER}\n{findings_text}" if findings_text else "")
    messages = [{"role": "system", "content": system}]
    messages += [{"role": t.role, "content": t.text} for t in history]
    messages.append({"role": "user", "content": question})
    for message in messages:
        if message["role"] == "user":
            message["content"] = f"{IMAGE_PLACEHOLDER}\n{message['content']}"
            break
    return messages


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


class DialogueSession:
    """Multi-turn chat about one inspection. `ask` is a generator of text pieces; `cancel` stops it."""

    def __init__(
        self,
        findings: Findings,
        language_model: LanguageModel | None = None,
        visual_tokens: torch.Tensor | None = None,
        max_new_tokens: int = 40,
        context_budget: int | None = None,
        fallback_reason: str | None = None,
        guard: bool = True,
        extra_sentences: int = 1,
        elaborate: bool = True,
        elaborate_intents: frozenset[Intent] | None = None,
    ) -> None:
        self.findings = findings
        self.language_model = language_model
        self.visual_tokens = visual_tokens  # N x hidden, or None when no matching prompt learner
        self.max_new_tokens = max_new_tokens
        self.guard = guard
        self.extra_sentences = extra_sentences  # LLM sentences allowed after a grounded sentence
        # The model tends to end its turn right after a grounded sentence; elaborate = it must add one.
        self.elaborate = elaborate
        self.elaborate_intents = elaborate_intents  # None: the LLM may extend every grounded answer
        self._prefix_cache = PrefixCache()
        self.fallback_reason = fallback_reason
        self.history: list[ChatTurn] = []
        self.last_stats: dict = {}
        self._cancel = threading.Event()
        self._lock = threading.Lock()  # one answer at a time
        if language_model is not None:
            limit = language_model.context_length - max_new_tokens - 8
            self.context_budget = min(limit, context_budget) if context_budget else limit
        else:
            self.context_budget = context_budget or 0

    # -- public ------------------------------------------------------------------------------------
    @property
    def uses_llm(self) -> bool:
        return self.language_model is not None

    @property
    def notice(self) -> str | None:
        """Shown once to the user when answers come from templates only."""
        if self.uses_llm:
            return None
        reason = f" ({self.fallback_reason})" if self.fallback_reason else ""
        return f"No language model is loaded{reason}; these answers come straight from the inspection findings."

    def cancel(self) -> None:
        """Stop the answer being generated; safe from any thread. The partial answer is kept."""
        self._cancel.set()

    def reset(self) -> None:
        self.history.clear()
        self._prefix_cache.clear()

    def ask(self, question: str) -> Iterator[str]:
        """Answer one question, yielding text pieces as they are produced."""
        with self._lock:
            self._cancel.clear()
            start = time.perf_counter()
            self.last_stats = {"intent": None}
            intent = classify(question)
            self.last_stats["intent"] = intent.value
            produced: list[str] = []
            pieces = self._llm_answer(question, intent) if self.uses_llm else self._template_answer(intent)
            try:
                for piece in pieces:
                    if self._cancel.is_set():
                        break
                    if not produced:
                        self.last_stats["first_text_s"] = time.perf_counter() - start
                    produced.append(piece)
                    yield piece
            finally:
                pieces.close()
                self.last_stats["cancelled"] = self._cancel.is_set()
                self.last_stats["total_s"] = time.perf_counter() - start
                self.history.append(ChatTurn("user", question))
                self.history.append(ChatTurn("assistant", "".join(produced).strip()))

    def answer(self, question: str) -> str:
        """The whole answer as one string (CLI, tests)."""
        return "".join(self.ask(question)).strip()

    # -- template route ------------------------------------------------------------------------------
    def _template_answer(self, intent: Intent) -> Iterator[str]:
        text = template_answer(self.findings, intent)
        if not any(turn.role == "assistant" for turn in self.history) and self.notice:
            text += f" ({self.notice})"
        yield from re.findall(r"\S+\s*", text)

    # -- LLM route --------------------------------------------------------------------------------------
    def messages(self, question: str, with_findings: bool = True, history: list[ChatTurn] | None = None) -> list[dict]:
        """Chat messages: system (+ findings), history, question; the image goes in the first user turn."""
        findings = self.findings.to_prompt() if with_findings else None
        return build_messages(question, self.history if history is None else history, findings)

    def _n_visual(self) -> int:
        return 0 if self.visual_tokens is None else int(self.visual_tokens.shape[0])

    def fit_history(self, question: str, prefix: str = "") -> list[ChatTurn]:
        """The most recent turns that fit the context budget: old turns are dropped, never an error."""
        model = self.language_model
        history = list(self.history)
        while True:
            text = model.render(self.messages(question, history=history)) + prefix
            if model.count_tokens(text, self._n_visual()) <= self.context_budget or not history:
                return history
            history = history[2:]  # drop the oldest question and its answer together

    def prompt_embeds(self, question: str, prefix: str = "") -> tuple[torch.Tensor, list]:
        """inputs_embeds (1 x T x hidden) for the question, and one cache key per position."""
        model = self.language_model
        history = self.fit_history(question, prefix)
        self.last_stats["history_turns"] = len(history) // 2
        text = model.render(self.messages(question, history=history)) + prefix
        embeds, keys = model.assemble(text, self.visual_tokens)
        if len(keys) > self.context_budget:  # the question alone is too long: keep its end
            embeds, keys = embeds[:, -self.context_budget:], keys[-self.context_budget:]
        return embeds, keys

    def _llm_answer(self, question: str, intent: Intent) -> Iterator[str]:
        grounded = grounded_answer(self.findings, intent)
        if grounded:
            yield grounded
            if self.max_new_tokens <= 0:  # grounded sentences only (fast evaluation runs)
                return
            if self.elaborate_intents is not None and intent not in self.elaborate_intents:
                return
        started = time.perf_counter()
        embeds, keys = self.prompt_embeds(question, prefix=grounded)
        stats: dict = {}
        self.last_stats["llm"] = stats
        stats["prompt_s"] = time.perf_counter() - started  # + prefill_s = the LLM's first-token latency
        stream = self.language_model.stream_text(
            embeds, self.max_new_tokens, self._cancel, stats, keys, self._prefix_cache,
            min_new_tokens=1 if grounded and self.elaborate else 0,
        )
        if not self.guard:
            yield from stream
            return
        limit = self.extra_sentences if grounded else None
        yield from self._guarded(stream, limit, first=not grounded)

    def _guarded(self, stream: Iterator[str], limit: int | None, first: bool) -> Iterator[str]:
        """Pass LLM text sentence by sentence, dropping and stopping at a contradicting one."""
        buffer = ""
        kept = 0
        try:
            for piece in stream:
                buffer += piece
                parts = _SENTENCE_END.split(buffer)
                for sentence in parts[:-1]:
                    if not sentence.strip():
                        continue
                    if contradicts(sentence, self.findings) or self._repeats(sentence):
                        self.last_stats["dropped"] = sentence.strip()
                        return
                    yield ("" if first and kept == 0 else " ") + sentence.strip()
                    kept += 1
                    if limit is not None and kept >= limit:
                        return
                buffer = parts[-1]
            ended = self.last_stats.get("llm", {}).get("stop") == "eos"
            tail = buffer.strip()
            if tail and ended and not contradicts(tail, self.findings) and not self._repeats(tail):
                yield ("" if first and kept == 0 else " ") + tail
            elif first and kept == 0 and not tail:
                yield template_answer(self.findings, Intent.OTHER)
        finally:
            stream.close()

    def _repeats(self, sentence: str) -> bool:
        """A small model likes to repeat its last elaboration; an answer never repeats an earlier one."""
        said = sentence.strip().lower()
        return any(said in turn.text.lower() for turn in self.history if turn.role == "assistant")

    def llm_verdict(self, question: str = VERDICT_QUESTION) -> float | None:
        """AnomalyGPT's route: P("Yes") against P("No") as the LLM's first answer word, given only the
        image and prompt embeddings (no findings text). None without an LLM or matching prompt learner."""
        if self.language_model is None or self.visual_tokens is None:
            return None
        model = self.language_model
        text = model.render(self.messages(question, with_findings=False, history=[]))
        embeds, _ = model.assemble(text, self.visual_tokens)
        logits = model.first_logits(embeds)
        yes, no = model.yes_no_ids()
        return float(torch.softmax(logits[[yes, no]], dim=0)[0])

