"""Tiny random stand-ins for the published artefacts, saved in the release's layout.

Same module structure and tensor names as the real files, small widths (ViT width 32, 4 blocks so
that four blocks can be tapped; text width 32, 2 blocks; a 2-layer Llama of width 64; LoRA r = 8).
For tests and for trying the configuration without 15 GB of weights; they answer nonsense.
"""
from __future__ import annotations

import gzip
import io
import json
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from anomalygpt_engine.published import spec as S
from anomalygpt_engine.published.heads import MapPromptLearner, PatchDecoder
from anomalygpt_engine.published.imagebind import ImageBindTowers
from anomalygpt_engine.published.text import ensemble_sentences

_CHAT_CORPUS = [
    "### Human: <Img> </Img> Is there any anomaly in the image?\n### Assistant: Yes, there is an anomaly "
    "in the image, at the top left of the image.\n###",
    "### Human: Where is it?\n### Assistant: No, there is no anomaly in the image.\n###",
    "This is a photo of a bottle for anomaly detection, which should be without any damage, flaw, defect.",
]


@dataclass(frozen=True)
class TinyPaths:
    imagebind: Path
    vicuna: Path
    delta: Path
    anomalygpt: Path
    bpe: Path

    def config_fields(self) -> dict:
        return {"model": "anomalygpt-published", "imagebind_path": str(self.imagebind),
                "vicuna_path": str(self.vicuna), "pandagpt_delta_path": str(self.delta),
                "anomalygpt_path": str(self.anomalygpt), "clip_bpe_path": str(self.bpe)}


def tiny_merges(words: list[str], count: int = 80) -> list[tuple[str, str]]:
    """A few byte-pair merges learned from `words` (most frequent pair first), in the CLIP file's format."""
    corpus = Counter(tuple(w[:-1]) + (w[-1] + "</w>",) for w in words)
    merges: list[tuple[str, str]] = []
    for _ in range(count):
        pairs: Counter = Counter()
        for word, n in corpus.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        merges.append(best)
        merged: Counter = Counter()
        for word, n in corpus.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        corpus = merged
    return merges


def _save_bpe(path: Path) -> int:
    sentences = [s for name in ("object", "bottle") for group in ensemble_sentences(name) for s in group]
    words = [w.strip(".").lower() for s in sentences for w in s.split()]
    merges = tiny_merges(words)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\"bpe_simple_vocab_16e6.txt#version: 0.2\n")
        handle.write("\n".join(f"{a} {b}" for a, b in merges) + "\n")
    return 512 + len(merges) + 2


def _randomise(module: nn.Module, generator: torch.Generator) -> None:
    """Random weights of sensible scale (LayerNorms near 1, matrices ~ 1/sqrt(fan-in), the rest small)."""
    with torch.no_grad():
        for sub in module.modules():
            for name, param in sub.named_parameters(recurse=False):
                if name == "log_logit_scale":
                    continue
                noise = torch.randn(param.shape, generator=generator)
                if isinstance(sub, nn.LayerNorm) and name == "weight":
                    param.copy_(1.0 + 0.1 * noise)
                elif param.ndim >= 2 and name not in ("cls_token", "pos_embed"):
                    param.copy_(noise / param[0].numel() ** 0.5)
                else:
                    param.copy_(0.02 * noise)


def _save_tokenizer(folder: Path):
    """A LlamaTokenizer from a sentencepiece `tokenizer.model`, as in the Vicuna v0 folder (byte fallback,
    "▁" word prefix); without sentencepiece installed, a byte-level BPE tokenizer.json instead."""
    from transformers import AutoTokenizer

    try:
        import sentencepiece as spm
    except ImportError:
        return _save_fast_tokenizer(folder)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(_CHAT_CORPUS * 8), model_writer=model, vocab_size=400,
                                   model_type="bpe", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, byte_fallback=True,
                                   character_coverage=1.0, minloglevel=2)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
         "model_max_length": 2048}))
    return AutoTokenizer.from_pretrained(str(folder))


def _save_fast_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=360, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_CHAT_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(str(folder))
    return fast


def _save_tiny_llama(folder: Path, hidden: int, seed: int) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _save_tokenizer(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    return model


def save_tiny_published(folder: str | Path, seed: int = 0, lora_rank: int = 8, hidden: int = 64,
                        other_modalities: bool = True) -> TinyPaths:
    """Write imagebind_huge.pth, a Vicuna-like folder, a PandaGPT-like delta and an AnomalyGPT-like
    checkpoint (state dicts of Parameters, as the release saved them) and a CLIP BPE file."""
    folder = Path(folder)
    for sub in ("imagebind_ckpt", "vicuna_ckpt/7b_v0", "pandagpt_ckpt/7b", "anomalygpt"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    paths = TinyPaths(folder / "imagebind_ckpt/imagebind_huge.pth", folder / "vicuna_ckpt/7b_v0",
                      folder / "pandagpt_ckpt/7b/pytorch_model.pt", folder / "anomalygpt/pytorch_model.pt",
                      folder / "imagebind_ckpt/bpe_simple_vocab_16e6.txt.gz")
    generator = torch.Generator().manual_seed(seed)
    vocab = _save_bpe(paths.bpe)
    spec = S.ImageBindSpec(vision_width=32, vision_blocks=4, text_width=32, text_blocks=2, embed_dim=16,
                           vocab_size=vocab)
    towers = ImageBindTowers(spec, with_text=True)
    _randomise(towers, generator)
    state = OrderedDict(towers.state_dict())
    if other_modalities:  # the real file holds all six modalities; AnomalyGPT uses two
        state["modality_trunks.audio.blocks.0.norm_1.weight"] = torch.ones(8)
        state["modality_postprocessors.thermal.1.log_logit_scale"] = torch.tensor(2.3)
    torch.save(state, paths.imagebind)

    llama = _save_tiny_llama(paths.vicuna, hidden, seed)
    kv_width = llama.config.hidden_size // llama.config.num_attention_heads * llama.config.num_key_value_heads
    delta = OrderedDict()
    for key, shape in {**S.projection_keys(spec.embed_dim, hidden),
                       **S.lora_keys(llama.config.num_hidden_layers, hidden, lora_rank, kv_width)}.items():
        delta[key] = nn.Parameter(torch.randn(shape, generator=generator) * 0.05)
    torch.save(delta, paths.delta)

    decoder, learner = PatchDecoder(spec.vision_width, spec.embed_dim), MapPromptLearner(hidden)
    _randomise(decoder, generator)
    with torch.no_grad():
        learner.base_prompts.normal_(0.0, 0.02, generator=generator)
    checkpoint = OrderedDict((f"image_decoder.{k}", nn.Parameter(v)) for k, v in decoder.state_dict().items())
    checkpoint.update((f"prompt_learner.{k}", nn.Parameter(v)) for k, v in learner.state_dict().items())
    torch.save(checkpoint, paths.anomalygpt)
    return paths
