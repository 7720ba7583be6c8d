"""EngineClient: the GUI thread's handle on the one EngineWorker and its persistent QThread.

Method calls become queued signals, so requests run one after another in the worker thread; each
returns a `Request` whose own callbacks receive its records, progress, result or failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from anomalygpt_engine import Engine, EngineConfig, ReferenceSet
from desktop_app.history.recorder import StationRecorder
from desktop_app.requests import Request, RequestTable
from desktop_app.worker import EngineWorker, InspectionRecord, next_id, register_thread

log = logging.getLogger(__name__)


class EngineClient(QObject):
    """GUI-side handle: starts the worker thread, sends queued requests, cancels, stops cleanly.

    Every method returns a `Request`; chain its callbacks where the request is made. Worker errors
    that belong to no request (a late history record) arrive as `notice`.
    """

    notice = Signal(str)
    _load = Signal()
    _build = Signal(int, str, object, str, bool)
    _inspect = Signal(int, object, object, str, object)  # ..., part labels (PLC trigger) or None
    _batch = Signal(int, object, object, str)
    _ask = Signal(int, int, str)
    _run = Signal(int, object)

    def __init__(
        self,
        config: EngineConfig | None = None,
        engine: Engine | None = None,
        recorder: StationRecorder | None = None,
        parent: QObject | None = None,
        catalog: Any | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = EngineWorker(config, engine, recorder, catalog)
        self.thread = register_thread(QThread())
        self.thread.setObjectName("EngineWorker")
        self.worker.moveToThread(self.thread)
        for signal, slot in ((self._load, self.worker.load), (self._build, self.worker.build_references),
                             (self._inspect, self.worker.inspect), (self._batch, self.worker.inspect_batch),
                             (self._ask, self.worker.ask), (self._run, self.worker.run_call)):
            signal.connect(slot)
        self.requests = RequestTable()
        w = self.worker  # bound methods of this QObject: queued into the GUI thread
        w.inspected.connect(self._on_inspected)
        w.progress.connect(self._on_progress)
        w.batchFinished.connect(self._on_batch_finished)
        w.referencesReady.connect(self._on_references_ready)
        w.token.connect(self._on_token)
        w.chatFinished.connect(self._on_chat_finished)
        w.done.connect(self._on_done)
        w.error.connect(self._on_error)
        self._last_request = 0

    def _open(self, kind: str) -> Request:
        self._last_request = next_id()
        return self.requests.open(Request(self._last_request, kind))

    # -- dispatch (GUI thread) -------------------------------------------------------------
    def _on_inspected(self, request: int, record: InspectionRecord) -> None:
        self.requests.item(request, record)

    def _on_progress(self, request: int, done: int, total: int, message: str) -> None:
        self.requests.progressed(request, done, total, message)

    def _on_batch_finished(self, request: int, done: int, cancelled: bool) -> None:
        self.requests.succeeded(request, done, cancelled)

    def _on_references_ready(self, request: int, _product: str, refs: ReferenceSet) -> None:
        self.requests.succeeded(request, refs)

    def _on_token(self, request: int, _inspection_id: int, piece: str) -> None:
        self.requests.item(request, piece)

    def _on_chat_finished(self, request: int, _inspection_id: int, cancelled: bool) -> None:
        self.requests.chat_finished(request, cancelled)

    def _on_done(self, request: int, value: object) -> None:
        self.requests.succeeded(request, value)

    def _on_error(self, request: int, message: str) -> None:
        if not self.requests.failed(request, message):
            self.notice.emit(message)

    # -- requests --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread and load the models there; `worker.ready` / `loadFailed` tell the outcome."""
        self.thread.start()
        self._load.emit()

    def build_references(self, product: str, paths: Sequence[Path], description: str = "",
                         save: bool = False) -> Request:
        """Calibrate; with `save` the worker stores the set in the station's catalog before success."""
        request = self._open("build")
        self._build.emit(request, product, list(paths), description, save)
        return request

    def inspect(self, item: np.ndarray | Path, refs: ReferenceSet, source: str = "file",
                part: object | None = None) -> Request:
        """`part`: part id / serial / lot from the line (worker.PartLabels), recorded with the result."""
        request = self._open("inspect")
        self._inspect.emit(request, item, refs, source, part)
        return request

    def inspect_batch(self, items: Sequence[np.ndarray | Path], refs: ReferenceSet, source: str = "batch") -> Request:
        request = self._open("batch")
        self._batch.emit(request, list(items), refs, source)
        return request

    def ask(self, inspection_id: int, question: str) -> Request:
        request = self._open("chat")
        self._ask.emit(request, inspection_id, question)
        return request

    def run(self, function: Callable[[Engine], Any], on_done: Callable[[Any], None] | None = None) -> Request:
        """Anki's QueryOp in small: `function(engine)` in the worker, `.success(value)` back here."""
        request = self._open("run")
        if on_done is not None:
            request.success(on_done)
        self._run.emit(request, function)
        return request

    def cancel(self, request: int | None = None) -> None:
        """Cancel one request, or (None) everything sent so far, running or still queued."""
        if request is None:
            self.worker.cancel_upto = max(self.worker.cancel_upto, self._last_request)
        else:
            self.worker.cancelled_ids.add(int(request))

    def stop(self, timeout_ms: int = 60_000) -> bool:
        """Cancel all work, end the event loop of the thread and wait for it; True when stopped."""
        self.cancel()
        if not self.thread.isRunning():
            return True
        self.thread.quit()
        stopped = self.thread.wait(timeout_ms)
        if not stopped:
            log.error("engine worker did not stop within %d ms", timeout_ms)
        return stopped
