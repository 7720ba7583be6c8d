"""Where things live: bundled resources (source tree or PyInstaller) and the per-user data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "AnomalyGPT Inspector"
DATA_DIR_ENV = "ANOMALYGPT_DATA_DIR"


def resources_dir() -> Path:
    """The `resources/` folder: next to the package in a checkout, under sys._MEIPASS when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def demo_samples_dir() -> Path:
    """License-clean BSData ball-screw images that make a fresh install usable without a camera."""
    return resource("samples", "ballscrew")


def user_data_dir() -> Path:
    """Per-user writable folder for settings, reference sets and history; ANOMALYGPT_DATA_DIR overrides.

    Plain platform rules, no QApplication needed, and the same folder the history store uses.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if os.name == "nt":
        return Path(os.environ.get("APPDATA") or Path.home()) / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "anomalygpt-inspector"
