"""`anomalygpt check-model`: what each given file or folder holds and whether the backend can use it.

Reading is header-only: safetensors headers, and memory-mapped `torch.load(weights_only=True)` for
.pth/.pt/.bin (the tensor index is read, the 13 GB of data is not). `load=True` then loads the whole
model through the engine's own code path, as an inspection would.
"""
from __future__ import annotations

import gzip
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from anomalygpt_engine.errors import EngineError
from anomalygpt_engine.published import spec as S
from anomalygpt_engine.published.files import (
    ROLE_NAMES,
    classify,
    compare_keys,
    count_parameters,
    header_shapes,
    llama_config,
    read_state,
    shapes_of,
    weight_files,
)
from anomalygpt_engine.published.llm import GIB, LlamaShape, required_bytes

CONFIG_FOR_ROLE = {"imagebind": "imagebind_path", "vicuna": "vicuna_path", "pandagpt-delta": "pandagpt_delta_path",
                   "anomalygpt": "anomalygpt_path", "clip-bpe": "clip_bpe_path"}


@dataclass
class FileReport:
    path: str
    kind: str
    description: str
    tensors: int = 0
    parameters: int = 0
    size_bytes: int = 0
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> tensors
    parts: dict[str, int] = field(default_factory=dict)  # what it holds -> parameters
    facts: dict[str, int] = field(default_factory=dict)  # widths, depths, rank read off the shapes
    matches: bool = False
    problems: list[str] = field(default_factory=list)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _group(key: str) -> str:
    if S.is_other_modality(key):
        return "ImageBind other modalities (unused)"
    for prefix, name in (("modality_", "ImageBind {}"), ("image_decoder.", "image decoder"),
                         ("prompt_learner.", "prompt learner"), ("llama_proj.", "llama_proj")):
        if key.startswith(prefix):
            return name.format(key.split(".")[1]) if "{}" in name else name
    return "LoRA" if S.is_lora_key(S.canonical_lora_key(key)) else "other"


def _problems(shapes, expected, optional=(), ignore=lambda key: False) -> list[str]:
    missing, unexpected, wrong = compare_keys(shapes, expected, optional, ignore)
    out = [f"{len(missing)} missing tensors, e.g. {missing[:3]}"] if missing else []
    out += [f"{len(unexpected)} unexpected tensors, e.g. {unexpected[:3]}"] if unexpected else []
    out += [f"{len(wrong)} tensors of the wrong shape, e.g. {wrong[:2]}"] if wrong else []
    return out


def _check_state(report: FileReport, shapes: dict[str, tuple[int, ...]]) -> None:
    kind = report.kind
    if kind == "imagebind":
        spec = S.spec_from_imagebind(shapes)
        report.facts = {"vision_width": spec.vision_width, "vision_blocks": spec.vision_blocks,
                        "text_width": spec.text_width, "text_blocks": spec.text_blocks, "embed_dim": spec.embed_dim}
        text = S.text_keys(spec)
        report.problems = _problems(shapes, S.vision_keys(spec), optional=text, ignore=S.is_other_modality)
        if not any(k in shapes for k in text):
            report.problems.append("no text tower: the zero-shot map will be unavailable")
    elif kind in ("pandagpt-delta", "anomalygpt"):
        proj = shapes.get("llama_proj.weight")
        prompts = shapes.get("prompt_learner.base_prompts")
        hidden = int(proj[0]) if proj else int(prompts[1]) if prompts else 4096
        fc = shapes.get("image_decoder.fc.0.weight", (1024, 1280))
        embed = int(proj[1]) if proj else int(fc[0])
        lora_a = [v for k, v in shapes.items() if k.endswith("lora_A.default.weight")]
        layers = 1 + max((int(k.split(".")[5]) for k in shapes if S.is_lora_key(k)), default=-1)
        k_out = shapes.get(f"{S.LORA_PREFIX}.0.self_attn.k_proj.lora_B.default.weight", (hidden,))[0]
        rank = int(lora_a[0][0]) if lora_a else 0
        report.facts = {"llm_hidden": hidden, "embed_dim": embed}
        if rank:
            report.facts.update(lora_rank=rank, lora_layers=layers)
        adapters = {**S.projection_keys(embed, hidden), **S.lora_keys(layers, hidden, rank, int(k_out))}
        if kind == "pandagpt-delta":
            report.problems = _problems(shapes, adapters)
        else:
            report.facts["vision_width"] = int(fc[1])
            heads = {**S.decoder_keys(int(fc[1]), int(fc[0])), **S.prompt_learner_keys(hidden)}
            report.problems = _problems(shapes, heads, optional=adapters)
    else:
        report.problems = ["not a file the published backend uses"]


def check_file(path: str | Path) -> FileReport:
    path = Path(path)
    if not path.exists():
        return FileReport(str(path), "missing", "does not exist", problems=["no such file or folder"])
    if path.is_dir():
        return _check_folder(path)
    if path.name.endswith(".txt.gz"):
        return _check_bpe(path)
    try:
        state = read_state(path)
    except EngineError as exc:
        return FileReport(str(path), "unreadable", "not a plain tensor file", size_bytes=_size(path),
                          problems=[str(exc)])
    shapes = {S.canonical_lora_key(k): v for k, v in shapes_of(state).items()}
    kind = classify(shapes)
    report = FileReport(str(path), kind, ROLE_NAMES[kind], len(shapes), count_parameters(shapes), _size(path))
    for value in state.values():
        report.dtypes[str(value.dtype).replace("torch.", "")] = report.dtypes.get(str(value.dtype)
                                                                                 .replace("torch.", ""), 0) + 1
    for key, shape in shapes.items():
        report.parts[_group(key)] = report.parts.get(_group(key), 0) + count_parameters({key: shape})
    _check_state(report, shapes)
    report.matches = not [p for p in report.problems if "zero-shot" not in p]
    return report


def _check_folder(path: Path) -> FileReport:
    report = FileReport(str(path), "vicuna", "Vicuna / Llama transformers folder", size_bytes=_size(path))
    try:
        config = llama_config(path)
    except EngineError as exc:
        report.kind, report.description, report.problems = "unknown", "folder", [str(exc)]
        return report
    shape = LlamaShape.from_config(config)
    report.facts = {"llm_hidden": shape.hidden, "layers": shape.layers, "vocab": shape.vocab}
    shapes: dict[str, tuple[int, ...]] = {}
    files = weight_files(path)
    for file in files:
        shapes.update(header_shapes(file))
    report.tensors, report.parameters = len(shapes), count_parameters(shapes)
    report.parts = {"Llama weights": report.parameters}
    if not files:
        report.problems.append("no weight files (*.safetensors or pytorch_model*.bin)")
    elif report.parameters != shape.parameters:
        report.problems.append(f"{report.parameters:,} parameters in the files, "
                               f"config.json implies {shape.parameters:,}")
    if not any((path / name).is_file() for name in ("tokenizer.model", "tokenizer.json")):
        report.problems.append("no tokenizer (tokenizer.model or tokenizer.json)")
    report.matches = not report.problems
    return report


def _check_bpe(path: Path) -> FileReport:
    report = FileReport(str(path), "clip-bpe", "CLIP BPE vocabulary (ImageBind text tower)", size_bytes=_size(path))
    try:
        lines = [line for line in gzip.open(path, "rt", encoding="utf-8").read().split("\n")[1:] if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        report.problems.append(f"unreadable: {exc}")
        return report
    report.facts = {"merges": min(len(lines), 49152 - 256 - 2)}
    report.matches = True
    return report


def consistency(reports: list[FileReport]) -> list[str]:
    """Cross-file checks: the widths one file produces must be the widths the next one consumes."""
    facts: dict[str, set[tuple[str, int]]] = {}
    for report in reports:
        for name, value in report.facts.items():
            if name in ("embed_dim", "llm_hidden", "vision_width"):
                facts.setdefault(name, set()).add((Path(report.path).name, value))
    return [f"{name} differs between files: {sorted(values)}" for name, values in facts.items()
            if len({v for _, v in values}) > 1]


def memory_needed(reports: list[FileReport]) -> dict[str, float]:
    """GiB for fp16 on a GPU and fp32 on the CPU, from the parameter counts found."""
    by_kind = {r.kind: r for r in reports}
    vision = sum(v for k, v in by_kind.get("imagebind", FileReport("", "", "")).parts.items()
                 if k == "ImageBind vision")
    text = sum(v for k, v in by_kind.get("imagebind", FileReport("", "", "")).parts.items() if k == "ImageBind text")
    llm = by_kind.get("vicuna")
    shape = LlamaShape(0, 0, 0, 0, 0, True)
    if llm is not None and llm.facts:
        shape = LlamaShape.from_config(llama_config(llm.path))
    return {"cuda_fp16_gib": required_bytes(vision, text, shape, torch.float16) / GIB,
            "cpu_fp32_gib": required_bytes(vision, text, shape, torch.float32) / GIB}


def load_check(reports: list[FileReport], device: str = "auto") -> dict[str, float]:
    """Load everything through PublishedEngine, timed (seconds per part)."""
    from anomalygpt_engine.config import EngineConfig
    from anomalygpt_engine.pipeline import Engine

    fields = {CONFIG_FOR_ROLE[r.kind]: r.path for r in reports if r.kind in CONFIG_FOR_ROLE}
    verdict = "llm" if "vicuna_path" in fields else "calibrated"
    engine = Engine(EngineConfig(model="anomalygpt-published", device=device, published_verdict=verdict, **fields))
    timings = {}
    start = time.perf_counter()
    _ = engine.encoder
    timings["imagebind_s"] = time.perf_counter() - start
    if engine.config.vicuna_path:
        start = time.perf_counter()
        _ = engine.published_llm
        timings["llm_s"] = time.perf_counter() - start
    return timings


def as_dict(report: FileReport) -> dict:
    return asdict(report)
