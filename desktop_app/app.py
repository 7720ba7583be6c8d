"""Composition root. A placeholder window until the desktop-station issue lands."""
from __future__ import annotations

import argparse


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="anomalygpt-inspector")
    parser.add_argument("--smoke-test", action="store_true", help="start offscreen, then exit 0")
    args = parser.parse_args(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([])
    window = QLabel("AnomalyGPT Inspector")
    window.resize(800, 500)
    window.show()
    if args.smoke_test:
        QTimer.singleShot(0, app.quit)
    return app.exec()
