"""The Qt binding must keep Python's reference counts: PySide6 6.12.0 lost one reference to None on
every call of some void methods (setChecked, setEnabled, ...), so a station aborted with
"Fatal Python error: none_dealloc" once None's count ran out, after hours of work or a long test
run (CI exit 134). pyproject.toml excludes that release; this test catches the next one like it."""
from __future__ import annotations

import gc
import sys

from PySide6.QtWidgets import QCheckBox, QPushButton

CALLS = 3000


def _none_references_lost(call) -> int:  # type: ignore[no-untyped-def]
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        call()
    gc.collect()
    return before - sys.getrefcount(None)


def test_void_calls_keep_none_alive(qtbot):
    box, button = QCheckBox(), QPushButton()
    qtbot.addWidget(box)
    qtbot.addWidget(button)
    lost = max(_none_references_lost(lambda: box.setChecked(True)),
               _none_references_lost(lambda: button.setEnabled(False)))
    assert lost < CALLS // 10, f"the Qt binding lost {lost} references to None in {CALLS} calls"
