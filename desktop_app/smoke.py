"""`--smoke-test`: drive the real station through start-up and a demo inspection, then quit.

CI and the installer run this to prove that a build really starts: models load, the demo product
calibrates, every demo image is inspected by the worker and the window renders the last result.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop_app.references import demo_samples_dir

TIMEOUT_S = 240


class SmokeTest(QObject):
    """exit_code: 0 ok, 1 engine failed to load, 2 inspection failed, 3 timed out."""

    def __init__(self, station, app: QApplication) -> None:
        super().__init__(app)
        self.station, self.app = station, app
        self.exit_code = 3
        self.started = time.perf_counter()
        self.verdicts: list[str] = []
        controller = station.controller
        controller.productReady.connect(self._inspect_demo)
        controller.batchDone.connect(self._finish)
        controller.inspectionDone.connect(
            lambda r: self.verdicts.append(f"{r.name}: {r.result.verdict.value} {r.result.score:.2f}")
        )
        station.client.worker.loadFailed.connect(self._load_failed)
        QTimer.singleShot(TIMEOUT_S * 1000, lambda: self._fail(3, f"timed out after {TIMEOUT_S} s"))
        self._asked = False

    def _inspect_demo(self, product: str) -> None:
        if self._asked:
            return
        self._asked = True
        print(
            f"smoke: product {product!r} ready after {time.perf_counter() - self.started:.1f} s", flush=True
        )
        if self.station.controller.inspect_folder(demo_samples_dir() / "test") is None:
            self._fail(2, "demo images could not be queued")

    def _finish(self, done: int, cancelled: bool) -> None:
        for line in self.verdicts:
            print(f"smoke: {line}", flush=True)
        if done == 0 or cancelled or len(self.verdicts) != done:
            self._fail(2, f"inspected {len(self.verdicts)} of {done} images")
            return
        self.station.window.grab()  # renders the window once with the last result
        print(
            f"smoke: OK, {done} images inspected, {time.perf_counter() - self.started:.1f} s in all",
            flush=True,
        )
        self.exit_code = 0
        self.app.quit()

    def _load_failed(self, message: str) -> None:
        self._fail(1, message)

    def _fail(self, code: int, message: str) -> None:
        if self.exit_code == 0:
            return
        print(f"smoke: FAILED ({message})", flush=True)
        self.exit_code = code
        self.app.quit()
