"""StationCatalog: the station's one product catalog, used by the reference manager, calibration,
"mark as good", "confirm as reference" and the history.

Products and their reference images live in the folder repository (the calibrated sets beside
them); every change is checked against the logged-in operator's role and written to the history's
audit trail under that operator, and renames reach the history's product rows, so the history and
the references never disagree about what a product is called. Deleting a product removes its
references, not its history: past inspections stay readable under the old name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from anomalygpt_engine import ReferenceSet
from desktop_app.history.operators import ENGINEER, Operator
from desktop_app.references import FolderReferenceRepository, ProductInfo

log = logging.getLogger(__name__)


class StationCatalog:
    """A `ReferenceRepository` over the folder catalog, with roles and an audit trail."""

    def __init__(self, folder: FolderReferenceRepository, operator: Callable[[], Operator],
                 recorder: Any | None = None) -> None:
        self.folder = folder
        self._operator = operator
        self.recorder = recorder  # StationRecorder, or None when the station keeps no history

    @property
    def root(self) -> Path:
        return self.folder.root

    def _require_engineer(self, action: str) -> None:
        self._operator().require(ENGINEER, action)

    def _audit(self, kind: str, product: str, details: dict[str, Any] | None = None) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.audit(kind, f"product:{product}", details)
        except Exception as exc:  # the change is made; a missing audit line is logged, not fatal
            log.warning("audit %s for %s not written: %s", kind, product, exc)

    # -- reading ---------------------------------------------------------------------------
    def products(self) -> list[ProductInfo]:
        return self.folder.products()

    def product(self, name: str) -> ProductInfo:
        return self.folder.product(name)

    def load_calibrated(self, name: str) -> ReferenceSet | None:
        return self.folder.load_calibrated(name)

    # -- products (engineers) --------------------------------------------------------------
    def create_product(self, name: str, description: str = "") -> ProductInfo:
        self._require_engineer("creating a product")
        info = self.folder.create_product(name, description)
        store = self._store()
        if store is not None and info.name not in {p.name for p in store.list_products()}:
            # the history's row (retention policy) exists from the start; the store audits the creation
            store.create_product(info.name, description=description, actor=self._operator().name)
        else:
            self._audit("product_created", info.name, {"description": description})
        return info

    def _store(self):  # type: ignore[no-untyped-def]
        return self.recorder.store if self.recorder is not None else None

    # -- retention of inspection images (engineers; kept in the history) --------------------
    def retention(self, name: str) -> tuple[str, float]:
        """(policy, sample rate) of the product's inspection images: all | ng_only | sample."""
        store = self._store()
        if store is None or name not in {p.name for p in store.list_products()}:
            return "all", 0.1
        info = store.get_product(name)
        return info.retention, info.sample_rate

    def set_retention(self, name: str, retention: str, sample_rate: float = 0.1) -> None:
        self._require_engineer("changing what the history keeps")
        self.folder.product(name)  # a product of this catalog, or ReferenceSetError
        store = self._store()
        if store is None:
            raise OSError("the history database is not available")
        if name not in {p.name for p in store.list_products()}:
            store.create_product(name, description=self.folder.product(name).description,
                                 actor=self._operator().name)
        store.update_product(name, actor=self._operator().name, retention=retention, sample_rate=sample_rate)

    def rename_product(self, old: str, new: str) -> ProductInfo:
        self._require_engineer("renaming a product")
        info = self.folder.rename_product(old, new)
        store = self._store()
        if store is not None:
            store.rename_product(old, info.name, actor=self._operator().name)  # audited by the store
        return info

    def delete_product(self, name: str) -> None:
        self._require_engineer("deleting a product")
        count = self.folder.product(name).n_references
        self.folder.delete_product(name)
        self._audit("product_deleted", name, {"references": count, "history_kept": True})

    def knowledge(self, name: str):
        return self.folder.knowledge(name)

    def set_knowledge(self, name: str, knowledge) -> None:
        """Product knowledge and disposition rules (issue 14): engineers only, audited."""
        self._require_engineer("editing product knowledge")
        self.folder.set_knowledge(name, knowledge)
        self._audit("product_knowledge", name, {"rules": knowledge.rules_text, "types": knowledge.defect_types})

    def set_description(self, name: str, description: str) -> ProductInfo:
        self._require_engineer("changing a product description")
        before = self.folder.product(name).description
        info = self.folder.set_description(name, description)
        if before != description:
            self._audit("product_changed", name, {"description": description})
        return info

    # -- references (engineers) ------------------------------------------------------------
    def add_reference_files(self, name: str, paths: Sequence[Path]) -> list[Path]:
        self._require_engineer("adding references")
        added = self.folder.add_reference_files(name, paths)
        self._audit("reference_added", name, {"files": [p.name for p in added]})
        return added

    def add_reference_image(self, name: str, image_rgb: np.ndarray, source_inspection_id: int | None = None) -> Path:
        self._require_engineer("adding a reference")
        path = self.folder.add_reference_image(name, image_rgb)
        if source_inspection_id is None:
            self._audit("reference_added", name, {"file": path.name})
        else:  # the history already holds the confirmation; this names the file it became
            self._audit("reference_confirmed", name, {"file": path.name, "source_inspection_id": source_inspection_id})
        return path

    def remove_reference(self, name: str, path: Path) -> None:
        self._require_engineer("removing a reference")
        self.folder.remove_reference(name, path)
        self._audit("reference_removed", name, {"file": Path(path).name})

    # -- calibration (automatic after any change; audited, not gated) ----------------------
    def save_calibrated(self, name: str, refs: ReferenceSet) -> None:
        self.folder.save_calibrated(name, refs)
        info = self.folder.product(name)
        when = dt.datetime.fromtimestamp(info.calibrated_at, dt.timezone.utc).isoformat(timespec="seconds") \
            if info.calibrated_at else None
        self._audit("calibrated", name, {"references": info.n_references, "calibrated_at": when,
                                         "raw_boundary": round(float(refs.calibration.boundary), 6)})
