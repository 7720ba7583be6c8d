"""EngineWorker: the one QObject that owns the Engine, living on one persistent QThread.

The GUI thread never calls the engine. `EngineClient` (desktop_app/client.py, GUI side) turns method calls into queued
signals, so requests run one after another in the worker thread; results, progress, streamed tokens
and errors come back as signals. Cancelling is a request-id watermark the GUI thread writes and the
worker reads between steps (an int assignment, atomic under the GIL), so a cancel reaches a batch
that is already running and also the requests still queued behind it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from anomalygpt_engine import Engine, EngineConfig, EngineError, InspectionResult, ReferenceSet, load_image
from anomalygpt_engine.expert.session import expert_chat
from anomalygpt_engine.lot import MIN_LOT, LotResult
from anomalygpt_engine.types import DECISION_BOUNDARY
from desktop_app.history.queries import ERROR, NO_IMAGE
from desktop_app.history.recorder import StationRecorder, Trace
from desktop_app.streams import StationStreams

log = logging.getLogger(__name__)
_ids = itertools.count(1)
LOT_SIZE = 100  # parts per lot in a folder batch: evidence enough, memory and time bounded
_threads: list[QThread] = []  # every QThread the station starts, so tests can prove none outlives its owner


def next_id() -> int:
    """Ids for requests and inspections alike: unique in the process, never reused."""
    return next(_ids)


def running_threads() -> list[QThread]:
    """QThreads started by desktop_app that are still running (tests assert this is empty)."""
    alive = []
    for thread in list(_threads):
        try:
            if thread.isRunning():
                alive.append(thread)
        except RuntimeError:  # C++ object already deleted: certainly not running
            _threads.remove(thread)
    return alive


def register_thread(thread: QThread) -> QThread:
    _threads.append(thread)
    return thread


@dataclass(frozen=True)
class InspectionRecord:
    """One inspection as the GUI and the history store see it."""

    id: int
    image: np.ndarray
    result: InspectionResult
    product: str
    source: str  # "file", "camera", "batch", "hot folder", ...
    path: Path | None = None
    timestamp: float = field(default_factory=time.time)
    history_key: int | str | None = None  # history row id (or spool uid); None when not recorded

    @property
    def name(self) -> str:
        return self.path.name if self.path else f"{self.source} #{self.id}"


class PartLabels(Protocol):
    """Which part this is, as the line tells it (desktop_app.line.messages.PartContext has these)."""

    part_id: str
    serial: str
    lot: str


def part_labels(part: PartLabels | None) -> dict[str, str | None]:
    """The recorder's keyword arguments for a part's labels; empty ones are None (not given)."""
    if part is None:
        return {}
    return {key: (getattr(part, key, "") or None) for key in ("part_id", "serial", "lot")}


def history_source(source: str, path: Path | None) -> str:
    """Where a history row says the part came from: its file, else the source; an explicit
    re-inspection is marked as such."""
    where = str(path or source)
    return f"re-inspection: {where}" if source == "re-inspection" else where


def trace_for(engine: Engine, refs: ReferenceSet) -> Trace:
    """What judged a part with these references: engine models with hashes, the set's fingerprint."""
    from anomalygpt_engine import __version__
    from anomalygpt_engine.identity import reference_set_digest, short_name

    identity = engine.identity()
    calibrated = dt.datetime.fromtimestamp(refs.created_at, dt.timezone.utc) if refs.created_at else None
    return Trace(
        engine_version=__version__, models=identity, model_version=short_name(identity),
        boundary=DECISION_BOUNDARY, raw_boundary=float(refs.calibration.boundary),
        reference_fingerprint=reference_set_digest(refs), calibrated_at=calibrated,
    )


class EngineWorker(QObject):
    """Runs in the worker thread; every slot is reached through a queued connection."""

    loadProgress = Signal(str)
    ready = Signal(str)  # device description
    loadFailed = Signal(str)
    progress = Signal(int, int, int, str)  # request, done, total, message
    referencesReady = Signal(int, str, object)  # request, product, ReferenceSet
    inspected = Signal(int, object)  # request, InspectionRecord
    batchFinished = Signal(int, int, bool)  # request, images inspected, cancelled
    token = Signal(int, int, str)  # request, inspection id, text piece
    chatFinished = Signal(int, int, bool)  # request, inspection id, cancelled
    error = Signal(int, str)  # request (0 = none), readable message
    done = Signal(int, object)  # request, return value of a run() call

    def __init__(
        self,
        config: EngineConfig | None = None,
        engine: Engine | None = None,
        recorder: StationRecorder | None = None,
        catalog: Any | None = None,
    ) -> None:
        super().__init__()
        self._config = config or EngineConfig()
        self.engine = engine
        self.recorder = recorder  # the station's one recorder: every record and chat turn
        self.catalog = catalog  # the station's one product catalog: calibrated sets are saved there
        self.cancel_upto = 0  # requests with id <= this are cancelled; written by the GUI thread
        self.cancelled_ids: set[int] = set()  # single requests cancelled by the GUI thread
        self._results: OrderedDict[int, tuple[InspectionResult, ReferenceSet, np.ndarray]] = OrderedDict()
        self._sessions: dict[int, Any] = {}
        self._keys: dict[int, int | str] = {}  # inspection id -> history key, for its chat turns
        self._traces: dict[int, tuple[ReferenceSet, Trace]] = {}  # id(refs) -> trace, one per set
        self.lot_evidence = False  # folder batches as lots: the station sets it from its settings
        self.streams: StationStreams | None = None  # stream evidence per product, when switched on
        self._dialogue_started = False  # the first dialogue loads the language model (slow, said so)

    def _cancelled(self, request: int) -> bool:
        return request <= self.cancel_upto or request in self.cancelled_ids

    # -- start-up -------------------------------------------------------------------------
    @Slot()
    def load(self) -> None:
        """Create the engine and load its encoder once (the slow part of start-up)."""
        try:
            if self.engine is None:
                self.loadProgress.emit("Creating the inspection engine…")
                self.engine = Engine(self._config)
            self.loadProgress.emit("Loading the image encoder…")
            _ = self.engine.encoder
            self.ready.emit(str(self.engine.device))
        except Exception as exc:  # a broken model must become a message, not a dead thread
            log.exception("engine load failed")
            self.loadFailed.emit(f"Could not load the inspection engine: {exc}")

    # -- references -----------------------------------------------------------------------
    @Slot(int, str, object, str, bool)
    def build_references(self, request: int, product: str, paths: Sequence[Path], description: str,
                         save: bool) -> None:
        """Calibrate; with `save`, store the set in the catalog here, so the product's stamp
        changes before the GUI hears that the set is ready."""
        try:
            images = []
            for index, path in enumerate(paths):
                self.progress.emit(request, 0, len(paths), f"Reading reference {index + 1}/{len(paths)}")
                images.append(load_image(path))
            generator = self.engine.build_references_iter(images, product, description)
            while True:
                if self._cancelled(request):
                    self.error.emit(request, f"Calibration of {product!r} cancelled")
                    return
                try:
                    step = next(generator)
                except StopIteration as stop:
                    refs = stop.value
                    break
                self.progress.emit(request, step.done, step.total, step.message)
            if save and self.catalog is not None:
                self.catalog.save_calibrated(product, refs)
            self.referencesReady.emit(request, product, refs)
        except EngineError as exc:
            self.error.emit(request, f"Calibration of {product!r} failed: {exc}")
        except Exception as exc:
            log.exception("build_references")
            self.error.emit(request, f"Calibration of {product!r} failed unexpectedly: {exc}")

    # -- inspection -----------------------------------------------------------------------
    def _inspect_one(self, request: int, item: np.ndarray | Path, refs: ReferenceSet, source: str,
                     part: PartLabels | None = None) -> bool:
        """Inspect one image or file; errors become messages and the caller carries on."""
        path = None if isinstance(item, np.ndarray) else Path(item)
        try:
            image = item if path is None else load_image(path)
        except EngineError as exc:  # nothing to judge: recorded as NO IMAGE, then told to the GUI
            self._fail(request, NO_IMAGE, str(exc), refs, source, path, part)
            return False
        try:
            stream = self.streams.stream_for(refs) if self.streams is not None else None
            result = self.engine.inspect(image, refs, stream=stream)
            if stream is not None:
                self.streams.saved(refs.product)
        except EngineError as exc:
            self._fail(request, ERROR, str(exc), refs, source, path, part)
            return False
        except Exception as exc:
            log.error("inspection failed: %s", traceback.format_exc())
            self._fail(request, ERROR, f"Inspection failed: {exc}", refs, source, path, part)
            return False
        self._deliver(request, result, image, refs, source, path, part)
        return True

    def _fail(self, request: int, verdict: str, message: str, refs: ReferenceSet, source: str,
              path: Path | None, part: PartLabels | None = None) -> None:
        """A part that was not judged joins the history (verdict, reason, file) before the GUI
        hears of it, so the history list that refreshes on the message already holds its row."""
        problem = None
        if self.recorder is not None:
            where = history_source(source, path)
            reason = message
            if path is not None and message.startswith(f"{path}: "):
                reason = message[len(f"{path}: "):]  # the file is in `source` already
            try:
                recorded = self.recorder.record_failure(verdict, reason, product=refs.product, source=where,
                                                        trace=self._safe_trace(refs), **part_labels(part))
                problem = recorded.problem
            except Exception as exc:
                log.warning("history recording of a failure failed: %s", exc)
                problem = str(exc)
        self.error.emit(request, message)
        if problem:  # after the failure, so its own status line does not hide it
            self.error.emit(0, f"Could not record the failed inspection in history: {problem}")

    def _safe_trace(self, refs: ReferenceSet) -> Trace | None:
        """The trace when it can be had; a failure record must not fail for want of one."""
        try:
            return self._trace(refs)
        except Exception as exc:
            log.warning("no trace for a failure record: %s", exc)
            return None

    def _deliver(self, request: int, result: InspectionResult, image: np.ndarray, refs: ReferenceSet,
                 source: str, path: Path | None, part: PartLabels | None = None) -> None:
        """Record a result, keep it for the chat, and hand it to the GUI."""
        key, problem = self._record(result, image, history_source(source, path), refs, part)
        record = InspectionRecord(next_id(), image, result, refs.product, source, path, history_key=key)
        self._results[record.id] = (result, refs, image)
        if key is not None:
            self._keys[record.id] = key
        while len(self._results) > 200:  # keep memory bounded; chat needs only recent ones
            old, _ = self._results.popitem(last=False)
            self._sessions.pop(old, None)
            self._keys.pop(old, None)
        self.inspected.emit(request, record)
        if problem:  # after the result, so the result's own status line does not hide it
            self.error.emit(0, f"Could not record the inspection in history: {problem}")

    def _trace(self, refs: ReferenceSet) -> Trace:
        cached = self._traces.get(id(refs))
        if cached is None or cached[0] is not refs:
            if len(self._traces) > 16:
                self._traces.clear()
            cached = self._traces[id(refs)] = (refs, trace_for(self.engine, refs))
        return cached[1]

    def _record(self, result: InspectionResult, image: np.ndarray, source: str, refs: ReferenceSet,
                part: PartLabels | None = None) -> tuple[int | str | None, str | None]:
        """Hand the result to the one recorder: (history key, problem to show); a late record is a
        status line, never a lost inspection."""
        if self.recorder is None:
            return None, None
        try:
            recorded = self.recorder.record_inspection(result, image, source=source, trace=self._trace(refs),
                                                       **part_labels(part))
        except Exception as exc:  # the station keeps inspecting even if the store refuses
            log.warning("history recording failed: %s", exc)
            return None, str(exc)
        return recorded.key, recorded.problem or None

    @Slot(int, object, object, str, object)
    def inspect(self, request: int, item: object, refs: ReferenceSet, source: str,
                part: PartLabels | None = None) -> None:
        """`part`: what the line said about the part (PLC trigger), recorded with it; None otherwise."""
        if not self._cancelled(request):
            self._inspect_one(request, item, refs, source, part)

    @Slot(int, object, object, str)
    def inspect_batch(self, request: int, items: Sequence[object], refs: ReferenceSet, source: str) -> None:
        """Inspect many files in order; progress after each; stops at the next image on cancel.

        With lot evidence on, files go in lots of up to LOT_SIZE parts and each lot's own scores teach
        its boundary (Engine.inspect_lot, calibration.lot_boundary)."""
        if self.lot_evidence and len(items) >= MIN_LOT:
            done = self._inspect_lots(request, items, refs, source)
            self.batchFinished.emit(request, done, done < len(items))
            return
        done = 0
        total = len(items)
        for index, item in enumerate(items):
            if self._cancelled(request):
                break
            self._inspect_one(request, item, refs, source)
            done = index + 1
            self.progress.emit(request, done, total, f"Inspected {done}/{total}")
        self.batchFinished.emit(request, done, done < total)

    def _inspect_lots(self, request: int, items: Sequence[object], refs: ReferenceSet, source: str) -> int:
        """Lot-evidence batch; returns how many files were handled (unreadable ones count, as messages)."""
        handled = 0
        for start in range(0, len(items), LOT_SIZE):
            chunk = items[start : start + LOT_SIZE]
            loaded: list[tuple[np.ndarray, Path | None]] = []
            for item in chunk:
                path = None if isinstance(item, np.ndarray) else Path(item)
                try:
                    loaded.append((item if path is None else load_image(path), path))
                except EngineError as exc:
                    self._fail(request, NO_IMAGE, str(exc), refs, source, path)
            lot_steps = 0
            delivered: set[int] = set()
            try:
                for step in self.engine.inspect_lot([image for image, _ in loaded], refs):
                    if self._cancelled(request):
                        return handled + lot_steps
                    if isinstance(step, LotResult):
                        image, path = loaded[step.index]
                        self._deliver(request, step.result, image, refs, source, path)
                        delivered.add(step.index)
                        lot_steps += 1
                        self.progress.emit(request, handled + len(chunk) - len(loaded) + lot_steps, len(items),
                                           f"Inspected {handled + lot_steps}/{len(items)} (lot evidence)")
                    else:
                        self.progress.emit(request, handled, len(items),
                                           f"Lot {start // LOT_SIZE + 1}: {step.message}")
            except EngineError as exc:
                self._fail_lot(request, str(exc), loaded, delivered, refs, source)
            except Exception as exc:
                log.error("lot inspection failed: %s", traceback.format_exc())
                self._fail_lot(request, str(exc), loaded, delivered, refs, source)
            handled += len(chunk)
        return handled

    def _fail_lot(self, request: int, reason: str, loaded: Sequence[tuple[np.ndarray, Path | None]],
                  delivered: set[int], refs: ReferenceSet, source: str) -> None:
        """A lot that fails as a whole still leaves each of its unjudged parts an ERROR row and an
        error count, exactly as a single failed inspection does; one message per part says which."""
        for index, (_image, path) in enumerate(loaded):
            if index in delivered:
                continue
            name = path.name if path is not None else f"part {index + 1} of the lot"
            self._fail(request, ERROR, f"Lot inspection failed ({name}): {reason}", refs, source, path)

    # -- small jobs ------------------------------------------------------------------------
    @Slot(int, object)
    def run_call(self, request: int, function: Callable[[Engine], Any]) -> None:
        """Run `function(engine)` here (file IO, loading a reference set) and send back its value."""
        try:
            value = function(self.engine)
        except Exception as exc:
            log.exception("background call failed")
            self.error.emit(request, str(exc))
            return
        self.done.emit(request, value)

    # -- dialogue ---------------------------------------------------------------------------
    @Slot(int, int, str)
    def ask(self, request: int, inspection_id: int, question: str) -> None:
        """Stream the answer to one question about one inspection, token by token."""
        cancelled = False
        pieces: list[str] = []
        session = None
        asked_at = dt.datetime.now(dt.timezone.utc)
        try:
            session = self._sessions.get(inspection_id)
            if session is None:
                if inspection_id not in self._results:
                    raise EngineError("this inspection is no longer in memory; inspect the image again")
                if not hasattr(self.engine, "chat"):
                    raise EngineError("the dialogue model is not available in this build")
                result, refs, image = self._results[inspection_id]
                first = not self._dialogue_started
                if first:  # the first session loads the language model: 10-15 s with nothing to show
                    self.progress.emit(request, 0, 0, self._dialogue_loading_text())
                # the expert session (issue 14): types, shape, colour and the engineer's disposition rules
                session = expert_chat(self.engine, result, refs, image, self._knowledge(refs))
                self._sessions[inspection_id] = session
                if first:
                    self._dialogue_started = True
                    self.progress.emit(request, 1, 1, "Writing the answer…")
            for piece in session.ask(question):
                if self._cancelled(request):
                    cancelled = True
                    session.cancel()
                    break
                pieces.append(piece)
                self.token.emit(request, inspection_id, piece)
        except EngineError as exc:
            self.error.emit(request, f"Chat: {exc}")
        except Exception as exc:
            log.exception("chat failed")
            self.error.emit(request, f"Chat failed: {exc}")
        cancelled = cancelled or self._cancelled(request)
        if session is not None:
            self._record_turn(inspection_id, question, "".join(pieces).strip(), session, cancelled, asked_at)
        self.chatFinished.emit(request, inspection_id, cancelled)

    def _llm_configured(self) -> bool:
        """Whether a dialogue model is configured at all (llm='none' answers from templates)."""
        config = getattr(self.engine, "config", None)
        return str(getattr(config, "llm", "")).lower() != "none"

    def _dialogue_loading_text(self) -> str:
        if self._llm_configured():
            return "Loading the language model (first answer only, 10–15 s)…"
        return "Preparing the answer (no language model configured: answers from the findings)…"

    def _knowledge(self, refs: ReferenceSet | None) -> Any | None:
        """The product's knowledge from the station's catalog, read when a dialogue starts; None when the
        catalog has none (or cannot read it): the assistant then says no rule covers disposition."""
        getter = getattr(self.catalog, "knowledge", None)
        product = getattr(refs, "product", None)
        if getter is None or not product:
            return None
        try:
            return getter(product)
        except Exception as exc:  # a product unknown to the catalog or an unreadable file: answer without it
            log.warning("product knowledge of %r not read: %s", product, exc)
            return None

    def _record_turn(self, inspection_id: int, question: str, answer: str, session: Any, cancelled: bool,
                     asked_at: dt.datetime) -> None:
        """The turn joins the inspection's record as soon as its answer ends (before the GUI hears)."""
        key = self._keys.get(inspection_id)
        if self.recorder is None or key is None:
            return
        model = session.language_model.name if getattr(session, "language_model", None) else "templates"
        try:
            self.recorder.record_turn(key, question, answer, model=model, cancelled=cancelled, asked_at=asked_at)
        except Exception as exc:
            log.warning("chat turn not recorded: %s", exc)
            self.error.emit(0, f"Could not record the conversation in history: {exc}")
