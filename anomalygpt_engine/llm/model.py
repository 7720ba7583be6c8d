"""A loaded causal LM with what the dialogue needs: chat rendering, embeddings, greedy streaming.

Visual prompt embeddings are spliced into the token embeddings at a placeholder, so any decoder-only
transformers model works (`inputs_embeds`), whatever its chat template.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

IMAGE_PLACEHOLDER = "<|anomalygpt-image|>"
# Used when a tokenizer has no chat template (e.g. Vicuna v0): the Vicuna / AnomalyGPT format.
FALLBACK_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
    "{% elif m['role'] == 'user' %}{{ '### Human: ' + m['content'] + '\n' }}"
    "{% else %}{{ '### Assistant: ' + m['content'] + '\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant: ' }}{% endif %}"
)
STOP_STRINGS = ("<|im_end|>", "<|im_start|>", "### Human", "<|eot_id|>", "</s>", "<|endoftext|>")


@dataclass
class PrefixCache:
    """The KV states of a session's last prompt (+ answer): the next turn only runs what is new."""

    keys: list = field(default_factory=list)
    past: object = None

    @property
    def length(self) -> int:
        return len(self.keys)

    def reusable(self, keys: list) -> int:
        """Positions shared with `keys`, leaving at least one new position to compute logits from."""
        if self.past is None:
            return 0
        shared = 0
        for old, new in zip(self.keys, keys):
            if old != new:
                break
            shared += 1
        return min(shared, len(keys) - 1)

    def store(self, keys: list, past) -> None:
        self.keys, self.past = keys, past

    def clear(self) -> None:
        self.keys, self.past = [], None


@dataclass
class LanguageModel:
    model: torch.nn.Module
    tokenizer: object
    name: str
    _yes_no: tuple[int, int] | None = field(default=None, repr=False)

    # -- facts ------------------------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    @property
    def context_length(self) -> int:
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", None) or 2048)

    def stop_ids(self) -> set[int]:
        ids = set()
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        for value in eos if isinstance(eos, (list, tuple)) else [eos]:
            if value is not None:
                ids.add(int(value))
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        for text in ("<|im_end|>", "<|eot_id|>"):
            token = self.tokenizer.convert_tokens_to_ids(text)
            if isinstance(token, int) and token != self.tokenizer.unk_token_id and token >= 0:
                ids.add(token)
        return ids

    def yes_no_ids(self) -> tuple[int, int]:
        """Token ids of "Yes" and "No" as the first word of an answer."""
        if self._yes_no is None:
            yes = self.tokenizer.encode("Yes", add_special_tokens=False)[0]
            no = self.tokenizer.encode("No", add_special_tokens=False)[0]
            self._yes_no = (int(yes), int(no))
        return self._yes_no

    # -- prompt assembly ------------------------------------------------------------------------------
    def render(self, messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
        template = getattr(self.tokenizer, "chat_template", None) or FALLBACK_TEMPLATE
        return self.tokenizer.apply_chat_template(
            list(messages), chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def tokenize(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer.encode(text, add_special_tokens=False), dtype=torch.long)

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids.to(self.device))

    def assemble(self, text: str, visual: torch.Tensor | None) -> tuple[torch.Tensor, list]:
        """Embed rendered chat text, replacing the placeholder by `visual` (N x hidden).

        Returns (1 x T x hidden inputs_embeds, keys): one key per position, the token id or
        ("visual", i), so a PrefixCache can tell how much of a previous prompt is unchanged.
        Without a placeholder or visual tokens, the placeholder text is simply removed.
        """
        before, sep, after = text.partition(IMAGE_PLACEHOLDER)
        ids = self.tokenize(before)
        pieces, keys = [self.embed_ids(ids)], ids.tolist()
        if sep and visual is not None and visual.numel():
            tokens = visual.to(self.device, self.dtype).reshape(-1, self.hidden_size)
            pieces.append(tokens)
            keys += [("visual", i) for i in range(tokens.shape[0])]
        if sep:
            ids = self.tokenize(after)
            pieces.append(self.embed_ids(ids))
            keys += ids.tolist()
        embeds = torch.cat(pieces, dim=0)
        return embeds.unsqueeze(0), keys

    def count_tokens(self, text: str, n_visual: int = 0) -> int:
        return len(self.tokenizer.encode(text.replace(IMAGE_PLACEHOLDER, ""), add_special_tokens=False)) + n_visual

    # -- decoding ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def first_logits(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        out = self.model(inputs_embeds=inputs_embeds, use_cache=False, logits_to_keep=1)
        return out.logits[0, -1].float()

    @torch.inference_mode()
    def _prefill(self, inputs_embeds: torch.Tensor, keys: list | None, cache: PrefixCache | None):
        """Run the prompt, reusing the KV states of the longest unchanged prefix of the last prompt."""
        reuse = cache.reusable(keys) if cache is not None and keys is not None else 0
        if reuse:
            try:
                cache.past.crop(reuse - cache.length)
                return self.model(inputs_embeds=inputs_embeds[:, reuse:], past_key_values=cache.past,
                                  use_cache=True, logits_to_keep=1), reuse
            except (RuntimeError, ValueError, AttributeError):  # a cache type that cannot roll back
                pass
        return self.model(inputs_embeds=inputs_embeds, use_cache=True, logits_to_keep=1), 0

    def stream_ids(
        self, inputs_embeds: torch.Tensor, max_new_tokens: int, cancel: threading.Event | None = None,
        stats: dict | None = None, keys: list | None = None, cache: PrefixCache | None = None,
        min_new_tokens: int = 0,
    ) -> Iterator[int]:
        """Greedy decoding with a KV cache, one token id at a time; stops at EOS or on cancel.

        `stats` (optional) receives prefill_s (prompt -> first token), tokens, decode_s, reused
        (prompt positions taken from `cache`) and stop ("eos", "length" or "cancel").
        """
        stats = {} if stats is None else stats
        stats.update(tokens=0, decode_s=0.0, stop="length", prompt_tokens=int(inputs_embeds.shape[1]))
        start = time.perf_counter()
        stop = self.stop_ids()
        out, stats["reused"] = self._prefill(inputs_embeds, keys, cache)
        fed = list(keys) if keys is not None else None
        stats["prefill_s"] = time.perf_counter() - start
        try:
            for step in range(max_new_tokens):
                if cancel is not None and cancel.is_set():
                    stats["stop"] = "cancel"
                    return
                logits = out.logits[0, -1]
                if step < min_new_tokens:
                    logits = logits.clone()
                    logits[list(stop)] = float("-inf")
                token = int(logits.argmax())
                if token in stop:
                    stats["stop"] = "eos"
                    return
                stats["tokens"] += 1
                stats["decode_s"] = time.perf_counter() - start - stats["prefill_s"]
                yield token
                if cancel is not None and cancel.is_set():
                    stats["stop"] = "cancel"
                    return
                out = self.model(
                    input_ids=torch.tensor([[token]], device=self.device),
                    past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1,
                )
                if fed is not None:
                    fed.append(token)
        finally:
            if cache is not None and fed is not None:
                cache.store(fed, out.past_key_values)

    def stream_text(
        self, inputs_embeds: torch.Tensor, max_new_tokens: int, cancel: threading.Event | None = None,
        stats: dict | None = None, keys: list | None = None, cache: PrefixCache | None = None,
        min_new_tokens: int = 0,
    ) -> Iterator[str]:
        """Text pieces as they are generated (incremental detokenisation, stop strings honoured)."""
        ids: list[int] = []
        shown = ""
        text = ""
        for token in self.stream_ids(inputs_embeds, max_new_tokens, cancel, stats, keys, cache, min_new_tokens):
            ids.append(token)
            text = self.tokenizer.decode(ids, skip_special_tokens=False)
            if text.endswith("\ufffd"):  # an unfinished multi-byte character: wait for the next token
                continue
            cut = min((text.find(s) for s in STOP_STRINGS if s in text), default=-1)
            if cut >= 0:
                if cut > len(shown):
                    yield text[len(shown):cut]
                return
            safe = len(text) - _held_back(text)
            if safe > len(shown):
                yield text[len(shown):safe]
                shown = text[:safe]
        if len(text) > len(shown) and not (cancel is not None and cancel.is_set()):
            yield text[len(shown):].replace("\ufffd", "")


def _held_back(text: str) -> int:
    """How many trailing characters could be the start of a stop string (not shown yet)."""
    longest = 0
    for stop in STOP_STRINGS:
        for k in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:k]):
                longest = k
                break
    return longest
