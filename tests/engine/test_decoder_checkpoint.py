"""The shipped decoder: loads with safetensors, fits the default encoder, and its model card's
command reproduces its training (first step's loss, bit for bit up to float noise)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from safetensors import safe_open

from anomalygpt_engine import EngineConfig
from anomalygpt_engine.cli import main
from anomalygpt_engine.decoder import SHIPPED_WEIGHTS, load_decoder, load_decoder_for

ROOT = Path(__file__).resolve().parents[2]
CARD = SHIPPED_WEIGHTS.parent / "MODEL_CARD.md"


def _card_command() -> list[str]:
    match = re.search(r"^(anomalygpt train-decoder .+)$", CARD.read_text(), flags=re.MULTILINE)
    assert match, "MODEL_CARD.md names the exact training command"
    return shlex.split(match.group(1))[2:]  # drop "anomalygpt train-decoder"


def test_shipped_decoder_loads_and_fits_the_default_engine():
    assert SHIPPED_WEIGHTS.stat().st_size < 5 * 1024 * 1024, "a few MB at most"
    decoder, calibration = load_decoder_for(EngineConfig(device="cpu"), device="cpu")
    assert decoder.spec.backbone == "efficientnet-lite0" and calibration.method.startswith("zero-shot")
    assert not any(p.requires_grad for p in decoder.parameters())
    assert (SHIPPED_WEIGHTS.parent / "ATTRIBUTION.md").is_file()


def test_model_card_command_reproduces_the_training_step(tmp_path, monkeypatch):
    args = _card_command()
    folders = [Path(a) for a in args[args.index("--normals") + 1 :] if not a.startswith("-")][:1]
    if not (ROOT / folders[0]).is_dir():
        pytest.skip(f"training data {folders[0]} not found (../shared/data is absent in a fresh clone)")
    if "text" in args:
        pytest.importorskip("sentence_transformers", reason="text anchors need the train extra")
    shipped, _ = load_decoder()
    steps = int(args[args.index("--steps") + 1])
    assert shipped.spec.extra["train"]["steps"] == steps
    out = tmp_path / "decoder.safetensors"
    args[args.index("--out") + 1] = str(out)
    monkeypatch.chdir(ROOT)
    assert main(["train-decoder", *args, "--stop-after", "1"]) == 0
    with safe_open(str(out.with_name("decoder.state.safetensors")), framework="pt") as handle:
        first_loss = json.loads(handle.metadata()["losses"])[0]
    with safe_open(str(SHIPPED_WEIGHTS), framework="pt") as handle:
        recorded = float(handle.get_tensor("train.loss_head")[0])
    assert first_loss == pytest.approx(recorded, rel=1e-4)
