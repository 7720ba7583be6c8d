"""Wrong, missing, tampered and too-large published weights give typed errors; check-model reports them."""
from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch

from anomalygpt_engine import Engine, ModelLoadError
from anomalygpt_engine.cli import main
from anomalygpt_engine.errors import CheckpointKeysError, InsufficientMemoryError, WrongModelFileError
from anomalygpt_engine.published import check
from anomalygpt_engine.published.files import read_state
from anomalygpt_engine.published.llm import GIB, LlamaShape, check_memory, read_adapters, required_bytes
from tests.engine.published_helpers import one_thread, part, published_config, tiny_published  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")
SHAPE = LlamaShape(layers=2, hidden=64, kv_width=64, intermediate=128, vocab=400, tied=False)


def test_pandagpt_delta_given_as_the_anomalygpt_checkpoint():
    paths = tiny_published()
    with pytest.raises(WrongModelFileError, match=r"contains the PandaGPT delta.*pandagpt_delta_path"):
        read_adapters(paths.delta, paths.delta, 16, 32, SHAPE)
    with pytest.raises(WrongModelFileError, match=r"given as the PandaGPT delta.*AnomalyGPT checkpoint"):
        read_adapters(paths.anomalygpt, paths.anomalygpt, 16, 32, SHAPE)


def test_wrong_files_through_the_engine():
    paths = tiny_published()
    with pytest.raises(WrongModelFileError, match="given as the ImageBind-Huge state dict.*contains the AnomalyGPT"):
        _ = Engine(published_config(imagebind_path=str(paths.anomalygpt))).encoder
    with pytest.raises(WrongModelFileError, match="not a transformers model folder"):
        _ = Engine(published_config(vicuna_path=str(paths.imagebind.parent))).encoder
    with pytest.raises(ModelLoadError, match="does not exist"):
        _ = Engine(published_config(imagebind_path="/nonexistent/imagebind_huge.pth")).encoder
    engine = Engine(published_config(anomalygpt_path=str(paths.imagebind)))
    with pytest.raises(WrongModelFileError, match="contains the ImageBind-Huge state dict"):
        _ = engine.llm


def test_missing_lora_tensor_and_unexpected_checkpoint_tensor(tmp_path):
    paths = tiny_published()
    delta = torch.load(paths.delta, weights_only=True)
    dropped = next(k for k in delta if "layers.1.self_attn.v_proj.lora_B" in k)
    torch.save(OrderedDict((k, v) for k, v in delta.items() if k != dropped), tmp_path / "delta.pt")
    with pytest.raises(CheckpointKeysError) as info:
        read_adapters(tmp_path / "delta.pt", paths.anomalygpt, 16, 32, SHAPE)
    assert info.value.missing == (dropped,)
    checkpoint = torch.load(paths.anomalygpt, weights_only=True)
    checkpoint["prompt_learner.extra"] = torch.zeros(3)
    torch.save(checkpoint, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointKeysError) as info:
        read_adapters(paths.delta, tmp_path / "ckpt.pt", 16, 32, SHAPE)
    assert info.value.unexpected == ("prompt_learner.extra",)


class _Payload:  # any pickled object other than tensors and containers must be refused
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_truncated_and_empty_files_are_refused(tmp_path):
    torch.save({"llama_proj.weight": torch.zeros(2), "x": _Payload()}, tmp_path / "evil.pt")
    (tmp_path / "truncated.pt").write_bytes(tiny_published().delta.read_bytes()[:5000])
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in ("evil.pt", "truncated.pt", "empty.pt"):
        with pytest.raises(ModelLoadError, match="refused"):
            read_state(tmp_path / name)
    torch.save({"llama_proj.weight": torch.zeros(3, 2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert read_state(tmp_path / "legacy.pt")["llama_proj.weight"].shape == (3, 2)  # pre-zip format: no mmap


def test_not_enough_gpu_memory_says_what_is_needed(monkeypatch):
    spec_vision, spec_text = 632_829_440, 354_038_570  # ImageBind-Huge towers, from the key shapes
    vicuna = LlamaShape(32, 4096, 4096, 11008, 32000, False)
    needed = required_bytes(spec_vision, spec_text, vicuna, torch.float16)
    assert 16 * GIB < needed < 18 * GIB
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * GIB, 12 * GIB))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU")
    with pytest.raises(InsufficientMemoryError, match=r"needs about 17\.\d GiB on cuda:0 \(Test GPU, 12\.0 GiB\), "
                                                      r"8\.0 GiB is free") as info:
        check_memory(torch.device("cuda:0"), needed)
    assert info.value.needed_bytes == needed


def test_not_enough_ram_through_the_engine(monkeypatch):
    import psutil

    class Tiny:
        available = 1000

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    with pytest.raises(InsufficientMemoryError, match="CPU RAM"):
        Engine(published_config()).build_references([part(0)], "bottle")


def test_check_model_headers_only(capsys):
    paths = tiny_published()
    files = [str(paths.imagebind), str(paths.vicuna), str(paths.delta), str(paths.anomalygpt), str(paths.bpe)]
    assert main(["check-model", *files, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = [f["kind"] for f in report["files"]]
    assert kinds == ["imagebind", "vicuna", "pandagpt-delta", "anomalygpt", "clip-bpe"]
    assert all(f["matches"] for f in report["files"]) and report["consistency"] == []
    imagebind = report["files"][0]
    assert imagebind["parts"]["ImageBind vision"] == 97_344
    assert "ImageBind other modalities (unused)" in imagebind["parts"]
    assert report["files"][2]["facts"] == {"llm_hidden": 64, "embed_dim": 16, "lora_rank": 8, "lora_layers": 2}


def test_check_model_flags_a_wrong_file(capsys):
    paths = tiny_published()
    assert main(["check-model", str(paths.imagebind), str(paths.delta), "/nonexistent.pt"]) == 1
    out = capsys.readouterr().out
    assert "[BAD] /nonexistent.pt" in out and "[OK ]" in out
    reports = [check.check_file(paths.imagebind), check.check_file(paths.vicuna)]
    assert check.consistency(reports) == []


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_check_model_load(capsys):
    paths = tiny_published()
    files = [str(paths.imagebind), str(paths.vicuna), str(paths.delta), str(paths.anomalygpt)]
    assert main(["check-model", *files, "--load", "--device", "cpu"]) == 0
    assert "loaded: imagebind_s" in capsys.readouterr().out
