"""Engine configuration: frozen dataclasses, named presets, dict round trip."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class EngineConfig:
    """Everything that changes what the engine computes; nothing here is a user threshold."""

    backbone: str = "efficientnet-lite0"
    backbone_path: str | None = None  # local folder for "hf-vision"
    layers: tuple[int, ...] = (4, 14)
    # 320 px (with the decoder fused at 0.0375, below) ranks parts better than 224 on mvtec15 and the
    # synthetic set, outlines defects better on all three study sets, and escapes fewer defects on
    # average over 1 and 4 shots, at about 1.75x the time per part (README, "Verdicts"); the "quick"
    # preset keeps 224 px for slow stations. Zero-shot inspection runs at the decoder's own training size.
    image_size: int = 320
    rotations: tuple[int, ...] = (0, 90, 180, 270)
    max_bank_patches: int = 16384  # per layer; larger banks are subsampled by a greedy coreset
    # Share of the patch variance of a one-reference product's bank whose principal subspace also
    # explains a patch (memory_bank.py; Engine.subspace_share: products with more references use the
    # nearest neighbour alone); 0 = never. 0.95 measured +1.0 / +1.8 / +1.4 image AUROC on mvtec15 /
    # bsdata / synthetic at 1 shot (3 seeds) and, with the 1-shot tail rule chosen for it, higher
    # verdict accuracy (calibration.tail_rule); bsdata's pixel AUROC / AUPRO fell (README, issue 11).
    subspace_share: float = 0.95
    smoothing_sigma: float = 4.0  # in pixels of the model-input grid
    review_margin: float = 0.08  # half-width of the REVIEW band around 0.5 on the calibrated scale
    calibration_samples: int = 8  # simulated anomalies per reference for calibration
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    half_precision: bool = True  # only ever applied on CUDA
    num_threads: int | None = None  # torch CPU threads; None leaves torch's default
    max_image_pixels: int = 120_000_000
    seed: int = 0
    # Decoder (issue 3): "fewshot" = memory bank only, "zeroshot" = decoder map only (no references),
    # "fused" = memory-bank distance + fusion_weight x decoder probability, calibrated per product;
    # "auto" = fused where a decoder trained for this encoder exists (the shipped one fits the default
    # encoder), else fewshot. Fused measured 90.6 / 95.1 image / pixel AUROC on mvtec15 1-shot
    # (seeds 0-1) against 88.8 / 94.9 for the bank alone; on par on bsdata (resources/decoder/MODEL_CARD.md).
    mode: str = "auto"
    decoder_weights: str | None = None  # decoder safetensors; None = resources/decoder/decoder.safetensors
    # At 320 px 0.025-0.0375 is where all three study sets are flat (benchmarks/scoring_study.py); 224 px: 0.05.
    fusion_weight: float = 0.0375
    # Lot and stream evidence (issue 11): a patch is also normal when the closest `evidence_share` of
    # the other parts (of the lot, or of the stream's recent good parts) hold a match for it within
    # `evidence_radius` x the side of its own position (0: anywhere); see evidence.py.
    evidence_share: float = 0.5
    evidence_radius: float = 0.0
    # With references, a lot's parts score each other too (a lot without references always does): at
    # 1 shot and 320 px it changed neither ranking nor verdicts on mvtec15 and bsdata (README) and cost
    # about 5x the time, so lots with references judge against the references and learn the boundary
    # from the lot's own scores (calibration.lot_boundary).
    lot_pool: bool = False
    # Stream: the boundary learns from the scores of the last parts judged OK once it has
    # `stream_min_scores` of them: median + stream_spread robust sigmas, kept within stream_bounds x the
    # reference boundary (the lot's rule, calibration.good_spread_boundary). With `stream_pool` the last
    # `stream_capacity` parts judged OK also score the next part as patch evidence once there are
    # `stream_min_pool`; at 320 px and 1 shot that raised bsdata's escapes (60.0% against 35.0% without)
    # at 5x the time per part, so it is off (README, "Verdicts").
    stream_pool: bool = False
    stream_capacity: int = 32
    stream_min_pool: int = 4
    stream_min_scores: int = 4
    stream_spread: float = 3.0
    stream_bounds: tuple[float, float] = (0.7, 1.3)
    # Dialogue (issue 4): "smollm2" = the packaged GGUF model, "none" = template answers only,
    # "hf" = a transformers causal LM in the local folder `llm_path` (a path alone in `llm` works too).
    llm: str = "smollm2"
    llm_path: str | None = None
    prompt_weights: str | None = None  # prompt learner safetensors; None = the shipped weights
    max_new_tokens: int = 40  # per answer, for the LLM's elaboration after the grounded sentence
    # Questions whose grounded answer the LLM may extend by one sentence (dialogue.Intent values);
    # free questions always go to the LLM. After verdict, location and size facts the 135M default
    # added mostly noise in eval-dialogue ("The image is not a normal human face."), so it only
    # elaborates on appearance; a larger local LLM can take them all.
    llm_elaborates: tuple[str, ...] = ("appearance",)
    # Published AnomalyGPT (issue 15): "embedded" runs the models above; "anomalygpt-published" runs the
    # paper's own ImageBind-Huge + Vicuna-7B v0 + PandaGPT delta + AnomalyGPT checkpoint from the local
    # paths below (non-commercial weights, see README). `mode` then picks the map: "auto"/"fewshot" =
    # reference memory (as the released inference), "zeroshot" = decoder vs text prompts, "fused" = both.
    model: str = "embedded"
    imagebind_path: str | None = None  # imagebind_huge.pth
    vicuna_path: str | None = None  # Vicuna-7B v0 transformers folder
    pandagpt_delta_path: str | None = None  # PandaGPT 7B delta pytorch_model.pt (llama_proj + LoRA)
    anomalygpt_path: str | None = None  # AnomalyGPT checkpoint pytorch_model.pt (decoder + prompt learner)
    clip_bpe_path: str | None = None  # bpe_simple_vocab_16e6.txt.gz: ImageBind's text tower (zero-shot map)
    published_verdict: str = "llm"  # "llm": the LLM's Yes/No decides, as in the paper; "calibrated": ours

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineConfig:
        """Build from a (possibly partial) dict, e.g. parsed JSON; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown EngineConfig keys: {sorted(unknown)}")
        values = dict(data)
        if "stream_bounds" in values:
            values["stream_bounds"] = tuple(float(v) for v in values["stream_bounds"])
        for key in ("layers", "rotations"):
            if key in values:
                values[key] = tuple(int(v) for v in values[key])
        if "llm_elaborates" in values:
            values["llm_elaborates"] = tuple(str(v) for v in values["llm_elaborates"])
        return cls(**values)

    def with_changes(self, **changes: Any) -> EngineConfig:
        return replace(self, **changes)


PRESETS: dict[str, EngineConfig] = {
    "default": EngineConfig(),
    # The default before 320 px became it (README, "Verdicts"): about half the time per part, coarser
    # heat maps and lower image AUROC on two of three study sets; for stations whose PC is too slow.
    "quick": EngineConfig(image_size=224, fusion_weight=0.05),
    "fast": EngineConfig(layers=(4, 10), rotations=(0,), image_size=224),
    # The name the 320 px configuration had while it was a preset; kept so that saved settings and
    # scripts that ask for it keep working. Identical to the default.
    "accurate": EngineConfig(),
}


def preset(name: str) -> EngineConfig:
    """Named configuration; raises KeyError listing the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None
