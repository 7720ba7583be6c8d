"""The Engine facade: load the encoder once, build reference sets, inspect images."""
from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from anomalygpt_engine.backbones import Encoder, create_encoder
from anomalygpt_engine.calibration import Calibration, defect_position, fit_boundary, tail_rule
from anomalygpt_engine.config import EngineConfig
from anomalygpt_engine.device import resolve_device, resolve_dtype
from anomalygpt_engine.errors import ReferenceSetError
from anomalygpt_engine.evidence import PatchPool
from anomalygpt_engine.generators import drain
from anomalygpt_engine.imageio import ensure_rgb_uint8
from anomalygpt_engine.memory_bank import (
    PatchBank,
    PoolEvidence,
    encode_images,
    flatten_patches,
    greedy_coreset,
    patch_distance_maps,
    rotate_images,
)
from anomalygpt_engine.reference_set import ReferenceSet
from anomalygpt_engine.regions import find_regions
from anomalygpt_engine.stream import StreamEvidence
from anomalygpt_engine.synthesis import jitter, simulate
from anomalygpt_engine.types import InspectionResult, Verdict

MAX_MAP_SIDE = 2048  # result maps of huge images are downscaled to this longer side
_UNLOADED = object()  # a lazy model not tried yet (None means tried: not available)


@dataclass(frozen=True)
class Progress:
    """Yielded by long operations: `done` of `total` steps, with a short human message."""

    done: int
    total: int
    message: str


class Engine:
    """One per process: the encoder loads lazily on first use and is reused for every call."""

    def __new__(cls, config: EngineConfig | None = None):
        """`EngineConfig(model="anomalygpt-published")` builds the published-weights engine (same API)."""
        if cls is Engine and config is not None and config.model != "embedded":
            from anomalygpt_engine.published import engine_class

            cls = engine_class(config.model)
        return super().__new__(cls)

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.device = resolve_device(self.config)
        self.dtype = resolve_dtype(self.config, self.device)
        self._encoder: Encoder | None = None
        self._decoder = None  # (AnomalyDecoder, zero-shot Calibration), loaded on first use
        self._llm = _UNLOADED  # dialogue LLM (None: switched off or unloadable), loaded on first chat
        self._learner: tuple | None = None  # (prompt learner or None, why not), loaded on first chat
        self.llm_unavailable: str | None = None  # why the dialogue answers from the findings alone
        self._mode: str | None = None
        self._lock = threading.Lock()
        self._banks: dict[int, tuple[PatchBank, PatchBank]] = {}  # reference banks moved to the device
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)

    # -- models ---------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                encoder = create_encoder(self.config).to(self.device, self.dtype)
                # One batched pass warms the allocator; the first single image is ~2x slower without it.
                encoder.encode(encoder.preprocess([np.zeros((64, 64, 3), np.uint8)] * 2, self.config.image_size))
                self._encoder = encoder
            return self._encoder

    def fingerprint(self) -> dict:
        """What must match between a reference set and the engine inspecting with it."""
        c = self.config
        fingerprint = {"backbone": c.backbone, "backbone_path": c.backbone_path, "layers": list(c.layers),
                       "image_size": c.image_size}
        if self.mode == "fused":  # fused sets are calibrated on fused scores; few-shot sets stay as they were
            fingerprint.update(mode="fused", decoder_weights=c.decoder_weights, fusion_weight=c.fusion_weight)
        if c.subspace_share > 0:  # calibrated on subspace-bounded distances: older sets recalibrate
            fingerprint.update(subspace_share=c.subspace_share)
        return fingerprint

    def identity(self) -> dict:
        """Which models judge in this engine (names, paths, weight hashes), for the quality record."""
        from anomalygpt_engine.identity import model_identity

        return model_identity(self.config, self.mode)

    @property
    def mode(self) -> str:
        """The effective mode: "auto" is "fused" where a decoder fits the encoder, else "fewshot"."""
        if self._mode is None:
            from anomalygpt_engine.decoder import decoder_available

            if self.config.mode not in ("auto", "fewshot", "zeroshot", "fused"):
                raise ValueError(f"mode must be auto, fewshot, zeroshot or fused, not {self.config.mode!r}")

            auto = "fused" if decoder_available(self.config) else "fewshot"
            self._mode = auto if self.config.mode == "auto" else self.config.mode
        return self._mode

    @property
    def decoder(self):
        """The localization decoder and its zero-shot calibration, loaded once (zeroshot/fused modes)."""
        with self._lock:
            if self._decoder is None:
                from anomalygpt_engine.decoder import load_decoder_for

                self._decoder = load_decoder_for(self.config, self.device)
            return self._decoder

    @property
    def llm(self):
        """The dialogue LLM, loaded once on the first chat; None when switched off or it cannot be
        loaded (`llm_unavailable` says why, and sessions answer from the findings)."""
        with self._lock:
            if self._llm is _UNLOADED:
                from anomalygpt_engine.dialogue_models import load_dialogue_llm

                self._llm, self.llm_unavailable = load_dialogue_llm(self.config, self.device)
            return self._llm

    @property
    def prompt_learner(self):
        """AnomalyGPT's prompt learner for this encoder and LLM, loaded once; None without an LLM,
        without weights that fit both, or with damaged weights (the dialogue then says why)."""
        llm = self.llm
        if self._learner is None and llm is not None:
            from anomalygpt_engine.dialogue_models import load_dialogue_learner

            embed_dim = self._embedding_dim()  # outside the lock: it may load the encoder
            with self._lock:
                if self._learner is None:
                    self._learner = load_dialogue_learner(self.config, embed_dim, llm, self.device)
        return self._learner[0] if self._learner else None

    def _embedding_dim(self) -> int:
        encoder = self.encoder
        batch = encoder.preprocess([np.zeros((32, 32, 3), np.uint8)], self.config.image_size)
        with torch.inference_mode():
            return int(encoder.encode(batch).embedding.shape[-1])

    def _score_maps(self, layers: list[torch.Tensor], bank: PatchBank | None,
                    evidence: PoolEvidence | None = None, size: int | None = None) -> np.ndarray:
        """Smoothed raw maps (B x S x S) for the configured mode: bank (and pool) distance, decoder, or both;
        S is the model input size (`size` where the layers were encoded at another)."""
        size = size or self.config.image_size
        if (bank is None and evidence is None) or self.mode == "zeroshot":
            return self._smooth(self.decoder[0](layers, size))
        maps = patch_distance_maps(layers, bank, size, evidence)
        if self.mode == "fused":
            maps = maps.float() + self.config.fusion_weight * self.decoder[0](layers, size).to(maps.device)
        return self._smooth(maps)

    def pool_evidence(self, pool: PatchPool, exclude: list[int | None] | None = None) -> PoolEvidence:
        """How this engine reads a pool of other parts (lot or stream): share and position window."""
        return PoolEvidence(pool.to(self.device, self.dtype), self.config.evidence_share,
                            self.config.evidence_radius, exclude)

    # -- references -----------------------------------------------------------------------
    def build_references(self, images: Sequence[np.ndarray], product: str, description: str = "") -> ReferenceSet:
        """Build and calibrate a product's reference set (drains build_references_iter)."""
        return drain(self.build_references_iter(images, product, description))

    def build_references_iter(
        self, images: Sequence[np.ndarray], product: str, description: str = ""
    ) -> Generator[Progress, None, ReferenceSet]:
        """Encode references (with rotations), calibrate, and return the set; yields progress."""
        if not images:
            raise ReferenceSetError(f"product {product!r}: at least one normal reference image is needed")
        images = [ensure_rgb_uint8(img) for img in images]
        n_rot = len(self.config.rotations or (0,))
        total = len(images) * n_rot + self._calibration_steps(len(images))
        per_layer, embeddings = yield from self._encode_references(images, total)
        bank = self._assemble_bank(per_layer, range(len(images) * n_rot), embeddings, len(images))
        calibration = yield from self.calibrate_iter(images, per_layer, bank, None, len(images) * n_rot, total)
        return ReferenceSet(product, images, bank, calibration, self.fingerprint(), description)

    def _calibration_steps(self, n_refs: int) -> int:
        return self.good_variant_count(n_refs) + self._simulation_count(n_refs)

    @staticmethod
    def good_variant_count(n_refs: int) -> int:
        """Jittered copies stand in for other good parts only when there is no other reference."""
        return 6 if n_refs == 1 else 0

    def _encode_references(self, images: list[np.ndarray], total: int, offset: int = 0):
        """Per-layer patch lists of every reference at every rotation, and the unrotated embeddings."""
        rotations = self.config.rotations or (0,)
        rotated = rotate_images(images, rotations)
        per_layer: list[list[torch.Tensor]] = [[] for _ in self.config.layers]
        embeddings: list[torch.Tensor] = []
        done = 0
        for count, encoded in encode_images(self.encoder, rotated, self.config.image_size):
            for store, feature_map in zip(per_layer, encoded.layers):
                store.extend(flatten_patches(fm.unsqueeze(0)) for fm in feature_map)
            embeddings.append(encoded.embedding.float())
            done += count
            yield Progress(offset + done, total,
                           f"Encoding references: image {-(-done // len(rotations))} of {len(images)}")
        return per_layer, torch.cat(embeddings)[:: len(rotations)]

    def calibrate_iter(self, images: list[np.ndarray], per_layer: list[list[torch.Tensor]], bank: PatchBank,
                       evidence: PoolEvidence | None, done: int, total: int):
        """The product's boundary, from held-out references, jittered good variants and simulated
        defects, all scored the way parts will be (with the same pool evidence, if any)."""
        n_rot = len(self.config.rotations or (0,))
        normal = self._held_out_scores(per_layer, len(images), n_rot, evidence)
        held_out = len(normal)
        n_jitter = self.good_variant_count(len(images))
        n_sim = self._simulation_count(len(images))
        rng = np.random.default_rng(self.config.seed)
        for index in range(n_jitter):
            normal.append(float(self._raw_maps([jitter(images[index % len(images)], rng)], bank, evidence).max()))
            done += 1
            yield Progress(done, total, f"Calibrating on good variants {index + 1}/{n_jitter}")
        anomaly: list[float] = []
        for index in range(n_sim):
            simulated = simulate(images[index % len(images)], rng)
            anomaly.append(float(self._raw_maps([simulated.image], bank, evidence).max()))
            done += 1
            yield Progress(done, total, f"Calibrating on simulated defects {index + 1}/{n_sim}")
        return fit_boundary(np.array(normal), np.array(anomaly), tail_rule(len(images)), defect_position(len(images)),
                            held_out)

    def _simulation_count(self, n_refs: int) -> int:
        return max(self.config.calibration_samples, min(3 * self.config.calibration_samples, 2 * n_refs))

    def subspace_share(self, n_references: int) -> float:
        """The principal subspace bounds distances for products with one reference only: it carries a
        single reference to unseen poses and light (+1.0 to +1.8 image AUROC at 1 shot on three sets),
        while with 4 references the bank itself covers that and the subspace explains defects away
        (-0.8 / -2.2 on mvtec15 / bsdata, and poorer localisation; README, issue 11)."""
        return self.config.subspace_share if n_references == 1 else 0.0

    def _assemble_bank(
        self, per_layer: list[list[torch.Tensor]], keep: Iterable[int], embeddings, n_references: int,
        subsample: bool = True,
    ) -> PatchBank:
        """Stack the kept images' patches per layer; large banks shrink to a coreset unless told not to.
        `n_references` is the product's reference count (it decides the subspace share, see above)."""
        keep = list(keep)
        layers = []
        for store in per_layer:
            stacked = torch.cat([store[i] for i in keep])
            if subsample and stacked.shape[0] > self.config.max_bank_patches:
                stacked = stacked[greedy_coreset(stacked, self.config.max_bank_patches, self.config.seed)]
            layers.append(stacked.to(self.device, self.dtype))
        return PatchBank(layers=layers, embeddings=embeddings.to(self.device, self.dtype),
                         subspace_share=self.subspace_share(n_references))

    def _held_out_scores(self, per_layer: list[list[torch.Tensor]], n_refs: int, n_rot: int,
                         evidence: PoolEvidence | None = None) -> list[float]:
        """Scores of references against banks that exclude them: the normal side of calibration.

        With several references: leave one reference (all its rotations) out. With one: query the
        unrotated view against its other rotations, the closest stand-in for another good part
        (nothing when rotations are off: jittered copies then carry the normal side alone).
        """
        scores = []
        queries = range(n_refs) if n_refs > 1 or n_rot > 1 else []
        for ref in queries:
            if n_refs > 1:
                keep = [i for i in range(n_refs * n_rot) if i // n_rot != ref]
            else:
                keep = list(range(1, n_rot))
            # Held-out banks are searched exhaustively: a coreset per fold would cost more than it saves.
            bank = self._assemble_bank(per_layer, keep, torch.zeros(1, 1), n_refs, subsample=False)
            layers = [self._as_map(store[ref * n_rot]) for store in per_layer]
            scores.append(float(self._score_maps(layers, bank, evidence).max()))
        return scores

    def _as_map(self, flat: torch.Tensor) -> torch.Tensor:
        side = int(round(flat.shape[0] ** 0.5))
        return flat.T.reshape(1, flat.shape[1], side, side).to(self.device, self.dtype)

    # -- inspection -----------------------------------------------------------------------
    def _smooth(self, maps: torch.Tensor) -> np.ndarray:
        sigma = self.config.smoothing_sigma
        out = maps.float().cpu().numpy()
        if sigma > 0:
            out = np.stack([cv2.GaussianBlur(m, (0, 0), sigma) for m in out])
        return out

    def _raw_maps(self, images: Sequence[np.ndarray], bank: PatchBank | None,
                  evidence: PoolEvidence | None = None) -> np.ndarray:
        """Smoothed raw distance maps, B x S x S at the model input size."""
        return self._score_maps(self.encode(images).layers, bank, evidence)

    def encode(self, images: Sequence[np.ndarray]):
        """Encoder output for RGB uint8 images at the configured size."""
        return self.encoder.encode(self.encoder.preprocess(list(images), self.config.image_size))

    def _check_compatible(self, refs: ReferenceSet) -> None:
        if refs.fingerprint != self.fingerprint():
            raise ReferenceSetError(
                f"reference set {refs.product!r} was built with {refs.fingerprint}, "
                f"but the engine runs {self.fingerprint()}: rebuild the references"
            )

    def inspect(self, image: np.ndarray, refs: ReferenceSet | None = None,
                stream: StreamEvidence | None = None) -> InspectionResult:
        """Decide OK / REVIEW / NG for one image and localise anomalies, on the calibrated scale.

        Without references (or in "zeroshot" mode) the decoder alone decides, on the calibration
        learned when it was trained. With `stream`, the product's recent good parts are evidence
        too, the boundary is the stream's guarded one, and a part judged OK joins the stream.
        """
        if refs is None or self.mode == "zeroshot":
            return self._inspect_zero_shot(image, refs)
        self._check_compatible(refs)
        start = time.perf_counter()
        image = ensure_rgb_uint8(image)
        bank = self._bank_on_device(refs)
        encoded = self.encode([image])
        self._check_feature_widths(encoded.layers, bank, refs.product)
        evidence = None
        calibration = refs.calibration
        if stream is not None:
            evidence = self.pool_evidence(stream.pool) if stream.pool_ready else None
            calibration = stream.calibration(refs.calibration)
        raw = self._score_maps(encoded.layers, bank, evidence)[0]
        result = self._result(image, raw, refs, encoded.embedding[0], start, calibration=calibration)
        if stream is not None:
            stream.observe(encoded.layers, result)
        return result

    def _bank_on_device(self, refs: ReferenceSet) -> PatchBank:
        """The set's bank on the engine's device, read with the subspace share for the set's reference
        count (a loaded set does not store it), without changing the set the caller holds."""
        bank, share = refs.bank, self.subspace_share(len(refs.images))
        if bank.layers[0].device == self.device and bank.subspace_share == share:
            return bank
        cached = self._banks.get(id(bank))
        if cached is None or cached[0] is not bank:
            moved = bank if bank.layers[0].device == self.device else bank.to(self.device, self.dtype)
            self._banks = {id(bank): (bank, moved.with_subspace(share))}
            cached = self._banks[id(bank)]
        return cached[1]

    def inspect_lot(self, images: Sequence[np.ndarray], refs: ReferenceSet | None = None):
        """Inspect a lot of parts of one product with each other as evidence (zero references
        allowed); a generator of Progress and LotResult items, in image order. See lot.py."""
        from anomalygpt_engine.lot import inspect_lot_iter

        return inspect_lot_iter(self, images, refs)

    @staticmethod
    def _check_feature_widths(layers: list[torch.Tensor], bank: PatchBank, product: str) -> None:
        """A bank whose feature widths differ from the encoder's was tampered with or mislabelled."""
        widths = [int(t.shape[1]) for t in layers]
        if widths != [int(t.shape[1]) for t in bank.layers]:
            raise ReferenceSetError(
                f"reference set {product!r} has feature widths {[int(t.shape[1]) for t in bank.layers]}, "
                f"the encoder gives {widths}: rebuild the references"
            )

    def zero_shot_size(self) -> int:
        """The input size the zero-shot decoder judges at: the size it was trained and calibrated at."""
        return self.decoder[0].spec.image_size

    def _inspect_zero_shot(self, image: np.ndarray, refs: ReferenceSet | None) -> InspectionResult:
        """The decoder alone, at the input size it was trained and calibrated at: the default encoder
        runs at 320 px for references, but the shipped decoder ranks mvtec15 worse there alone (image
        AUROC 77.9 against 82.1 at its own 224 px; README, "Verdicts")."""
        start = time.perf_counter()
        image = ensure_rgb_uint8(image)
        size = self.zero_shot_size()
        encoded = self.encoder.encode(self.encoder.preprocess([image], size))
        raw = self._score_maps(encoded.layers, None, size=size)[0]
        return self._result(image, raw, refs, encoded.embedding[0], start, zero_shot=True)

    def _result(self, image, raw: np.ndarray, refs: ReferenceSet | None, embedding, start: float,
                zero_shot: bool = False, calibration: Calibration | None = None,
                mode: str | None = None) -> InspectionResult:
        if calibration is None:
            calibration = self.decoder[1] if zero_shot else refs.calibration
        calibrated = calibration.apply(raw)
        score = float(calibrated.max())
        height, width = image.shape[:2]
        factor = min(1.0, MAX_MAP_SIDE / max(height, width))
        map_w, map_h = max(1, round(width * factor)), max(1, round(height * factor))
        full_map = cv2.resize(calibrated, (map_w, map_h), interpolation=cv2.INTER_LINEAR)
        regions = find_regions(full_map, scale=1.0 / factor) if score >= 0.5 else ()
        from anomalygpt_engine.product_match import assess  # not this product at all? (wrong part, empty fixture)
        match = None if zero_shot else assess(self, refs, embedding, full_map)
        wrong_part = match is not None and match.wrong_part
        if wrong_part:
            regions = ()  # the whole part is foreign: no defect at a place
        nearest = None
        if refs is not None and refs.bank.embeddings.shape[-1] == embedding.shape[-1]:
            similarity = F.cosine_similarity(refs.bank.embeddings.float(), embedding.float().unsqueeze(0), dim=1)
            nearest = int(similarity.argmax())
        return InspectionResult(
            verdict=Verdict.NG if wrong_part else self.verdict_for(score),
            score=score,
            anomaly_map=full_map.astype(np.float32),
            regions=regions,
            image_size=(width, height),
            product=refs.product if refs is not None else "",
            latency_ms=(time.perf_counter() - start) * 1000.0,
            mode=mode or ("zeroshot" if zero_shot else self.mode),
            raw_score=float(raw.max()),
            nearest_reference=nearest,
            global_embedding=embedding.float().cpu().numpy(),
            wrong_part=bool(wrong_part),
            product_similarity=None if match is None else match.similarity,
        )

    def verdict_for(self, score: float) -> Verdict:
        """Three zones around the calibrated boundary 0.5; the band width is a design constant."""
        margin = self.config.review_margin
        if score >= 0.5 + margin:
            return Verdict.NG
        if score >= 0.5 - margin:
            return Verdict.REVIEW
        return Verdict.OK

    def inspect_many(self, images: Iterable[np.ndarray], refs: ReferenceSet) -> Generator[InspectionResult, None, None]:
        """Inspect a stream of images; stop iterating to cancel."""
        for image in images:
            yield self.inspect(image, refs)

    # -- dialogue -------------------------------------------------------------------------------
    def chat(self, result: InspectionResult, refs: ReferenceSet | None = None):
        """A DialogueSession about `result` over this engine's LLM and prompt learner (loaded on the
        first call, once); templates that say why when no LLM can be had."""
        from anomalygpt_engine.dialogue_models import session_for

        learner = self.prompt_learner
        reason = self.llm_unavailable or (self._learner[1] if self._learner else None)
        llm = self.llm if not (self._learner and self._learner[1]) else None
        return session_for(self.config, result, refs, llm, learner, reason, self.device)
