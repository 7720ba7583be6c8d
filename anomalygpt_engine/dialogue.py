"""DialogueSession: multi-turn questions about one inspection, grounded in the engine's findings.

Who decides what (so nobody is misled): the verdict, location, size and count sentences come from
the engine's Findings (templates), never from the LLM. The LLM receives AnomalyGPT's input (image
embedding, base prompts, map prompts) plus the findings block and the history, and elaborates after
the grounded sentence or answers free questions; each LLM sentence passes a guard that drops
sentences contradicting the findings. `llm_verdict()` is the LLM's own Yes/No (AnomalyGPT's route),
measured against the calibrated verdict by `anomalygpt eval-dialogue`.
"""
from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Iterator

import torch

from anomalygpt_engine.findings import NUMBER, Findings
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


# -- consistency ---------------------------------------------------------------------------------------
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


# -- construction ----------------------------------------------------------------------------------------
def visual_tokens_for(result, learner, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
    """AnomalyGPT's prompt for one inspection: N x hidden, or None without embedding or learner."""
    from anomalygpt_engine.prompt_learner import map_tensor

    if learner is None or result.global_embedding is None:
        return None
    embedding = torch.as_tensor(result.global_embedding, dtype=dtype, device=device).reshape(1, -1)
    amap = map_tensor(result.anomaly_map, learner.spec.map_size).to(device, dtype)
    with torch.inference_mode():
        return learner(embedding, amap)[0]


def _dtype(config, device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" and config.half_precision else torch.float32


def load_dialogue_llm(config, device: torch.device):
    """(the configured LLM, None) or (None, why not): a dialogue without an LLM still answers."""
    from anomalygpt_engine.errors import ModelLoadError
    from anomalygpt_engine.llm.loading import load_language_model, resolve_llm

    kind, _ = resolve_llm(config.llm, config.llm_path)
    if kind == "none":
        return None, "switched off"
    try:
        return load_language_model(config.llm, config.llm_path, device, _dtype(config, device)), None
    except ModelLoadError as exc:
        return None, str(exc)


def load_dialogue_learner(config, embed_dim: int, model, device: torch.device) -> tuple:
    """(prompt learner or None when no weights fit, None) or (None, why: damaged weights)."""
    from anomalygpt_engine.errors import ModelLoadError
    from anomalygpt_engine.prompt_learner import load_prompt_learner

    try:
        learner = load_prompt_learner(config.prompt_weights, embed_dim, model.hidden_size)
    except ModelLoadError as exc:
        return None, str(exc)
    return (learner.to(device, _dtype(config, device)) if learner is not None else None), None


def session_for(config, result, refs, model, learner, reason: str | None, device: torch.device) -> DialogueSession:
    """A session over models the caller owns (the Engine): the LLM if there is one, else templates."""
    findings = Findings.from_result(result, refs)
    if model is None:
        return DialogueSession(findings, max_new_tokens=config.max_new_tokens, fallback_reason=reason)
    visual = visual_tokens_for(result, learner, device, _dtype(config, device))
    return DialogueSession(findings, model, visual, max_new_tokens=config.max_new_tokens,
                           elaborate_intents=frozenset(Intent(value) for value in config.llm_elaborates))


def open_session(config, device: torch.device, result, refs=None) -> DialogueSession:
    """A session for callers without an Engine: loads the models here (an Engine keeps its own)."""
    model, reason = load_dialogue_llm(config, device)
    learner = None
    if model is not None and result.global_embedding is not None:
        learner, reason = load_dialogue_learner(config, int(result.global_embedding.shape[-1]), model, device)
        if reason:
            model = None
    return session_for(config, result, refs, model, learner, reason, device)
