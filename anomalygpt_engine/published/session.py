"""Multi-turn chat with the published model, in AnomalyGPT's own conversation format.

The LLM input is, as the released inference builds it:
    <s> "### Human: <Img>" [llama_proj(image embedding)] "</Img> " [9 base + 9 map prompts]
    "{q1}\\n### Assistant: {a1}\\n### Human: {q2}\\n### Assistant:"
where q1 carries the product description in front of the first question. Answers are the model's
own words (the paper's route: no findings text, no guard), greedy, ending at "###".
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import torch

from anomalygpt_engine.llm.model import PrefixCache
from anomalygpt_engine.types import ChatTurn

VERDICT_QUESTION = "Is there any anomaly in the image?"
IMAGE_OPEN, IMAGE_CLOSE = "### Human: <Img>", "</Img> "
TURN_END = "###"


def conversation_text(turns: list[ChatTurn], question: str, description: str = "") -> str:
    """The text after the prompts: earlier turns and the new question, ending with the assistant cue."""
    pairs = [(turns[i].text, turns[i + 1].text) for i in range(0, len(turns) - 1, 2)]
    first = (description.strip() + " " if description.strip() else "")
    text = ""
    for index, (q, a) in enumerate(pairs):
        text += (f"{first}{q}" if index == 0 else f" Human: {q}") + f"\n### Assistant: {a}\n###"
    text += f"{first}{question}" if not pairs else f" Human: {question}"
    return text + "\n### Assistant:"


class PublishedSession:
    """Same surface as DialogueSession: ask() streams pieces, answer(), cancel(), history, last_stats."""

    uses_llm = True
    notice = None

    def __init__(self, llm, image_token: torch.Tensor, prompts: torch.Tensor, description: str = "",
                 max_new_tokens: int = 128, findings=None) -> None:
        self.llm = llm  # PublishedLLM
        self.image_token = image_token  # 1 x hidden: llama_proj of the image embedding
        self.prompts = prompts  # 18 x hidden
        self.description = description
        self.max_new_tokens = max_new_tokens
        self.findings = findings
        self.history: list[ChatTurn] = []
        self.last_stats: dict = {}
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._cache = PrefixCache()

    @property
    def language_model(self):
        """The LanguageModel answering (its `name` goes into the history's chat records)."""
        return self.llm.language

    def cancel(self) -> None:
        self._cancel.set()

    def reset(self) -> None:
        self.history.clear()
        self._cache.clear()

    def prompt_embeds(self, question: str, history: list[ChatTurn] | None = None) -> tuple[torch.Tensor, list]:
        """1 x T x hidden inputs_embeds and one prefix-cache key per position."""
        model = self.llm.language
        tokenizer = model.tokenizer
        bos = torch.tensor([tokenizer.bos_token_id])
        opening = model.tokenize(IMAGE_OPEN)
        closing = model.tokenize(IMAGE_CLOSE)
        text = model.tokenize(conversation_text(self.history if history is None else history, question,
                                                self.description))
        pieces = [model.embed_ids(torch.cat([bos, opening])), self.image_token.to(model.device, model.dtype),
                  model.embed_ids(closing), self.prompts.to(model.device, model.dtype), model.embed_ids(text)]
        keys = ([int(bos)] + opening.tolist() + [("image", 0)] + closing.tolist()
                + [("prompt", i) for i in range(self.prompts.shape[0])] + text.tolist())
        return torch.cat(pieces).unsqueeze(0), keys

    def ask(self, question: str) -> Iterator[str]:
        with self._lock:
            self._cancel.clear()
            start = time.perf_counter()
            stats: dict = {}
            self.last_stats = {"intent": "llm", "llm": stats}
            produced = ""
            shown = 0
            embeds, keys = self.prompt_embeds(question)
            stream = self.llm.language.stream_text(embeds, self.max_new_tokens, self._cancel, stats, keys, self._cache)
            try:
                for piece in stream:
                    produced += piece
                    cut = produced.find(TURN_END)
                    visible = produced[:cut] if cut >= 0 else produced[: len(produced) - _partial_end(produced)]
                    if len(visible) > shown:
                        if shown == 0:
                            self.last_stats["first_text_s"] = time.perf_counter() - start
                        yield visible[shown:] if shown else visible[shown:].lstrip()
                        shown = len(visible)
                    if cut >= 0:
                        break
            finally:
                stream.close()
                answer = produced.split(TURN_END)[0].strip()
                self.last_stats.update(cancelled=self._cancel.is_set(), total_s=time.perf_counter() - start)
                self.history += [ChatTurn("user", question), ChatTurn("assistant", answer)]

    def answer(self, question: str) -> str:
        return "".join(self.ask(question)).strip()

    @torch.inference_mode()
    def llm_verdict(self, question: str = VERDICT_QUESTION) -> float | None:
        """P("Yes") / (P("Yes") + P("No")) for the first answer word: the paper's Yes/No verdict, read off
        the logits instead of sampling (the released test samples with top_p 0.1, nearly greedy)."""
        embeds, _ = self.prompt_embeds(question, history=[])
        logits = self.llm.language.first_logits(embeds)
        yes, no = self.llm.language.yes_no_ids()
        return float(torch.softmax(logits[[yes, no]], dim=0)[0])


def _partial_end(text: str) -> int:
    """Trailing "#" characters that may be the start of the turn end: held back until decided."""
    count = 0
    while count < len(TURN_END) - 1 and text.endswith("#" * (count + 1)):
        count += 1
    return count
