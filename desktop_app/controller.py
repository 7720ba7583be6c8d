"""InspectionController (GUI thread): sources feed it, it asks the worker, it routes results to views.

Everything here is cheap and GUI-side; model work and file decoding go to the EngineWorker.
"""

from __future__ import annotations

import html
import logging
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from anomalygpt_engine import Engine, EngineError, ReferenceSet, Verdict
from desktop_app.capture import CameraSource, HotFolderWatcher
from desktop_app.client import EngineClient
from desktop_app.controller_sources import SourcesMixin
from desktop_app.main_window import MainWindow
from desktop_app.references import ReferenceRepository
from desktop_app.requests import Request
from desktop_app.settings import Settings
from desktop_app.widgets.verdict_banner import SessionCounts
from desktop_app.worker import InspectionRecord

log = logging.getLogger(__name__)
REINSPECTION = "re-inspection"  # the source of an explicit re-inspection (live record and history)
_PATHLIKE = re.compile(r"^(?P<path>[^:]*[/\\.][^:]*|[A-Za-z]:[^:]*): (?P<reason>.+)$", re.DOTALL)
_LOT_PART = re.compile(r"^Lot inspection failed \((?P<name>[^)]+)\): ")


def describe_failure(message: str, item: object = None) -> tuple[str, str, str]:
    """(banner word, reason, file name) for a failed inspection.

    The engine's image errors read "<path>: <reason>": that is NO IMAGE (nothing to judge);
    anything else (a model or reference failure) is ERROR."""
    match = _PATHLIKE.match(message)
    if match and not message.startswith(("Inspection failed", "Lot inspection failed")):
        return "NO IMAGE", match.group("reason"), Path(match.group("path")).name
    name = Path(item).name if isinstance(item, (str, Path)) else ""
    return "ERROR", message, name


def _load_compatible(repo: ReferenceRepository, name: str, engine: Engine) -> ReferenceSet | None:
    """Runs in the worker: a stored set only counts if the running engine built it."""
    refs = repo.load_calibrated(name)
    return refs if refs is not None and refs.fingerprint == engine.fingerprint() else None


class InspectionController(SourcesMixin, QObject):
    """State of the station: current product and references, image list, counters, pending work."""

    DISPLAY_MS = 150
    productReady = Signal(str)  # references for this product are calibrated and loaded
    recordShown = Signal(object)  # InspectionRecord now on screen
    inspectionDone = Signal(object)  # every InspectionRecord, shown or not (batches coalesce the view)
    inspectionFailed = Signal(str)  # a part not judged (NO IMAGE / ERROR); the worker recorded it already
    chatEnded = Signal(int)  # inspection id whose answer ended (its turn is in the history by now)
    batchDone = Signal(int, bool)

    def __init__(
        self,
        window: MainWindow,
        client: EngineClient,
        repo: ReferenceRepository,
        settings: Settings,
        camera: CameraSource,
        hot_folder: HotFolderWatcher,
    ) -> None:
        super().__init__(window)
        self.window, self.client, self.repo, self.settings = window, client, repo, settings
        self.camera, self.hot_folder = camera, hot_folder
        self.product: str | None = None
        self.refs: ReferenceSet | None = None
        self.counts = SessionCounts()
        self.records: OrderedDict[int, InspectionRecord] = OrderedDict()
        self.failed: dict[Path, str] = {}  # unreadable files of this session -> the message
        self._batch_errors_before = 0
        # What this session inspected, by file: browsing shows these instead of inspecting again.
        self.seen: dict[Path, tuple[int, Verdict]] = {}  # path -> (record id, verdict)
        self.in_flight: set[Path] = set()
        self.current: InspectionRecord | None = None
        self.images: list[Path] = []
        self.index = -1
        self.batch_request: Request | None = None
        self.chat_request: Request | None = None
        self.calibrate_request: Request | None = None  # the newest calibration still running
        self.calibrations: dict[str, Request] = {}  # product -> its running calibration
        self._calibration_percent: dict[str, int] = {}
        self.pending = 0
        self.continuous = QTimer(self)
        self.continuous.timeout.connect(self._continuous_tick)
        # During a batch the view shows the newest result at most every DISPLAY_MS: results may
        # arrive every 30 ms, and repainting the whole window for each would starve the event loop.
        self._latest: InspectionRecord | None = None
        self._display = QTimer(self)
        self._display.setSingleShot(True)
        self._display.setInterval(self.DISPLAY_MS)
        self._display.timeout.connect(self._show_latest)
        self._connect()

    # -- wiring ----------------------------------------------------------------------------
    def _connect(self) -> None:
        w, act = self.window, self.window.action
        self.client.notice.connect(w.show_message)  # worker messages no request owns (history)
        act("capture").triggered.connect(self.capture_or_next)
        act("next").triggered.connect(lambda: self.step(+1))
        act("previous").triggered.connect(lambda: self.step(-1))
        act("reinspect").triggered.connect(self.reinspect)
        act("open_image").triggered.connect(self._open_image_dialog)
        act("inspect_folder").triggered.connect(self._open_folder_dialog)
        act("mark_good").triggered.connect(lambda: self.mark_good(self.product))
        act("cancel").triggered.connect(self.cancel)
        act("camera").triggered.connect(self.toggle_camera)
        act("continuous").toggled.connect(self.set_continuous)
        act("reset_counters").triggered.connect(self.reset_counters)
        c = w.controls
        c.productChosen.connect(self.activate_product)
        c.captureRequested.connect(self.capture_or_next)
        c.cameraToggled.connect(self.toggle_camera)
        c.folderRequested.connect(self._open_folder_dialog)
        c.cancelRequested.connect(self.cancel)
        c.previousRequested.connect(lambda: self.step(-1))
        c.nextRequested.connect(lambda: self.step(+1))
        c.reinspectRequested.connect(self.reinspect)
        c.hotFolderToggled.connect(self.set_hot_folder)
        c.referenceToggled.connect(lambda _on: self._show(self.current) if self.current else None)
        w.counters.resetRequested.connect(self.reset_counters)
        w.chat.askRequested.connect(self.ask)
        w.chat.cancelRequested.connect(self.cancel_chat)
        r = w.references
        r.productsChanged.connect(self.refresh_products)
        r.referencesChanged.connect(self._references_edited)
        r.recalibrateRequested.connect(self.calibrate)
        r.markGoodRequested.connect(self.mark_good)
        r.addFromCameraRequested.connect(self.add_from_camera)
        self.camera.frameReady.connect(c.show_preview)
        self.camera.opened.connect(
            lambda src: (c.set_camera_running(True), w.show_message(f"Camera {src} running"))
        )
        self.camera.failed.connect(self._camera_stopped)
        self.camera.ended.connect(lambda: self._camera_stopped("Camera stream ended"))
        self.hot_folder.fileReady.connect(lambda path: self.inspect(path, "hot folder"))
        self.hot_folder.failed.connect(self._hot_folder_failed)
        self.hot_folder.restored.connect(self._hot_folder_restored)
        c.hot_label.setText(self._hot_folder_text())

    # -- products and references -----------------------------------------------------------
    def refresh_products(self) -> None:
        names = [info.name for info in self.repo.products()]
        if self.product not in names:
            self.product, self.refs = None, None
        self.window.controls.set_products(names, self.product)
        if self.product is None and names:
            self.activate_product(names[0])
        self._show_product_status()

    def activate_product(self, name: str) -> None:
        """Load the product's calibrated set in the worker; calibrate first if it is due."""
        if not name:
            return
        self.product, self.refs = name, None
        self.window.controls.set_products([i.name for i in self.repo.products()], name)
        self.window.references.refresh(select=name)
        self._show_product_status()  # never the previous product's "calibrated" while this one loads
        self.window.show_message(f"Loading {name}…")  # nor the previous product's status line
        self.window.banner.show_busy(f"Loading references of {name}…")
        repo = self.repo
        self.client.run(lambda engine: _load_compatible(repo, name, engine)).success(
            lambda refs: self._on_loaded(name, refs)
        ).failure(self.window.show_message)

    def _on_loaded(self, name: str, refs: ReferenceSet | None) -> None:
        if name != self.product:
            return
        if refs is None:
            if name in self.calibrations:  # already calibrating in the background: its end sets the refs
                self.window.banner.show_busy(f"Calibrating {name}…")
                return
            self.calibrate(name)
        else:
            self._set_refs(name, refs)

    def calibrate(self, name: str) -> None:
        """Calibrate `name` in the worker. The active product shows it on the banner; another
        product (references added while it is not selected) calibrates in the background, so it is
        ready when chosen, and the active one keeps inspecting."""
        info = self.repo.product(name)
        active = name == self.product
        if info.n_references == 0:
            if active:
                self.window.banner.show_ready(f"{name}: add normal reference images to start")
                self.window.show_message(f"{name} has no references yet (Reference sets tab)")
            return
        if active:
            self.window.banner.show_busy(f"Calibrating {name} from {info.n_references} references…")
            self.window.show_message(f"Calibrating {name} from {info.n_references} references (Esc cancels)")
        else:
            self.window.show_message(f"Calibrating {name} in the background from {info.n_references} references; "
                                     f"{self.product or 'the active product'} stays active")
        request = self.client.build_references(name, list(info.reference_paths), info.description, save=True)
        request.progress(lambda done, total, message: self._calibration_progress(name, request, done, total, message))
        request.success(lambda refs: self._on_references_ready(name, request, refs))
        request.failure(lambda message: self._on_calibration_failed(name, request, message))
        self.calibrations[name] = request
        self.calibrate_request = request
        self._calibration_percent[name] = 0
        self.window.controls.show_batch(0, 1, "0 %", cancel="Cancel calibration  (Esc)",
                                        detail=f"Calibrating {name}: starting")
        self._show_calibration_status(name)

    def _calibration_progress(self, name: str, request: Request, done: int, total: int, message: str) -> None:
        """One line that agrees with the bar: the product, the share of the whole calibration, the step."""
        if self.calibrations.get(name) is not request:
            return
        percent = int(100 * done / total) if total else 0
        self._calibration_percent[name] = percent
        self.window.controls.show_batch(done, total, f"{percent} %", cancel="Cancel calibration  (Esc)",
                                        detail=f"Calibrating {name}: {message}")
        self._show_calibration_status(name)

    def _show_calibration_status(self, name: str) -> None:
        """The product status line (and the reference manager's) say 'calibrating', never a stale 'calibrated'."""
        percent = self._calibration_percent.get(name)
        text = None if percent is None else f"calibrating… {percent} %"
        self.window.references.set_calibrating(name, text)
        if name == self.product:
            self._show_product_status()

    def _end_calibration(self, name: str, request: Request) -> bool:
        """Forget a finished calibration; False when a newer one of the same product superseded it."""
        if self.calibrations.get(name) is not request:
            return False
        del self.calibrations[name]
        self._calibration_percent.pop(name, None)
        if self.calibrate_request is request:
            self.calibrate_request = next(reversed(self.calibrations.values()), None)
        if not self.calibrations and self.batch_request is None:
            self.window.controls.hide_batch()
        self.window.references.set_calibrating(name, None)
        return True

    def _on_calibration_failed(self, name: str, request: Request, message: str) -> None:
        if not self._end_calibration(name, request):
            return
        self._show_product_status()
        if name == self.product:
            hint = "  ·  Recalibrate in Reference sets (or choose the product again) to retry"
            self.window.banner.show_ready(message + (hint if "cancelled" in message else ""))
        self.window.show_message(message)

    def _on_references_ready(self, name: str, request: Request, refs: ReferenceSet) -> None:
        if not self._end_calibration(name, request):
            return
        self.window.references.refresh()
        if name == self.product:
            self._set_refs(name, refs)
        else:
            self._show_product_status()
            self.window.show_message(f"{name}: {refs.size} references, calibrated in the background")

    def _set_refs(self, name: str, refs: ReferenceSet) -> None:
        self.refs = refs
        self._show_product_status()
        self.window.banner.show_ready(f"{name}: ready to inspect")
        self.window.show_message(f"{name}: {refs.size} references, calibrated")
        self.productReady.emit(name)

    def _show_product_status(self) -> None:
        if self.product is None:
            self.window.controls.product_status.setText("No product: create one in Reference sets")
            return
        info = self.repo.product(self.product)
        percent = self._calibration_percent.get(self.product)
        if percent is not None:
            text = (f"<b>{info.n_references}</b> references  ·  "
                    f"<span style='color:#ffb74d'>calibrating… {percent} %</span>")
        else:
            text = self.window.references.status_text(info)
        self.window.controls.product_status.setText(text)

    def _references_edited(self, name: str) -> None:
        """Changed references are calibrated at once, for the active product and any other one."""
        self._show_product_status()
        self.calibrate(name)

    def _store_reference(self, name: str | None, image: np.ndarray | None, what: str) -> None:
        if not name or image is None:
            self.window.show_message(f"Nothing to add: no {what}")
            return
        repo = self.repo
        self.client.run(lambda _engine: repo.add_reference_image(name, image)).success(lambda _path: (
            self.window.references.refresh(select=name),
            self._references_edited(name),
            self.window.show_message(f"Added the {what} to {name}'s references"),
        )).failure(self.window.show_message)

    def confirm_reference(self, product: str, inspection_id: int, store) -> None:  # type: ignore[no-untyped-def]
        """A confirmed false alarm joins its product's references; recalibration follows in the worker."""
        repo = self.repo

        def add(_engine: Engine) -> Path:
            image = store.get(inspection_id).image  # the stored, lossless copy of what was inspected
            if image is None:
                raise EngineError(f"inspection {inspection_id} kept no image (retention policy)")
            return repo.add_reference_image(product, image, source_inspection_id=inspection_id)

        self.client.run(add).success(lambda _path: (
            self.window.references.refresh(select=product),
            self._references_edited(product),
            self.window.show_message(f"Inspection #{inspection_id} added to {product}'s references; recalibrating"),
        )).failure(self.window.show_message)

    def mark_good(self, name: str | None) -> None:
        self._store_reference(name, self.current.image if self.current else None, "current image")

    def add_from_camera(self, name: str) -> None:
        self._store_reference(name, self.camera.capture(), "camera frame")

    # -- inspection ------------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.refs is None:
            self.window.show_message(
                "The product is not calibrated yet: wait for calibration or add references"
            )
            return False
        return True

    def inspect(self, item: np.ndarray | Path, source: str, part: object | None = None) -> Request | None:
        """One image; `pending` counts it until its own success or failure, nothing else's.
        `part`: the line's part id / serial / lot (a PLC trigger), recorded with the inspection."""
        if not self._ready():
            return None
        self.pending += 1
        path = Path(item) if isinstance(item, (str, Path)) else None
        if path is not None:
            self.in_flight.add(path)

        def done() -> None:
            self.pending = max(0, self.pending - 1)
            self.in_flight.discard(path)

        return (self.client.inspect(item, self.refs, source, part)
                .success(lambda record: (done(), self._record_arrived(record, batch=False)))
                .failure(lambda message: (done(), self._inspection_failed(message, item))))

    def inspect_paths(self, paths: list[Path], source: str = "batch") -> Request | None:
        """A batch: records arrive one by one, the view shows the newest at most every DISPLAY_MS."""
        if not self._ready():
            return None
        self.window.controls.show_batch(0, len(paths), f"0/{len(paths)}", cancel="Cancel batch  (Esc)")
        self._batch_errors_before = self.counts.errors
        self.batch_request = (self.client.inspect_batch(paths, self.refs, source)
                              .each(lambda record: self._record_arrived(record, batch=True))
                              .progress(self.window.controls.show_batch)
                              .failure(lambda message: self._inspection_failed(
                                  message, self._batch_item(message, paths), batch=True))
                              .success(self._on_batch_finished))
        return self.batch_request

    def cancel(self) -> None:
        """Esc / the Cancel button: the batch, any calibration in progress, and a running answer."""
        if self.batch_request is not None:
            self.client.cancel(self.batch_request)
            self.window.show_message("Cancelling the batch…")
        for name, request in list(self.calibrations.items()):
            self.client.cancel(request)
            self.window.show_message(f"Cancelling the calibration of {name}…")
        if self.chat_request is not None:
            self.cancel_chat()

    def reinspect(self) -> Request | None:
        """The explicit re-inspection of what is on screen (or the list's current file): its new
        result replaces the old one in the counters, and the record is marked as a re-inspection."""
        item: np.ndarray | Path | None = None
        if self.current is not None:
            item = self.current.path if self.current.path is not None else self.current.image
        elif 0 <= self.index < len(self.images):
            item = self.images[self.index]
        if item is None:
            self.window.show_message("Nothing to re-inspect: inspect an image first")
            return None
        return self.inspect(item, REINSPECTION)

    def _replace_count(self, record: InspectionRecord) -> None:
        """A re-inspection takes back the earlier verdict (or error) of the same file."""
        if record.source != REINSPECTION or record.path is None:
            return
        earlier = self.seen.get(record.path)
        if earlier is not None:
            self.counts.add(earlier[1], step=-1)
        elif self.failed.pop(record.path, None) is not None:
            self.counts.errors = max(0, self.counts.errors - 1)

    def _record_arrived(self, record: InspectionRecord, batch: bool) -> None:
        self._replace_count(record)
        if record.path is not None:
            self.seen[record.path] = (record.id, record.result.verdict)
            self.failed.pop(record.path, None)
        self.counts.add(record.result.verdict)
        self.window.counters.show_counts(self.counts)
        self.records[record.id] = record
        while len(self.records) > 200:
            self.records.popitem(last=False)
        self.inspectionDone.emit(record)
        if batch:
            self._latest = record
            if not self._display.isActive():
                self._display.start()
        else:
            self._show(record)
            result = record.result  # replaces any stale line (an earlier error) in the status bar
            wrong = "  (wrong part: not this product)" if getattr(result, "wrong_part", False) else ""
            self.window.show_message(f"{record.name}: {result.verdict.value} {result.score:.2f}{wrong}")

    @staticmethod
    def _batch_item(message: str, paths: list[Path]) -> Path | None:
        """Which file of a batch a failure message is about (the worker names it), so a part that
        failed in a batch is remembered like a single failure: browsing onto it shows it, never re-counts."""
        lot = _LOT_PART.match(message)
        if lot is not None:
            return next((p for p in paths if p.name == lot.group("name")), None)
        match = _PATHLIKE.match(message)
        if match and not message.startswith(("Inspection failed", "Lot inspection failed")):
            path = Path(match.group("path"))
            return path if path in paths else None
        return None

    def _inspection_failed(self, message: str, item: object, batch: bool = False) -> None:
        """Nothing was judged: NO IMAGE / ERROR on the banner (never the last part's verdict),
        counted apart, the reason in the status bar."""
        path = Path(item) if isinstance(item, (str, Path)) else None
        if batch or path is None or path not in self.failed:  # failing again on re-inspection is one error
            self.counts.errors += 1  # (a batch counts each part it handles, as its results are counted)
        if not batch and path is not None and path in self.seen:  # re-inspected, and now it cannot be read
            self.counts.add(self.seen.pop(path)[1], step=-1)
        self.window.counters.show_counts(self.counts)
        if path is not None:
            self.failed[path] = message
        self.window.show_message(message)
        self.inspectionFailed.emit(message)
        if batch and self._display.isActive():
            return  # a batch's newest result is about to be shown; the status bar keeps the error
        self._show_failure(message, item)

    def _show_failure(self, message: str, item: object) -> None:
        word, reason, name = describe_failure(message, item)
        self.window.show_message(message)
        self._latest = None
        self.current = None
        self.window.view.clear(f"<h2>{word}: {html.escape(name or 'not inspected')}</h2>"
                               f"<p>{html.escape(reason)}</p><p>Nothing was judged; the part was not counted "
                               "as OK or NG. Check the file or the camera, then inspect again.</p>")
        self.window.banner.show_error(word, reason, name)
        self.window.chat.show_inspection(None)

    def _show_latest(self) -> None:
        if self._latest is not None:
            record, self._latest = self._latest, None
            self._show(record)

    def _show(self, record: InspectionRecord, recorded: bool = False) -> None:
        self.current = record
        result = record.result
        refs = self.refs if self.refs is not None and self.refs.product == record.product else None
        reference = None
        if refs is not None and result.nearest_reference is not None and result.nearest_reference < refs.size:
            reference = refs.images[result.nearest_reference]
        title = f"{record.name}  ·  {result.image_size[0]}×{result.image_size[1]}"
        self.window.view.show_result(record.image, result, title, reference)
        name = record.name
        if record.source == REINSPECTION:
            name += "  ·  re-inspection"
        if recorded:
            name += "  ·  recorded result"
        self.window.banner.show_result(result, name)
        self.window.chat.show_inspection(record.id, record.name)
        self.recordShown.emit(record)

    def _on_batch_finished(self, done: int, cancelled: bool) -> None:
        self.batch_request = None
        self._display.stop()
        self._show_latest()
        if not self.calibrations:
            self.window.controls.hide_batch()
        state = "cancelled after" if cancelled else "finished:"
        errors = self.counts.errors - self._batch_errors_before
        unreadable = f", {errors} not inspected (unreadable or failed)" if errors else ""
        self.window.show_message(f"Batch {state} {done} image(s) handled{unreadable}")
        self.batchDone.emit(done, cancelled)

    def reset_counters(self) -> None:
        self.counts = SessionCounts()
        self.window.counters.show_counts(self.counts)
        self.failed.clear()
        self.seen.clear()  # a new session: browsing inspects (and counts) again

    # -- chat ------------------------------------------------------------------------------
    def ask(self, inspection_id: int, question: str) -> None:
        chat = self.window.chat
        self.chat_request = (
            self.client.ask(inspection_id, question)
            .each(lambda piece: chat.append_token(inspection_id, piece))
            .progress(lambda _done, _total, message: chat.show_status(inspection_id, message))
            .success(lambda cancelled: self._chat_ended(inspection_id, cancelled))
            .failure(lambda message: self._chat_ended(inspection_id, False, message))
        )

    def cancel_chat(self) -> None:
        if self.chat_request is not None:
            self.client.cancel(self.chat_request)

    def _chat_ended(self, inspection_id: int, cancelled: bool, error: str | None = None) -> None:
        """Every failure ends as a readable line; a chat error also goes into the transcript."""
        self.chat_request = None
        self.window.chat.finish_answer(inspection_id, cancelled, error)
        if error:
            self.window.show_message(error)
        self.chatEnded.emit(inspection_id)
