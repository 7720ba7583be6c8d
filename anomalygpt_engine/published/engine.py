"""The Engine for the published AnomalyGPT weights: same API, the paper's models underneath.

What is reused from `Engine`: reference sets (patch memory of the references at 4 rotations, as the
released `encode_image_for_one_shot_with_aug`), the few-shot map (1 - max cosine per tapped block,
averaged), calibration, regions. What is new: ImageBind-Huge as the encoder, AnomalyGPT's decoder
as the zero-shot map (patch tokens vs the text features of the prompt ensembles), and the LLM's
Yes/No as the verdict (`published_verdict="llm"`, the paper's route) next to our calibrated one.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch

from anomalygpt_engine.calibration import Calibration
from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.errors import ModelLoadError
from anomalygpt_engine.pipeline import Engine
from anomalygpt_engine.published import spec as S
from anomalygpt_engine.published.files import expect_role, llama_config, read_state, require_keys, shapes_of
from anomalygpt_engine.published.heads import PatchDecoder
from anomalygpt_engine.published.imagebind import ImageBindEncoder, load_towers
from anomalygpt_engine.published.llm import (
    LlamaShape,
    PublishedLLM,
    check_memory,
    load_published_llm,
    required_bytes,
)
from anomalygpt_engine.published.session import PublishedSession
from anomalygpt_engine.published.text import ClipBpe, object_name, text_features
from anomalygpt_engine.types import InspectionResult, Verdict

MODEL_NAME = "anomalygpt-published"
MODES = ("auto", "fewshot", "zeroshot", "fused")
# The decoder's softmax probability is its own scale: 0.5 is the boundary, 0.25 / 0.75 map to 0.1 / 0.9.
ZERO_SHOT_CALIBRATION = Calibration(boundary=0.5, scale=0.25 / math.log(9.0), method="published-decoder")


@dataclass(frozen=True)
class PublishedInspectionResult(InspectionResult):
    """An InspectionResult with both verdicts: `verdict` is the configured one (the LLM's by default)."""

    llm_yes_probability: float | None = None  # P("Yes") of the LLM's first answer word
    calibrated_verdict: Verdict | None = None  # our calibrated three-zone verdict on `score`


class PublishedEngine(Engine):
    """Engine(EngineConfig(model="anomalygpt-published", imagebind_path=..., ...)) builds this."""

    def __init__(self, config: EngineConfig) -> None:
        if config.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {config.mode!r}")
        if config.published_verdict not in ("llm", "calibrated"):
            raise ValueError(f"published_verdict must be 'llm' or 'calibrated', not {config.published_verdict!r}")
        if not config.imagebind_path:
            raise ModelLoadError("model='anomalygpt-published' needs imagebind_path (imagebind_huge.pth)")
        # ImageBind runs at 224 px; "fused" adds the decoder probability at full weight (the released
        # code's commented-out (zero + few) / 2, up to the scale that calibration absorbs).
        super().__init__(config.with_changes(image_size=224, fusion_weight=1.0, layers=S.ImageBindSpec().tapped_blocks))
        self._published_llm: PublishedLLM | None = None
        self.llm_unavailable: str | None = None  # as Engine's: the published LLM either loads or raises
        self._zero_decoder: PatchDecoder | None = None
        self._text_cache: dict[str, torch.Tensor] = {}
        self._object = "object"

    # -- models ---------------------------------------------------------------------------------------
    @property
    def needs_llm(self) -> bool:
        return self.config.published_verdict == "llm"

    @property
    def encoder(self) -> ImageBindEncoder:
        with self._lock:
            if self._encoder is None:
                towers = load_towers(self.config.imagebind_path, with_text=bool(self.config.clip_bpe_path))
                vision = sum(p.numel() for n, p in towers.named_parameters() if ".vision" in n)
                text = sum(p.numel() for p in towers.parameters()) - vision
                shape = LlamaShape.from_config(llama_config(self._path("vicuna_path"))) if self.needs_llm else None
                llm_part = shape or LlamaShape(0, 0, 0, 0, 0, True)
                check_memory(self.device, required_bytes(vision, text, llm_part, self.dtype))
                self._encoder = ImageBindEncoder(towers).to(self.device, self.dtype)
            return self._encoder

    def _path(self, name: str) -> str:
        value = getattr(self.config, name)
        if not value:
            raise ModelLoadError(f"the published model's LLM needs {name} (also vicuna_path, pandagpt_delta_path "
                                 "and anomalygpt_path); or set published_verdict='calibrated' and use no chat")
        return value

    @property
    def published_llm(self) -> PublishedLLM:
        """Vicuna with the LoRA merged, llama_proj, decoder and prompt learner; loaded once."""
        encoder = self.encoder
        with self._lock:
            if self._published_llm is None:
                spec = encoder.towers.spec
                if not self.needs_llm:  # not counted when the encoder loaded: check the LLM's share now
                    shape = LlamaShape.from_config(llama_config(self._path("vicuna_path")))
                    check_memory(self.device, required_bytes(0, 0, shape, self.dtype))
                self._published_llm = load_published_llm(
                    self._path("vicuna_path"), self._path("pandagpt_delta_path"), self._path("anomalygpt_path"),
                    spec.embed_dim, spec.vision_width, self.device, self.dtype)
                self._zero_decoder = self._published_llm.decoder
            return self._published_llm

    @property
    def llm(self):
        """The dialogue LanguageModel, as Engine.llm gives the embedded one: here Vicuna + merged LoRA."""
        return self.published_llm.language

    @property
    def mode(self) -> str:
        return "fewshot" if self.config.mode == "auto" else self.config.mode

    @property
    def decoder(self):
        """(zero-shot map function of the tapped blocks, its calibration), as Engine expects."""
        encoder = self.encoder
        with self._lock:
            if self._zero_decoder is None:
                self._zero_decoder = _load_decoder(self._path("anomalygpt_path"), encoder.towers.spec,
                                                   self.device, self.dtype)
        return self._zero_map, ZERO_SHOT_CALIBRATION

    def zero_shot_size(self) -> int:
        """ImageBind's decoder runs at the engine's own input size (224 px)."""
        return self.config.image_size

    def _zero_map(self, layers, size: int) -> torch.Tensor:
        return self._zero_decoder(layers, self._text_features(self._object), size)

    def _text_features(self, name: str) -> torch.Tensor:
        if name not in self._text_cache:
            towers = self.encoder.towers
            if not towers.has_text or not self.config.clip_bpe_path:
                raise ModelLoadError("the zero-shot map needs ImageBind's text tower and clip_bpe_path "
                                     "(bpe_simple_vocab_16e6.txt.gz); with references, use mode 'fewshot'")
            tokenizer = ClipBpe.from_file(self.config.clip_bpe_path)
            self._text_cache[name] = text_features(towers, tokenizer, name, self.device, self.dtype)
        return self._text_cache[name]

    def fingerprint(self) -> dict:
        fingerprint = {"model": MODEL_NAME, "imagebind": str(self.config.imagebind_path), "image_size": 224,
                       "layers": list(S.ImageBindSpec().tapped_blocks)}
        if self.mode == "fused":
            fingerprint.update(mode="fused", anomalygpt=str(self.config.anomalygpt_path))
        return fingerprint

    def identity(self) -> dict:
        from anomalygpt_engine.identity import file_sha256

        def entry(name: str, path: str | None) -> dict:
            return {"name": name, "path": path, "sha256": file_sha256(path) if path else None}

        checkpoint = entry("AnomalyGPT", self.config.anomalygpt_path)
        return {"mode": self.mode, "backbone": entry("imagebind-huge", self.config.imagebind_path),
                "decoder": checkpoint if self.mode != "fewshot" else None, "prompt_learner": checkpoint,
                "llm": {**entry(Path(self.config.vicuna_path or "vicuna").name, self.config.vicuna_path),
                        "delta": entry("PandaGPT delta", self.config.pandagpt_delta_path)}}

    # -- inspection -------------------------------------------------------------------------------------
    def build_references_iter(self, images, product: str, description: str = ""):
        self._object = object_name(product)  # the zero-shot prompts name the product ("fused" calibration)
        return (yield from super().build_references_iter(images, product, description))

    def inspect(self, image: np.ndarray, refs=None) -> InspectionResult:
        start = time.perf_counter()
        self._object = object_name(refs.product) if refs is not None else "object"
        result = super().inspect(image, refs)
        calibrated = result.verdict
        probability = None
        if self.needs_llm:
            probability = self.chat(result, refs).llm_verdict()
        values = {f.name: getattr(result, f.name) for f in fields(InspectionResult)}
        values.update(verdict=self.verdict_for(probability) if probability is not None else calibrated,
                      latency_ms=(time.perf_counter() - start) * 1000.0)
        return PublishedInspectionResult(**values, llm_yes_probability=probability, calibrated_verdict=calibrated)

    def raw_map(self, result: InspectionResult, refs=None) -> np.ndarray:
        """The uncalibrated 224 x 224 map the prompt learner was trained on, recovered from the result
        (the calibration is a logistic, so it inverts; "fused" halves the sum as the released code)."""
        zero_shot = refs is None or self.mode == "zeroshot" or result.mode == "zeroshot"
        calibration = ZERO_SHOT_CALIBRATION if zero_shot else refs.calibration
        size = self.encoder.towers.spec.image_size
        calibrated = cv2.resize(result.anomaly_map.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        p = np.clip(calibrated, 1e-6, 1 - 1e-6)
        raw = calibration.boundary + calibration.scale * np.log(p / (1 - p))
        return (raw / 2 if self.mode == "fused" and not zero_shot else raw).astype(np.float32)

    def chat(self, result: InspectionResult, refs=None) -> PublishedSession:
        """A session in AnomalyGPT's format: image token + 18 prompt embeddings + the conversation."""
        llm = self.published_llm
        if result.global_embedding is None:
            raise ModelLoadError("this inspection carries no image embedding: inspect it again to chat")
        with torch.inference_mode():
            embedding = torch.as_tensor(result.global_embedding, device=self.device, dtype=self.dtype).reshape(1, -1)
            image_token = llm.projection(embedding)
            amap = torch.from_numpy(self.raw_map(result, refs)).to(self.device, self.dtype)[None, None]
            prompts = llm.learner(amap)[0]
        description = refs.description if refs is not None else ""
        return PublishedSession(llm, image_token, prompts, description, max(self.config.max_new_tokens, 128))


def _load_decoder(path: str, spec: S.ImageBindSpec, device: torch.device, dtype: torch.dtype) -> PatchDecoder:
    """The image decoder alone (zero-shot map without the LLM), from the AnomalyGPT checkpoint."""
    state = read_state(path, "AnomalyGPT checkpoint")
    expect_role(path, set(state), "anomalygpt")
    wanted = S.decoder_keys(spec.vision_width, spec.embed_dim)
    shapes = {k: v for k, v in shapes_of(state).items() if k.startswith("image_decoder.")}
    require_keys(path, "AnomalyGPT checkpoint", shapes, wanted)
    decoder = PatchDecoder(spec.vision_width, spec.embed_dim)
    decoder.load_state_dict({k[len("image_decoder."):]: state[k] for k in wanted}, strict=True)
    return decoder.to(device, dtype).eval().requires_grad_(False)
