"""Child process of test_crash_chat.py: the real station inspects one image, asks one question,
prints `answered <history key>` when the answer has ended, then idles until it is killed."""
from __future__ import annotations

import os
import sys


def main(question: str) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from anomalygpt_engine import Engine, EngineConfig
    from desktop_app.app import Station
    from desktop_app.settings import Settings

    app = QApplication(sys.argv[:1])
    station = Station(Settings(), engine=Engine(EngineConfig(llm="none", num_threads=1)), record_history=True)
    controller = station.controller
    shown = {}

    def on_shown(record) -> None:  # type: ignore[no-untyped-def]
        shown["record"] = record
        controller.ask(record.id, question)

    controller.productReady.connect(lambda _name: controller.step(+1))
    controller.recordShown.connect(on_shown)
    station.client.worker.chatFinished.connect(
        lambda *_: print(f"answered {shown['record'].history_key}", flush=True))
    station.start(show=False)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
