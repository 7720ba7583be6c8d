"""Typed station settings, stored per user as JSON next to the reference sets.

JSON rather than QSettings so that the file is readable, diffable and testable without Qt; the
window layout (Qt's opaque state bytes) is kept in it as base64.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from desktop_app.paths import user_data_dir

log = logging.getLogger(__name__)
SETTINGS_FILE = "settings.json"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Settings:
    """What an inspector or integrator may change; nothing here is a decision threshold."""

    device: str = "auto"
    # Engine preset (anomalygpt_engine.config.PRESETS): "default" (320 px), or "quick" (224 px: coarser
    # heat maps, about half the inspection time; README, "Verdicts"). Applies at the next start. A
    # saved "accurate" (the 320 px preset before it became the default) reads as the default.
    engine_preset: str = "default"
    backbone_path: str = ""  # local Hugging Face vision model folder; empty = embedded EfficientNet-Lite0
    llm_path: str = ""  # local LLM folder or GGUF; empty = the packaged default
    # JSON naming the published AnomalyGPT weights (README: "The published AnomalyGPT model"), as for
    # `anomalygpt --config`; empty = the embedded models.
    published_config: str = ""
    camera_source: str = "0"  # device index ("0"), URL ("rtsp://...", "http://..."), or "gige:<id>[@<interface>]"
    continuous_interval_ms: int = 1000  # pause between inspections in continuous camera mode
    hot_folder: str = ""
    hot_folder_on: bool = False  # watched when the station last stopped: re-armed at the next start
    # Evidence from other parts (README "Verdicts"): folder batches score each part with the others of
    # its lot; stream evidence learns each product's good-part spread from the parts judged OK.
    lot_evidence: bool = True
    stream_evidence: bool = False
    current_product: str = ""
    heatmap_opacity: int = 60  # percent
    window_geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    # Operators: with require_login the station asks who works at it; without, the default operator
    # (empty: the system user) works in `default_role`. An engineer PIN is kept only as a salted hash.
    require_login: bool = False
    default_operator: str = ""
    default_role: str = "engineer"  # a single-user station without logins may do everything
    engineer_pin_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def camera_source_value(self) -> int | str:
        """OpenCV wants an int for a device index and a str for a URL or file."""
        text = self.camera_source.strip()
        return int(text) if text.lstrip("-").isdigit() else text

    def engine_overrides(self) -> dict[str, Any]:
        """EngineConfig fields these settings change (the GUI never builds configs itself)."""
        overrides: dict[str, Any] = preset_overrides(self.engine_preset)
        overrides["device"] = self.device if self.device in DEVICES else "auto"
        if self.backbone_path:
            overrides.update(backbone="hf-vision", backbone_path=self.backbone_path)
        if self.llm_path:
            overrides["llm_path"] = self.llm_path
        if self.published_config:
            overrides.update(published_overrides(self.published_config))
        # Leave one core to the GUI thread so the window stays fluid while the engine works.
        overrides["num_threads"] = max(1, (os.cpu_count() or 2) - 1)
        return overrides


ENGINE_PRESETS = ("default", "quick")


def preset_overrides(name: str) -> dict[str, Any]:
    """The EngineConfig fields in which preset `name` differs from the default; an unknown name
    (a settings file from another version) gives none, never a failed start."""
    if name not in ENGINE_PRESETS or name == "default":
        return {}
    from anomalygpt_engine.config import EngineConfig, preset

    chosen, default = asdict(preset(name)), asdict(EngineConfig())
    return {key: value for key, value in chosen.items() if value != default[key]}


PUBLISHED_FIELDS = ("model", "imagebind_path", "vicuna_path", "pandagpt_delta_path", "anomalygpt_path",
                    "clip_bpe_path", "published_verdict", "mode")


def published_overrides(path: str) -> dict[str, Any]:
    """The published-model fields of a JSON file; an unreadable file gives none (logged), never a failed start."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable published model config %s: %s", path, exc)
        return {}
    return {k: v for k, v in data.items() if k in PUBLISHED_FIELDS} if isinstance(data, dict) else {}


def settings_path(folder: Path | None = None) -> Path:
    return (folder or user_data_dir()) / SETTINGS_FILE


def load_settings(folder: Path | None = None) -> Settings:
    """Read settings; a missing or damaged file gives defaults (logged), never a failed start."""
    path = settings_path(folder)
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(Settings)}
        return Settings(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring unreadable settings %s: %s", path, exc)
        return Settings()


def save_settings(settings: Settings, folder: Path | None = None) -> Path:
    """Write atomically (temp file + replace) so a crash never leaves half a settings file."""
    path = settings_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
