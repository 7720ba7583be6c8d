"""Composition root: settings, reference repository, history, worker, sources, window, controller."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from dataclasses import fields

from PySide6.QtCore import QObject

from desktop_app.gc_pin import GuiThreadCollector

log = logging.getLogger(__name__)


def default_operator_for(settings):  # type: ignore[no-untyped-def]
    """Who works at the station until someone logs in (a plant without logins keeps this one)."""
    from desktop_app.history.operators import Operator, default_operator

    name = settings.default_operator.strip() or default_operator().name
    role = settings.default_role if settings.default_role in ("inspector", "engineer") else "inspector"
    return Operator(name, role)


def engine_config(settings):
    """EngineConfig from the user's settings, keeping only fields this engine version knows."""
    from anomalygpt_engine import EngineConfig

    known = {f.name for f in fields(EngineConfig)}
    return EngineConfig().with_changes(**{k: v for k, v in settings.engine_overrides().items() if k in known})


class Station(QObject):
    """Everything one running station owns; `shutdown()` stops every thread and saves the layout.

    A QObject on purpose: worker signals connected to its methods are then queued into the GUI
    thread (a plain Python receiver would run them in the worker thread).
    """

    def _configure_evidence(self) -> None:
        """Lot evidence for folder batches and stream evidence per product, as the settings say."""
        from desktop_app.paths import user_data_dir
        from desktop_app.streams import StationStreams

        worker = self.client.worker
        worker.lot_evidence = self.settings.lot_evidence
        worker.streams = (StationStreams(engine_config(self.settings), user_data_dir() / "streams")
                          if self.settings.stream_evidence else None)

    def __init__(self, settings=None, engine=None, record_history: bool = True) -> None:
        super().__init__()
        from desktop_app.capture import CameraSource, HotFolderWatcher
        from desktop_app.catalog import StationCatalog
        from desktop_app.client import EngineClient
        from desktop_app.controller import InspectionController
        from desktop_app.main_window import MainWindow
        from desktop_app.references import FolderReferenceRepository
        from desktop_app.settings import load_settings

        self.settings = settings or load_settings()
        self.operator = default_operator_for(self.settings)
        self.history = None  # the one recorder (and through it the one HistoryStore) of this process
        if record_history:
            from desktop_app.history.recorder import StationRecorder

            self.history = StationRecorder(os.environ.get("COMPUTERNAME") or os.uname().nodename,
                                           operator=self.operator)
        # the one product catalog: reference manager, calibration, confirmations and history use it
        self.repo = StationCatalog(FolderReferenceRepository(), lambda: self.operator, self.history)
        self.client = EngineClient(engine_config(self.settings), engine, recorder=self.history, catalog=self.repo)
        self._configure_evidence()
        self.camera = CameraSource()
        self.hot_folder = HotFolderWatcher()
        self.window = MainWindow(self.repo)
        self.controller = InspectionController(
            self.window, self.client, self.repo, self.settings, self.camera, self.hot_folder
        )
        self.window.controls.opacity.setValue(self.settings.heatmap_opacity)
        self._progress = None
        self._stopped = False
        self.collector = GuiThreadCollector(self)  # see gc_pin.py: collections only in the GUI thread
        self.window.action("settings").triggered.connect(self.edit_settings)
        self.window.action("login").triggered.connect(self.ask_login)
        self.login_dialog = None
        self.history_tab = None
        self.review = None  # the review workspace: the history browser in a window of its own
        if record_history:
            from desktop_app.widgets.history_tab import HistoryTab
            from desktop_app.widgets.review_window import ReviewWindow

            self.review = ReviewWindow(self.history, self.window)
            self.history_tab = HistoryTab(self.history, review=self.review)
            self.history_tab.browserCreated.connect(self._wire_browser)
            self.window.add_side_tab(self.history_tab, "History")
            self.window.tabs.currentChanged.connect(self._tab_changed)
            self.window.action("review").triggered.connect(self.review.open_workspace)
            # every part the worker recorded, judged or not, reaches the open table while it runs
            self.controller.inspectionDone.connect(lambda _record: self.review.note_change())
            self.controller.inspectionFailed.connect(lambda _message: self.review.note_change())
            self.controller.chatEnded.connect(lambda _inspection: self.review.note_change())
        else:
            self.window.action("review").setEnabled(False)
        self.window.apply_role(self.operator.name, self.operator.is_engineer)
        self._hot_folder_rearmed = False
        self.controller.productReady.connect(self._rearm_hot_folder)
        self.window.controls.hotFolderToggled.connect(lambda _on: self._remember_hot_folder())
        from desktop_app.line_bridge import attach_line

        self.line = attach_line(self)  # PLC (OPC UA), results to MQTT, GigE camera: off until configured

    # -- operators -------------------------------------------------------------------------
    def ask_login(self):  # type: ignore[no-untyped-def]
        """Open the login dialog (window-modal, not blocking); an accepted login takes over the station."""
        from desktop_app.widgets.login_dialog import LoginDialog

        self.login_dialog = LoginDialog(self.settings.engineer_pin_hash, "", self.window)
        self.login_dialog.accepted.connect(lambda: self.log_in(self.login_dialog.operator))
        self.login_dialog.open()
        return self.login_dialog

    def log_in(self, operator) -> None:  # type: ignore[no-untyped-def]
        """Every later record, turn, override and audit event carries this operator."""
        self.operator = operator
        if self.history is not None:
            self.history.log_in(operator)
        self.window.apply_role(operator.name, operator.is_engineer)
        if self.history_tab is not None and self.history_tab.browser is not None:
            self.history_tab.browser.refresh_operator()
        self.window.show_message(f"{operator.name} logged in as {operator.role}")

    def _wire_browser(self, browser) -> None:  # type: ignore[no-untyped-def]
        browser.referenceConfirmed.connect(
            lambda product, inspection_id: self.controller.confirm_reference(product, inspection_id, browser.store)
        )
        browser.exported.connect(
            lambda path, rows: self.window.show_message(f"Exported {rows:,} inspections to {path}"))

    def start(self, show: bool = True) -> None:
        """Show the window, load the models in the worker behind a progress dialog, open the product."""
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QProgressDialog

        from desktop_app.references import ensure_demo_product

        demo = ensure_demo_product(self.repo.folder)  # installing the demo is the station's, not an operator's
        self.window.resize(1600, 1000)
        self.window.restore_layout(self.settings.window_geometry, self.settings.window_state)
        if show:
            self.window.show()
        self._progress = QProgressDialog("Loading the inspection models…", "", 0, 0, self.window)
        self._progress.setWindowTitle("Starting AnomalyGPT Inspector")
        self._progress.setCancelButton(None)
        self._progress.setWindowModality(Qt.WindowModality.WindowModal)
        self._progress.setMinimumDuration(300)
        worker = self.client.worker
        worker.loadProgress.connect(self._progress.setLabelText)
        worker.ready.connect(self._on_ready)
        worker.loadFailed.connect(self._on_load_failed)
        self.window.show_message(
            "Starting: loading models…" + (f"  (first run: added {demo})" if demo else "")
        )
        self.collector.start()
        self.client.start()
        if self.settings.require_login:
            self.ask_login()

    def _on_ready(self, device: str) -> None:
        self._close_progress()
        self.window.device_label.setText(f"Engine on {device}")
        names = [p.name for p in self.repo.products()]
        wanted = self.settings.current_product if self.settings.current_product in names else None
        self.window.controls.set_products(names, wanted)
        self.window.references.refresh(select=wanted)
        if wanted or names:
            self.controller.activate_product(wanted or names[0])
        else:
            self.window.banner.show_ready("Create a product in the Reference sets tab")

    def _rearm_hot_folder(self, _product: str) -> None:
        """Once, when the first product is ready (a file then finds references to judge it): the hot
        folder watched when the station last stopped is watched again."""
        if self._hot_folder_rearmed:
            return
        self._hot_folder_rearmed = True
        if self.settings.hot_folder_on:
            self.controller.rearm_hot_folder()

    def _remember_hot_folder(self) -> None:
        """The operator's on/off is saved at once, so a crash or power cut keeps it too."""
        if not self._hot_folder_rearmed and not self.hot_folder.is_watching:
            return  # start-up: nothing switched yet; keep the stored choice for the re-arm
        watching = self.hot_folder.is_watching
        if watching == self.settings.hot_folder_on:
            return
        self.settings = self.controller.settings = self.settings.with_changes(hot_folder_on=watching)
        from desktop_app.settings import save_settings

        try:
            save_settings(self.settings)
        except OSError as exc:
            self.window.show_message(f"Could not save settings: {exc}")

    def _tab_changed(self, index: int) -> None:
        if self.history_tab is not None and self.window.tabs.widget(index) is self.history_tab:
            self.history_tab.activate()

    def edit_settings(self) -> None:
        """Camera and hot folder apply at once; device and model paths at the next start."""
        from desktop_app.settings import save_settings
        from desktop_app.widgets.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.window)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_settings(dialog.result_settings())
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.window.show_message(f"Could not save settings: {exc}")

    def apply_settings(self, settings) -> None:
        engine_changed = settings.engine_overrides() != self.settings.engine_overrides()
        evidence_changed = (settings.lot_evidence, settings.stream_evidence) != (
            self.settings.lot_evidence, self.settings.stream_evidence)
        self.settings = self.controller.settings = settings
        if evidence_changed:  # plain attribute swaps the worker reads between parts
            self._configure_evidence()
        self.window.controls.hot_label.setText(settings.hot_folder or "No hot folder set (File ▸ Settings)")
        if self.hot_folder.is_watching:  # restart on the new folder only when asked to
            self.window.controls.hot_button.setChecked(False)
        if engine_changed:
            self.window.show_message("Device, detail and model changes apply at the next start")

    def _on_load_failed(self, message: str) -> None:
        self._close_progress()
        self.window.banner.show_ready("Engine not loaded")
        self.window.show_message(message)

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def shutdown(self, save: bool = True) -> None:
        """Idempotent: stop timers, the camera, the hot folder and the worker; save settings."""
        if self._stopped:
            return
        self._stopped = True
        from desktop_app.settings import save_settings

        self._close_progress()
        self.controller.continuous.stop()
        hot_folder_on = self.hot_folder.is_watching  # re-armed at the next start
        self.hot_folder.stop()
        self.camera.stop()
        self.line.shutdown()
        self.client.stop()
        if self.client.worker.streams is not None:  # the worker thread has stopped: safe to touch
            self.client.worker.streams.save_all()
        if self.history is not None:
            self.history.close()
        self.collector.stop()
        if save:
            geometry, state = self.window.layout_state()
            self.settings = self.settings.with_changes(
                window_geometry=geometry,
                window_state=state,
                current_product=self.controller.product or "",
                hot_folder_on=hot_folder_on,
                heatmap_opacity=self.window.controls.opacity.value(),
            )
            try:
                save_settings(self.settings)
            except OSError as exc:
                log.warning("could not save settings: %s", exc)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="anomalygpt-inspector", description="AnomalyGPT Inspector station")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="start the real app offscreen, inspect the demo product, exit 0 on success",
    )
    parser.add_argument("--data-dir", help="user data folder (default: per-user; env ANOMALYGPT_DATA_DIR)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.data_dir:
        os.environ["ANOMALYGPT_DATA_DIR"] = args.data_dir
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        if "ANOMALYGPT_DATA_DIR" not in os.environ:  # never touch the user's own products in a check
            os.environ["ANOMALYGPT_DATA_DIR"] = tempfile.mkdtemp(prefix="anomalygpt-smoke-")
    from PySide6.QtWidgets import QApplication

    from desktop_app.widgets.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AnomalyGPT Inspector")
    app.setOrganizationName("AnomalyGPT")
    apply_theme(app)
    station = Station()
    app.aboutToQuit.connect(station.shutdown)
    smoke = None
    if args.smoke_test:
        from desktop_app.smoke import SmokeTest

        smoke = SmokeTest(station, app)
    station.start()
    code = app.exec()
    station.shutdown()
    if smoke is not None:
        return smoke.exit_code
    return code
