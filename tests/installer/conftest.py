"""Installer tests build a ~1 GB bundle (minutes of CPU): they run only when asked to.

    ANOMALYGPT_RUN_SLOW=1 python -m pytest -m slow tests/installer
    ANOMALYGPT_BUNDLE=installer/dist/anomalygpt-inspector ANOMALYGPT_RUN_SLOW=1 python -m pytest -m slow tests/installer

The second form tests an existing bundle instead of building one.
"""
from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("ANOMALYGPT_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="builds the PyInstaller bundle (minutes, ~1 GB): set ANOMALYGPT_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and "installer" in str(item.fspath):
            item.add_marker(skip)
