"""Reference-set manager: products, their normal reference images, description, calibration status.

Edits go through the ReferenceRepository interface; anything that needs the engine (recalibrating,
grabbing a camera frame, marking the current image good) is a signal for the controller.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from anomalygpt_engine import EngineError
from desktop_app.history.errors import HistoryError
from desktop_app.references import ProductInfo, ReferenceRepository
from desktop_app.widgets.knowledge_editor import KnowledgeEditor

THUMB = QSize(132, 96)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"


def thumbnail(path: Path, size: QSize = THUMB) -> QIcon:
    """Decode at thumbnail size (QImageReader scales while decoding, cheap even for big JPEGs)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid():
        reader.setScaledSize(original.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    return QIcon(QPixmap.fromImage(reader.read()))


class ReferenceManager(QWidget):
    """Panel that edits products; emits what needs the controller."""

    productsChanged = Signal()  # list of products changed (create, rename, delete)
    referencesChanged = Signal(str)  # a product's references changed: recalibrate it
    recalibrateRequested = Signal(str)
    addFromCameraRequested = Signal(str)
    markGoodRequested = Signal(str)

    def __init__(self, repository: ReferenceRepository, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.repo = repository
        self.calibrating: dict[str, str] = {}  # product -> "calibrating… N %" while the station calibrates it
        self.editable = True  # engineers edit reference sets; inspectors only look
        self.products = QListWidget()
        self.products.setObjectName("productList")
        self.products.currentTextChanged.connect(self._show_product)
        self.products.setMaximumHeight(130)
        self.status = QLabel()
        self.status.setObjectName("calibrationStatus")
        self.status.setWordWrap(True)
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText(
            "What the part is and what defects look like; used in the chat prompts."
        )
        self.description.setMaximumHeight(78)
        self.knowledge = KnowledgeEditor()
        self.knowledge.saveRequested.connect(self._save_knowledge)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListView.ViewMode.IconMode)
        self.thumbs.setIconSize(THUMB)
        self.thumbs.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbs.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.thumbs.setSpacing(6)
        buttons = {}
        for key, text in [
            ("new", "New…"),
            ("rename", "Rename…"),
            ("delete", "Delete"),
            ("save_desc", "Save description"),
            ("files", "Add files…"),
            ("camera", "Add from camera"),
            ("good", "Mark current good"),
            ("remove", "Remove selected"),
            ("recalibrate", "Recalibrate"),
        ]:
            buttons[key] = QPushButton(text)
        self.buttons = buttons
        buttons["new"].clicked.connect(self._new)
        buttons["rename"].clicked.connect(self._rename)
        buttons["delete"].clicked.connect(self._delete)
        buttons["save_desc"].clicked.connect(self._save_description)
        buttons["files"].clicked.connect(self._add_files)
        buttons["camera"].clicked.connect(lambda: self._emit_for_current(self.addFromCameraRequested))
        buttons["good"].clicked.connect(lambda: self._emit_for_current(self.markGoodRequested))
        buttons["remove"].clicked.connect(self._remove_selected)
        buttons["recalibrate"].clicked.connect(lambda: self._emit_for_current(self.recalibrateRequested))
        product_row = QHBoxLayout()
        for key in ("new", "rename", "delete"):
            product_row.addWidget(buttons[key])
        ref_grid = QGridLayout()
        for index, key in enumerate(("files", "camera", "good", "remove", "recalibrate", "save_desc")):
            ref_grid.addWidget(buttons[key], index // 2, index % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self._caption("Products"))
        layout.addWidget(self.products)
        layout.addLayout(product_row)
        layout.addWidget(self.status)
        layout.addWidget(self._caption("Description"))
        layout.addWidget(self.description)
        layout.addWidget(self._caption("Product knowledge"))
        layout.addWidget(self.knowledge)
        layout.addWidget(self._caption("Normal references"))
        layout.addWidget(self.thumbs, 1)
        layout.addLayout(ref_grid)
        self.refresh()

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setObjectName("sectionCaption")
        return label

    # -- display ---------------------------------------------------------------------------
    def set_calibrating(self, name: str, text: str | None) -> None:
        """The station says a product is being calibrated (or no longer): its status line says so."""
        if text is None:
            self.calibrating.pop(name, None)
        else:
            self.calibrating[name] = text
        if self.current_product() == name:  # the status line only: thumbnails are not read again
            self._show_status(self.repo.product(name))

    def _show_status(self, info: ProductInfo) -> None:
        calibrating = self.calibrating.get(info.name)
        self.status.setText(self.status_text(info) if calibrating is None else
                            f"<b>{info.n_references}</b> references  ·  "
                            f"<span style='color:#ffb74d'>{calibrating}</span>")

    def current_product(self) -> str | None:
        item = self.products.currentItem()
        return item.text() if item else None

    def refresh(self, select: str | None = None) -> None:
        select = select or self.current_product()
        self.products.blockSignals(True)
        self.products.clear()
        for info in self.repo.products():
            self.products.addItem(info.name)
        self.products.blockSignals(False)
        matches = self.products.findItems(select, Qt.MatchFlag.MatchExactly) if select else []
        if matches:
            self.products.setCurrentItem(matches[0])
        elif self.products.count():
            self.products.setCurrentRow(0)
        self._show_product(self.current_product() or "")

    def _show_product(self, name: str) -> None:
        self.thumbs.clear()
        has = bool(name)
        for button in self.buttons.values():
            button.setEnabled(self.editable and (has or button is self.buttons["new"]))
        if not has:
            self.status.setText("No product yet: create one with New…")
            self.description.setPlainText("")
            self.knowledge.show_knowledge(None)
            return
        info = self.repo.product(name)
        reader = getattr(self.repo, "knowledge", None)
        self.knowledge.show_knowledge(reader(name) if reader else None)
        self.description.setPlainText(info.description)
        self._show_status(info)
        for path in info.reference_paths:
            item = QListWidgetItem(thumbnail(path), "")
            item.setToolTip(path.name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.thumbs.addItem(item)

    @staticmethod
    def status_text(info: ProductInfo) -> str:
        if info.is_calibrated:
            when = dt.datetime.fromtimestamp(info.calibrated_at).strftime("%Y-%m-%d %H:%M")
            calibrated = f"<span style='color:#81c784'>calibrated {when}</span>"
            return f"<b>{info.n_references}</b> references  ·  {calibrated}"
        if info.n_references == 0:
            return "<span style='color:#ffb74d'>No references: add normal (good) images</span>"
        return f"<b>{info.n_references}</b> references  ·  <span style='color:#ffb74d'>calibration due</span>"

    # -- actions ---------------------------------------------------------------------------
    def set_editable(self, editable: bool) -> None:
        self.editable = editable
        self.description.setReadOnly(not editable)
        self.knowledge.set_editable(editable)
        self._show_product(self.current_product() or "")

    def _guard(self, action) -> bool:
        try:
            action()
            return True
        except (EngineError, OSError, HistoryError) as exc:
            QMessageBox.warning(self, "Reference sets", str(exc))
            return False

    def _save_knowledge(self) -> None:
        name = self.current_product()
        if not name or not hasattr(self.repo, "set_knowledge"):
            return
        knowledge = self.knowledge.knowledge(self.description.toPlainText().strip())
        if self._guard(lambda: self.repo.set_knowledge(name, knowledge)):
            self.knowledge.saved(knowledge)

    def _emit_for_current(self, signal) -> None:
        if self.current_product():
            signal.emit(self.current_product())

    def _new(self) -> None:
        name, ok = QInputDialog.getText(self, "New product", "Product name:")
        if ok and name.strip() and self._guard(lambda: self.repo.create_product(name.strip())):
            self.refresh(select=name.strip())
            self.productsChanged.emit()

    def _rename(self) -> None:
        old = self.current_product()
        new, ok = QInputDialog.getText(self, "Rename product", "New name:", text=old or "")
        if old and ok and new.strip() and new.strip() != old:
            if self._guard(lambda: self.repo.rename_product(old, new.strip())):
                self.refresh(select=new.strip())
                self.productsChanged.emit()

    def _delete(self) -> None:
        name = self.current_product()
        answer = QMessageBox.question(self, "Delete product", f"Delete {name!r} and all its references?")
        if (
            name
            and answer == QMessageBox.StandardButton.Yes
            and self._guard(lambda: self.repo.delete_product(name))
        ):
            self.refresh()
            self.productsChanged.emit()

    def _save_description(self) -> None:
        name = self.current_product()
        if name and self._guard(
            lambda: self.repo.set_description(name, self.description.toPlainText().strip())
        ):
            self.productsChanged.emit()

    def _add_files(self) -> None:
        name = self.current_product()
        paths, _ = QFileDialog.getOpenFileNames(self, "Add normal reference images", "", IMAGE_FILTER)
        if name and paths:
            self.add_files(name, [Path(p) for p in paths])

    def add_files(self, name: str, paths: list[Path]) -> None:
        if self._guard(lambda: self.repo.add_reference_files(name, paths)):
            self.refresh(select=name)
            self.referencesChanged.emit(name)

    def _remove_selected(self) -> None:
        name = self.current_product()
        chosen = [Path(item.data(Qt.ItemDataRole.UserRole)) for item in self.thumbs.selectedItems()]
        if name and chosen:
            for path in chosen:
                self._guard(lambda p=path: self.repo.remove_reference(name, p))
            self.refresh(select=name)
            self.referencesChanged.emit(name)
