"""Test-wide settings: Qt renders offscreen; torch uses the machine's two cores predictably."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Qt's critical and fatal messages go straight to the terminal, past pytest's capture: when Qt
    aborts the process (qFatal), its reason is otherwise lost with the captured output."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key

        fd = config.stash.get(fault_handler_stderr_fd_key, None)
    except ImportError:
        fd = None
    if fd is None:
        return
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def report(kind: QtMsgType, context, message: str) -> None:  # type: ignore[no-untyped-def]
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            try:
                os.write(fd, f"\nQt {kind.name}: {message}\n".encode("utf-8", "replace"))
            except OSError:
                pass

    qInstallMessageHandler(report)
