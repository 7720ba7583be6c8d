"""ImageBind's text side for the zero-shot map: CLIP byte-pair tokens and the prompt ensembles.

The BPE merges come from the user's `bpe_simple_vocab_16e6.txt.gz` (shipped with ImageBind and the
AnomalyGPT repository, not with the weights). The tokenizer below is our own implementation of the
standard byte-level BPE that file describes: vocabulary = 256 byte symbols, the same with an
end-of-word mark, one symbol per merge, then start/end-of-text.
"""
from __future__ import annotations

import gzip
import html
from functools import lru_cache
from pathlib import Path

import regex
import torch

from anomalygpt_engine.errors import ModelLoadError

MERGES_USED = 49152 - 256 - 2  # the vocabulary ImageBind's text tower was trained with: 49408 ids
START, END = "<|startoftext|>", "<|endoftext|>"
_WORDS = regex.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
                       regex.IGNORECASE)

# AnomalyGPT's prompt ensembles: states of a normal and of an abnormal object, in two templates.
NORMAL_STATES = ("{}", "flawless {}", "perfect {}", "unblemished {}", "{} without flaw", "{} without defect",
                 "{} without damage")
ABNORMAL_STATES = ("damaged {}", "broken {}", "{} with flaw", "{} with defect", "{} with damage")
TEMPLATES = ("a photo of a {}.", "a photo of the {}.")
# Objects named in the training prompts; any other product is "object", as in the released inference.
KNOWN_OBJECTS = frozenset({
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal nut", "pill", "screw", "tile",
    "toothbrush", "transistor", "wood", "zipper", "object", "candle", "cashew", "chewinggum", "fryum", "macaroni",
    "pcb", "pipe fryum",
})


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Each byte as one printable character: printable Latin-1 bytes stand for themselves, the rest are
    shifted past 255 so no symbol is whitespace or a control character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


class ClipBpe:
    """Text -> 77 token ids (start, BPE pieces, end, zero padding), as ImageBind's text tower expects."""

    def __init__(self, merges: list[tuple[str, str]], context_length: int = 77) -> None:
        symbols = list(byte_symbols().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
        self.ids = {token: index for index, token in enumerate(vocab)}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.context_length = context_length
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> ClipBpe:
        path = Path(path)
        try:
            lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"CLIP BPE vocabulary {path}: unreadable ({exc}); expected "
                                 "bpe_simple_vocab_16e6.txt.gz") from exc
        merges = [tuple(line.split()) for line in lines[1 : MERGES_USED + 1] if line.strip()]
        if not merges or any(len(m) != 2 for m in merges):
            raise ModelLoadError(f"CLIP BPE vocabulary {path}: not a list of merges")
        return cls(merges)

    @property
    def vocab_size(self) -> int:
        return len(self.ids)

    def _pieces(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            rank, first = min((self.ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(parts, parts[1:])))
            if rank == float("inf"):
                break
            pair = (parts[first], parts[first + 1])
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of the best pair, left to right
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        text = " ".join(html.unescape(html.unescape(text)).split()).lower()
        table = byte_symbols()
        ids = []
        for word in _WORDS.findall(text):
            ids += [self.ids[p] for p in self._pieces("".join(table[b] for b in word.encode("utf-8")))]
        return ids

    def __call__(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = ([self.ids[START]] + self.encode(text) + [self.ids[END]])[: self.context_length]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


def object_name(product: str) -> str:
    """The word the prompts use for a product: its own name if the model was trained on it, else "object"."""
    name = product.strip().lower().replace("_", " ")
    return name if name in KNOWN_OBJECTS else "object"


def ensemble_sentences(name: str) -> tuple[list[str], list[str]]:
    normal = [t.format(s.format(name)) for s in NORMAL_STATES for t in TEMPLATES]
    abnormal = [t.format(s.format(name)) for s in ABNORMAL_STATES for t in TEMPLATES]
    return normal, abnormal


@torch.inference_mode()
def text_features(towers, tokenizer: ClipBpe, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """2 x E: the mean embedding of the normal and of the abnormal sentences, each L2-normalised."""
    features = []
    for sentences in ensemble_sentences(name):
        ids = tokenizer(sentences).to(device)
        if int(ids.max()) >= towers.spec.vocab_size:
            raise ModelLoadError(f"the CLIP vocabulary ({tokenizer.vocab_size} ids) does not fit ImageBind's "
                                 f"text tower ({towers.spec.vocab_size} ids): wrong bpe file")
        mean = towers.encode_text(ids).float().mean(dim=0)
        features.append(mean / mean.norm())
    return torch.stack(features).to(dtype)
