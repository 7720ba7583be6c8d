"""Products, reference images, overrides and audit on HistoryStore (kept apart to keep files short)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from desktop_app.history import review
from desktop_app.history.database import translate_errors
from desktop_app.history.errors import HistoryError, NotFoundError
from desktop_app.history.files import encode_image_png
from desktop_app.history.models import AuditEvent, Inspection, Override, Product, utcnow
from desktop_app.history.retention import Retention

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from desktop_app.history.files import ContentStore


@dataclass(frozen=True)
class HistoryProduct:
    """A product as the history knows it (retention of its images); the station's catalog is
    desktop_app.catalog.StationCatalog, whose renames this row follows."""

    id: int
    name: str
    description: str
    retention: str
    sample_rate: float


def _info(p: Product) -> HistoryProduct:
    return HistoryProduct(p.id, p.name, p.description, p.retention, p.sample_rate)


class CatalogMixin:
    files: ContentStore

    def _write(self) -> Session: ...  # provided by HistoryStore
    def _read(self) -> Session: ...

    # ---- products --------------------------------------------------------------------------
    def create_product(self, name: str, *, description: str = "", retention: str = "all",
                       sample_rate: float = 0.1, actor: str = "") -> HistoryProduct:
        Retention(retention)
        with translate_errors("creating a product"), self._write() as session:
            product = Product(name=name, description=description, retention=retention,
                              sample_rate=sample_rate, created_at=utcnow())
            session.add(product)
            try:
                session.flush()
            except IntegrityError as exc:
                raise HistoryError(f"product {name!r} already exists") from exc
            review.audit(session, "product_created", actor, f"product:{name}",
                         {"retention": retention, "sample_rate": sample_rate})
            session.commit()
            return _info(product)

    def list_products(self) -> list[HistoryProduct]:
        with self._read() as session:
            return [_info(p) for p in session.scalars(select(Product).order_by(Product.name))]

    def get_product(self, name: str) -> HistoryProduct:
        with self._read() as session:
            return _info(review.product_by_name(session, name))

    def update_product(self, name: str, *, actor: str, **changes: Any) -> HistoryProduct:
        """Change description / retention / sample_rate; every change is audited as a settings change."""
        allowed = {"description", "retention", "sample_rate"}
        if set(changes) - allowed:
            raise HistoryError(f"cannot change {sorted(set(changes) - allowed)}")
        if "retention" in changes:
            Retention(changes["retention"])
        with translate_errors("updating a product"), self._write() as session:
            product = review.product_by_name(session, name)
            before = {k: getattr(product, k) for k in changes}
            for key, value in changes.items():
                setattr(product, key, value)
            review.audit(session, "product_changed", actor, f"product:{name}", {"before": before, "after": changes})
            session.commit()
            return _info(product)

    def delete_product(self, name: str, *, actor: str) -> None:
        """Only a product with no inspections can go: the record of inspected parts is never deleted."""
        with translate_errors("deleting a product"), self._write() as session:
            product = review.product_by_name(session, name)
            used = session.scalar(select(func.count(Inspection.id)).where(Inspection.product_id == product.id))
            if used:
                raise HistoryError(f"product {name!r} has {used} inspections and cannot be deleted")
            session.execute(delete(Product).where(Product.id == product.id))
            review.audit(session, "product_deleted", actor, f"product:{name}")
            session.commit()

    # ---- references ------------------------------------------------------------------------
    def add_reference(self, product: str, image_rgb: np.ndarray, *, actor: str,
                      source_inspection_id: int | None = None) -> int:
        data = encode_image_png(np.asarray(image_rgb))
        stored = self.files.put(data)
        try:
            with translate_errors("adding a reference image"), self._write() as session:
                owner = review.product_by_name(session, product)
                ref = review.add_reference_row(session, owner, stored.sha256, stored.path, image_rgb.shape[1],
                                               image_rgb.shape[0], actor, source_inspection_id)
                session.commit()
                return ref.id
        except BaseException:
            if stored.created:
                self.files.delete(stored.path)
            raise

    def list_references(self, product: str, include_removed: bool = False) -> list[review.ReferenceInfo]:
        with self._read() as session:
            return review.list_reference_rows(session, product, include_removed)

    def load_reference(self, reference: review.ReferenceInfo) -> np.ndarray:
        from desktop_app.history.files import decode_image_png

        return decode_image_png(self.files.read(reference.path))

    def remove_reference(self, reference_id: int, *, actor: str) -> None:
        with translate_errors("removing a reference image"), self._write() as session:
            review.remove_reference_row(session, reference_id, actor)
            session.commit()

    # ---- overrides -------------------------------------------------------------------------
    def override(self, inspection_id: int, new_verdict: str, reason_code: str, comment: str, *,
                 operator: str, propose_reference: bool = False) -> int:
        with translate_errors("overriding a verdict"), self._write() as session:
            change = review.apply_override(session, inspection_id, new_verdict, reason_code, comment,
                                           operator, propose_reference)
            session.commit()
            return change.id

    def reference_proposals(self, product: str | None = None) -> list[dict[str, Any]]:
        """False alarms waiting for an engineer to confirm them as references."""
        stmt = (select(Override, Product.name).join(Inspection, Inspection.id == Override.inspection_id)
                .join(Product, Product.id == Inspection.product_id)
                .where(Override.reference_status == "proposed").order_by(Override.id))
        if product:
            stmt = stmt.where(Product.name == product)
        with self._read() as session:
            return [{"override_id": o.id, "inspection_id": o.inspection_id, "product": name,
                     "operator": o.operator, "comment": o.comment} for o, name in session.execute(stmt)]

    def confirm_reference(self, override_id: int, *, engineer: str) -> int:
        """An engineer accepts a false-alarm image as a new normal reference of its product."""
        with translate_errors("confirming a reference"), self._write() as session:
            change = review.decide_proposal(session, override_id, engineer, accept=True)
            insp = session.get(Inspection, change.inspection_id)
            if insp is None or insp.image_path is None or insp.image_sha256 is None:
                raise NotFoundError(f"inspection {change.inspection_id} has no stored image")
            product = session.get(Product, insp.product_id)
            assert product is not None
            ref = review.add_reference_row(session, product, insp.image_sha256, insp.image_path,
                                           insp.image_width, insp.image_height, engineer, insp.id)
            session.commit()
            return ref.id

    def reject_reference(self, override_id: int, *, engineer: str) -> None:
        with translate_errors("rejecting a reference proposal"), self._write() as session:
            review.decide_proposal(session, override_id, engineer, accept=False)
            session.commit()

    # ---- audit -----------------------------------------------------------------------------
    def audit(self, kind: str, actor: str, subject: str = "", details: dict[str, Any] | None = None) -> None:
        """For the app: settings changes and anything else a quality engineer must be able to trace."""
        with translate_errors("writing the audit trail"), self._write() as session:
            review.audit(session, kind, actor, subject, details)
            session.commit()

    def audit_events(self, kind: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if kind:
            stmt = stmt.where(AuditEvent.kind == kind)
        with self._read() as session:
            return [{c.key: getattr(e, c.key) for c in AuditEvent.__table__.columns} for e in session.scalars(stmt)]

    def rename_product(self, old: str, new: str, *, actor: str) -> None:
        """Follow a rename in the station's catalog: past inspections move to the new name.

        A product the history has never seen (no inspection yet) has no row: nothing to rename.
        """
        with translate_errors("renaming a product"), self._write() as session:
            product = session.scalar(select(Product).where(Product.name == old))
            if product is None:
                return
            if session.scalar(select(Product.id).where(Product.name == new)) is not None:
                raise HistoryError(f"the history already holds a product named {new!r}")
            product.name = new
            review.audit(session, "product_renamed", actor, f"product:{new}", {"from": old, "to": new})
            session.commit()
