"""A tiny prompt-learner training run on a tiny random LLM lowers the LLM's cross-entropy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from anomalygpt_engine.llm import forget_loaded, load_language_model
from anomalygpt_engine.llm.tiny import save_tiny_llm
from anomalygpt_engine.prompt_learner import PromptLearner, PromptLearnerSpec
from anomalygpt_engine.training.prompt_data import PromptSample, mask_location
from anomalygpt_engine.training.prompt_train import (
    PairEncoder,
    batch_tensors,
    lm_loss,
    qa_pair,
    train_prompt_learner,
)


def fake_sample(rng: np.random.Generator, defective: bool) -> PromptSample:
    amap = np.clip(rng.normal(0.15, 0.05, (64, 64)), 0, 1).astype(np.float32)
    if defective:
        amap[8:24, 40:56] = 0.9
    return PromptSample(rng.normal(size=16).astype(np.float32), amap, defective,
                        "top right" if defective else None, "a brick wall surface")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    # A wide initialisation: a default-initialised random LLM answers ~uniformly whatever its prompt.
    folder = save_tiny_llm(tmp_path_factory.mktemp("tiny"), hidden_size=48, init_range=0.3)
    yield load_language_model("hf", str(folder))
    forget_loaded()


def test_qa_pairs_follow_the_truth():
    rng = np.random.default_rng(0)
    answers = {qa_pair(fake_sample(rng, True), rng)[1] for _ in range(30)}
    assert any(a.startswith("Yes, there is an anomaly") and "top right" in a for a in answers)
    assert any(a.startswith("This is an image of") for a in answers)
    assert all(not a.startswith("No") for a in answers)
    mask = np.zeros((90, 90), bool)
    mask[70:80, 5:15] = True
    assert mask_location(mask) == "bottom left"


def test_answer_tokens_are_the_supervised_part(tiny):
    pair = PairEncoder(tiny)("Is there any anomaly in the image?", "No, there are no anomalies in the image.")
    answer = tiny.tokenizer.decode(pair.answer.tolist())
    assert answer.startswith("No, there are no anomalies") and answer.endswith("<|im_end|>")
    assert tiny.tokenizer.decode(pair.after.tolist()).endswith("<|im_start|>assistant\n")


def test_tiny_training_run_lowers_the_loss(tiny):
    rng = np.random.default_rng(1)
    train = [fake_sample(rng, i % 2 == 1) for i in range(24)]
    val = [fake_sample(rng, i % 2 == 1) for i in range(6)]
    spec = PromptLearnerSpec(embed_dim=16, hidden_size=tiny.hidden_size, n_base=2, n_map=2)
    losses, result = [], None
    for item in train_prompt_learner(tiny, train, val, spec, minutes=2, max_steps=30, batch_size=4, lr=3e-2,
                                     first_token_weight=3.0, val_every=10):
        if isinstance(item[0], int):
            losses.append(item[1])
        else:
            result = item
    learner, report = result
    assert report.steps == 30 and len(losses) == 30
    assert np.mean(losses[-6:]) < np.mean(losses[:6]) - 0.3
    assert 0.0 <= report.val_accuracy_after <= 1.0
    assert [step for step, _ in report.val_history] == [10, 20, 30]
    assert not any(p.requires_grad for p in tiny.model.parameters())  # the LLM stayed frozen


def test_first_token_weight_moves_the_loss_towards_the_verdict_token(tiny):
    rng = np.random.default_rng(2)
    samples = [fake_sample(rng, i % 2 == 1) for i in range(4)]
    spec = PromptLearnerSpec(embed_dim=16, hidden_size=tiny.hidden_size, n_base=2, n_map=2)
    learner = PromptLearner(spec)
    encode = PairEncoder(tiny)
    pairs = [encode("Is there any anomaly in the image?", "Yes, there is." if s.defective else "No.") for s in samples]
    with torch.no_grad():
        plain = lm_loss(tiny, learner, samples, pairs)
        same = lm_loss(tiny, learner, samples, pairs, first_token_weight=1.0)
        heavy = lm_loss(tiny, learner, samples, pairs, first_token_weight=1e6)
        # With an overwhelming weight the loss is the mean cross-entropy of the first answer tokens alone.
        firsts = []
        for sample, pair in zip(samples, pairs):
            visual = learner(*batch_tensors([sample], tiny.device, tiny.dtype))[0]
            embeds = torch.cat([tiny.embed_ids(pair.before), visual, tiny.embed_ids(pair.after)])
            logits = tiny.first_logits(embeds.unsqueeze(0))
            firsts.append(torch.nn.functional.cross_entropy(logits.float().view(1, -1), pair.answer[:1]))
    assert torch.isclose(plain, same)
    assert torch.isclose(heavy, torch.stack(firsts).mean(), rtol=1e-3)
    assert not torch.isclose(plain, heavy)
