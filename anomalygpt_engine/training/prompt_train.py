"""Train the prompt learner (image projection, base prompts, map prompts) with the LLM frozen.

The loss is the LLM's cross-entropy on AnomalyGPT-style answers given AnomalyGPT's input (image
token + base prompts + map prompts, then the question; no findings text), mixed with general
questions about the image so the model keeps talking normally. CPU-feasible: a time budget bounds it.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from anomalygpt_engine.dialogue import VERDICT_QUESTION, build_messages
from anomalygpt_engine.llm.model import IMAGE_PLACEHOLDER, LanguageModel
from anomalygpt_engine.prompt_learner import MAP_CLIP, PromptLearner, PromptLearnerSpec, token_scale_of
from anomalygpt_engine.training.prompt_data import PromptSample

VERDICT_QUESTIONS = (VERDICT_QUESTION, "Are there any defects in the image?", "Is this part defective?")
LOCATION_QUESTIONS = ("Where is the anomaly?", "Where is the defect located?")
GENERAL_QUESTIONS = ("What is in this image?", "Describe the image briefly.")


def qa_pair(sample: PromptSample, rng: np.random.Generator) -> tuple[str, str]:
    """One AnomalyGPT-style question/answer for a sample: verdict 60%, location 20%, general 20%."""
    draw = rng.random()
    if draw < 0.6:
        question = VERDICT_QUESTIONS[int(rng.integers(len(VERDICT_QUESTIONS)))]
        if sample.defective:
            return question, f"Yes, there is an anomaly in the image, at the {sample.location} of the image."
        return question, "No, there are no anomalies in the image."
    if draw < 0.8:
        question = LOCATION_QUESTIONS[int(rng.integers(len(LOCATION_QUESTIONS)))]
        if sample.defective:
            return question, f"The anomaly is at the {sample.location} of the image."
        return question, "There is no anomaly in the image."
    question = GENERAL_QUESTIONS[int(rng.integers(len(GENERAL_QUESTIONS)))]
    return question, f"This is an image of {sample.product}."


@dataclass
class EncodedPair:
    before: torch.Tensor  # token ids before the image
    after: torch.Tensor  # token ids after the image, up to the assistant's turn
    answer: torch.Tensor  # the answer's ids, end-of-turn included: the supervised part


class PairEncoder:
    """Tokenises (question, answer) once each, in the LLM's own chat format."""

    def __init__(self, model: LanguageModel) -> None:
        self.model = model
        self._cache: dict[tuple[str, str], EncodedPair] = {}

    def __call__(self, question: str, answer: str) -> EncodedPair:
        key = (question, answer)
        if key not in self._cache:
            messages = build_messages(question)
            prompt = self.model.render(messages, add_generation_prompt=True)
            full = self.model.render(messages + [{"role": "assistant", "content": answer}], add_generation_prompt=False)
            if not full.startswith(prompt):  # templates that rewrite earlier turns: supervise the answer text only
                full = prompt + answer
            before, _, after = prompt.partition(IMAGE_PLACEHOLDER)
            tail = full[len(prompt):].rstrip("\n")
            self._cache[key] = EncodedPair(self.model.tokenize(before), self.model.tokenize(after),
                                           self.model.tokenize(tail))
        return self._cache[key]


def batch_tensors(samples: list[PromptSample], device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    embeddings = torch.from_numpy(np.stack([s.embedding for s in samples])).to(device, dtype)
    maps = torch.from_numpy(np.clip(np.stack([s.anomaly_map for s in samples]), 0.0, MAP_CLIP))
    return embeddings, maps.unsqueeze(1).to(device, dtype)


def lm_loss(model: LanguageModel, learner: PromptLearner, samples: list[PromptSample],
            pairs: list[EncodedPair], first_token_weight: float = 1.0) -> torch.Tensor:
    """Weighted mean cross-entropy over the answers' tokens, the LLM frozen and the prompts trainable.

    The first answer token ("Yes" / "No" for a verdict question) carries the decision while the rest
    is mostly format, learned in a few steps; `first_token_weight` > 1 keeps the gradient on it."""
    embeddings, maps = batch_tensors(samples, model.device, model.dtype)
    visual = learner(embeddings, maps)
    rows, targets = [], []
    for index, pair in enumerate(pairs):
        text = torch.cat([pair.before, pair.after, pair.answer])
        embeds = model.embed_ids(text)
        n_before, n_prompt = len(pair.before), len(pair.before) + len(pair.after)
        rows.append(torch.cat([embeds[:n_before], visual[index], embeds[n_before:]]))
        target = torch.full((rows[-1].shape[0],), -100, dtype=torch.long)
        target[visual.shape[1] + n_prompt:] = pair.answer
        targets.append(target)
    length = max(r.shape[0] for r in rows)
    hidden = model.hidden_size
    inputs = torch.zeros(len(rows), length, hidden, dtype=model.dtype, device=model.device)
    mask = torch.zeros(len(rows), length, dtype=torch.long, device=model.device)
    labels = torch.full((len(rows), length), -100, dtype=torch.long)
    for index, (row, target) in enumerate(zip(rows, targets)):  # right padding
        inputs[index, : row.shape[0]] = row
        mask[index, : row.shape[0]] = 1
        labels[index, : row.shape[0]] = target
    states = model.model.base_model(inputs_embeds=inputs, attention_mask=mask).last_hidden_state
    shifted = labels[:, 1:].to(model.device)
    keep = shifted != -100
    logits = model.model.get_output_embeddings()(states[:, :-1][keep])  # only where an answer token is predicted
    losses = F.cross_entropy(logits.float(), shifted[keep], reduction="none")
    weights = torch.ones_like(shifted, dtype=losses.dtype)
    first = keep.int().argmax(dim=1)  # each row's first supervised position
    weights[torch.arange(len(rows)), first] = first_token_weight
    weights = weights[keep]
    return (losses * weights).sum() / weights.sum()


@torch.no_grad()
def verdict_accuracy(model: LanguageModel, learner: PromptLearner, samples: list[PromptSample]) -> float:
    """The LLM's own Yes/No on held-out samples (first answer token, Yes vs No logits)."""
    encode = PairEncoder(model)
    pair = encode(VERDICT_QUESTION, "")
    yes, no = model.yes_no_ids()
    correct = 0
    for start in range(0, len(samples), 16):
        chunk = samples[start : start + 16]
        visual = learner(*batch_tensors(chunk, model.device, model.dtype))
        for index, sample in enumerate(chunk):
            embeds = torch.cat([model.embed_ids(pair.before), visual[index], model.embed_ids(pair.after)])
            logits = model.first_logits(embeds.unsqueeze(0))
            correct += int((logits[yes] > logits[no]).item() == sample.defective)
    return correct / max(1, len(samples))


@dataclass(frozen=True)
class TrainReport:
    steps: int
    seconds: float
    first_loss: float
    last_loss: float  # mean of the last 10 steps
    val_accuracy_before: float
    val_accuracy_after: float
    val_history: tuple[tuple[int, float], ...] = ()  # (step, held-out Yes/No accuracy) every val_every steps


def train_prompt_learner(
    model: LanguageModel, train: list[PromptSample], val: list[PromptSample], spec: PromptLearnerSpec,
    minutes: float = 10.0, max_steps: int = 10_000, batch_size: int = 8, lr: float = 2e-3, seed: int = 0,
    first_token_weight: float = 1.0, val_every: int = 0,
) -> Iterator[tuple[int, float, float | None] | tuple[PromptLearner, TrainReport]]:
    """Yields (step, loss, held-out accuracy or None) as it trains; the last item is (learner, report).

    The learning rate follows a cosine from `lr` to 0 over whichever budget (time or steps) runs
    out first, so a long run ends settled instead of at full step size."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.model.requires_grad_(False)
    learner = PromptLearner(spec, token_scale_of(model.model.get_input_embeddings().weight)).to(model.device)
    before = verdict_accuracy(model, learner.eval(), val) if val else float("nan")
    learner.train()
    optimizer = torch.optim.AdamW(learner.parameters(), lr=lr, weight_decay=0.0)
    encode = PairEncoder(model)
    losses: list[float] = []
    history: list[tuple[int, float]] = []
    start = time.perf_counter()
    step = 0
    while step < max_steps and time.perf_counter() - start < minutes * 60:
        picks = [train[int(i)] for i in rng.choice(len(train), size=min(batch_size, len(train)), replace=False)]
        pairs = [encode(*qa_pair(sample, rng)) for sample in picks]
        progress = max(step / max_steps, (time.perf_counter() - start) / (minutes * 60))
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        loss = lm_loss(model, learner, picks, pairs, first_token_weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(learner.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        step += 1
        accuracy = None
        if val and val_every and step % val_every == 0:
            accuracy = verdict_accuracy(model, learner.eval(), val)
            learner.train()
            history.append((step, accuracy))
        yield step, losses[-1], accuracy
    seconds = time.perf_counter() - start
    learner.eval()
    after = verdict_accuracy(model, learner, val) if val else float("nan")
    report = TrainReport(step, seconds, losses[0] if losses else float("nan"),
                         float(np.mean(losses[-10:])) if losses else float("nan"), before, after, tuple(history))
    yield learner, report
