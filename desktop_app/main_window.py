"""Main window: layout, docks, actions and shortcuts. No business logic: the controller wires it."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.references import ReferenceRepository
from desktop_app.widgets.chat_pane import ChatPane
from desktop_app.widgets.control_panel import ControlPanel
from desktop_app.widgets.inspection_view import InspectionView
from desktop_app.widgets.reference_manager import ReferenceManager
from desktop_app.widgets.verdict_banner import CountersPanel, VerdictBanner

# name: (menu, text, shortcut)
ACTIONS: dict[str, tuple[str, str, str]] = {
    "open_image": ("File", "Open image…", "Ctrl+O"),
    "inspect_folder": ("File", "Inspect folder…", "Ctrl+Shift+O"),
    "settings": ("File", "Settings…", "Ctrl+,"),
    "login": ("File", "Log in / change operator…", "Ctrl+Shift+L"),
    "quit": ("File", "Quit", "Ctrl+Q"),
    "capture": ("Inspect", "Capture / inspect", "Space"),
    "next": ("Inspect", "Next image", "Right"),
    "previous": ("Inspect", "Previous image", "Left"),
    "reinspect": ("Inspect", "Re-inspect the current image", "Ctrl+I"),
    "mark_good": ("Inspect", "Mark as good (add to references)", "Ctrl+G"),
    "cancel": ("Inspect", "Cancel batch / answer", "Esc"),
    "camera": ("Inspect", "Start / stop camera", "F5"),
    "continuous": ("Inspect", "Continuous camera inspection", "Ctrl+F5"),
    "reset_counters": ("Inspect", "Reset session counters", "Ctrl+Shift+R"),
    "toggle_heatmap": ("View", "Heatmap overlay", "H"),
    "toggle_reference": ("View", "Nearest normal reference", "R"),
    "fit": ("View", "Fit image", "F"),
    "focus_chat": ("View", "Focus chat", "Ctrl+L"),
    "show_references": ("View", "Reference sets", "Ctrl+Shift+M"),
    "review": ("View", "Review workspace (inspection history)…", "Ctrl+R"),
    "about": ("Help", "About AnomalyGPT Inspector…", "F1"),
}

ABOUT_HTML = """<h3>AnomalyGPT Inspector {version}</h3>
<p>Offline visual inspection after AnomalyGPT (AAAI 2024): calibrated OK / REVIEW / NG, heatmaps, chat.</p>
<p><b>Models</b> (embedded, nothing is downloaded): image encoder EfficientNet-Lite0, ImageNet
(Apache-2.0); trained decoder and prompt learner shipped in <code>resources/</code>; language model
SmolLM2-135M-Instruct, GGUF (Apache-2.0). Engine: {engine}.</p>
<p><b>Licences</b>: demo ball-screw images from BSData (CC BY-SA 4.0, Schlagenhauf &amp; Landwehr, KIT);
Qt for Python / PySide6 (LGPLv3); PyTorch (BSD-3-Clause); OpenCV (Apache-2.0). AnomalyGPT's published
weights, when configured, are for non-commercial use only (CC BY-NC-SA 4.0; Vicuna/LLaMA terms).</p>
<p>Keys: Space inspect · Right/Left browse · Ctrl+I re-inspect · Esc cancel · Ctrl+R review · F1 this box.</p>"""


class MainWindow(QMainWindow):
    """The station window at a glance: banner and counters on top, image in the middle, docks."""

    def __init__(self, repository: ReferenceRepository) -> None:
        super().__init__()
        self.setWindowTitle("AnomalyGPT Inspector")
        self.setObjectName("MainWindow")
        self.banner = VerdictBanner()
        self.counters = CountersPanel()
        self.view = InspectionView()
        self.controls = ControlPanel(self.counters)
        self.chat = ChatPane()
        self.references = ReferenceManager(repository)
        self._build_central()
        self._build_docks()
        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()
        self.status_message = QLabel("")
        self.status_message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.device_label = QLabel("")
        self.device_label.setObjectName("deviceLabel")
        self.operator_label = QLabel("")
        self.operator_label.setObjectName("operatorLabel")
        self.statusBar().addWidget(self.status_message, 1)
        self.statusBar().addPermanentWidget(self.operator_label)
        self.statusBar().addPermanentWidget(self.device_label)

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(8)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_dock = QDockWidget("Station", self)
        self.controls_dock.setObjectName("stationDock")
        self.controls_dock.setWidget(scroll)
        self.controls_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.controls_dock)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("rightTabs")
        self.tabs.addTab(self.chat, "Chat")
        self.tabs.addTab(self.references, "Reference sets")
        self.side_dock = QDockWidget("Assistant", self)
        self.side_dock.setObjectName("assistantDock")
        self.side_dock.setWidget(self.tabs)
        self.side_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.side_dock)
        self.resizeDocks([self.controls_dock, self.side_dock], [310, 430], Qt.Orientation.Horizontal)

    def add_side_tab(self, widget: QWidget, title: str) -> None:
        """Where other features (e.g. the history browser) plug in."""
        self.tabs.addTab(widget, title)

    def _build_actions(self) -> None:
        menus = {}
        for name, (menu_name, text, shortcut) in ACTIONS.items():
            menu = menus.get(menu_name) or self.menuBar().addMenu(f"&{menu_name}")
            menus[menu_name] = menu
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if name in ("toggle_heatmap", "toggle_reference", "continuous"):
                action.setCheckable(True)
            menu.addAction(action)
            self.actions_by_name[name] = action
        self.actions_by_name["toggle_heatmap"].setChecked(True)
        self.actions_by_name["quit"].triggered.connect(self.close)
        self.actions_by_name["focus_chat"].triggered.connect(self.focus_chat)
        self.actions_by_name["about"].triggered.connect(self.show_about)
        self.actions_by_name["show_references"].triggered.connect(
            lambda: self.tabs.setCurrentWidget(self.references)
        )
        heat = self.actions_by_name["toggle_heatmap"]
        heat.toggled.connect(self.controls.heatmap.setChecked)
        self.controls.heatmap.toggled.connect(heat.setChecked)
        ref = self.actions_by_name["toggle_reference"]
        ref.toggled.connect(self.controls.reference.setChecked)
        self.controls.reference.toggled.connect(ref.setChecked)
        cont = self.actions_by_name["continuous"]
        cont.toggled.connect(self.controls.continuous.setChecked)
        self.controls.continuous.toggled.connect(cont.setChecked)
        self.controls.heatmapToggled.connect(self.view.set_heatmap_visible)
        self.controls.opacityChanged.connect(self.view.set_heatmap_opacity)
        self.controls.referenceToggled.connect(self.view.set_reference_visible)
        self.controls.fitRequested.connect(self.view.reset_zoom)
        self.actions_by_name["fit"].triggered.connect(self.view.reset_zoom)
        self.view.set_heatmap_opacity(self.controls.opacity.value())

    def apply_role(self, name: str, engineer: bool) -> None:
        """Offer only what the operator's role allows (the catalog and recorder check again)."""
        self.operator_label.setText(f"{name} · {'engineer' if engineer else 'inspector'}")
        self.references.set_editable(engineer)
        for action in ("settings", "mark_good"):
            self.actions_by_name[action].setEnabled(engineer)

    def show_about(self) -> None:
        """Help ▸ About: version, models and licences (non-modal, so the station keeps running)."""
        from PySide6.QtWidgets import QMessageBox

        from anomalygpt_engine import __version__

        engine = self.device_label.text() or "loading"
        self.about_box = QMessageBox(QMessageBox.Icon.Information, "About AnomalyGPT Inspector",
                                     ABOUT_HTML.format(version=__version__, engine=engine), parent=self)
        self.about_box.setTextFormat(Qt.TextFormat.RichText)
        self.about_box.setModal(False)
        self.about_box.show()

    def action(self, name: str) -> QAction:
        return self.actions_by_name[name]

    def focus_chat(self) -> None:
        self.tabs.setCurrentWidget(self.chat)
        self.chat.focus_input()

    def show_message(self, text: str) -> None:
        """Status-bar line; errors from sources and the engine land here, never as a crash."""
        self.status_message.setText(text)
        self.status_message.setToolTip(text)

    # -- layout memory ---------------------------------------------------------------------
    def layout_state(self) -> tuple[str, str]:
        geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        state = bytes(self.saveState().toBase64()).decode("ascii")
        return geometry, state

    def restore_layout(self, geometry: str, state: str) -> None:
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
        if state:
            self.restoreState(QByteArray.fromBase64(state.encode("ascii")))
