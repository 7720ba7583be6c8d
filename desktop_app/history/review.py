"""Overrides, reference images and the audit trail: the changes a quality engineer must be able to trace."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_app.history.errors import HistoryError, NotFoundError
from desktop_app.history.models import AuditEvent, Inspection, Override, Product, ReferenceImage, utcnow
from desktop_app.history.queries import NOT_JUDGED


class ReasonCode(str, Enum):
    FALSE_ALARM = "false_alarm"  # engine said NG/REVIEW, the part is good
    MISSED_DEFECT = "missed_defect"  # engine said OK, the part is bad
    REVIEW_RESOLVED = "review_resolved"  # a REVIEW part decided by a person
    ENGINE_ERROR = "engine_error"  # wrong product, bad image, camera fault
    OTHER = "other"


@dataclass(frozen=True)
class ReferenceInfo:
    id: int
    product: str
    sha256: str
    path: str
    width: int
    height: int
    added_by: str
    added_at: dt.datetime
    source_inspection_id: int | None


def audit(session: Session, kind: str, actor: str, subject: str = "", details: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(time=utcnow(), actor=actor, kind=kind, subject=subject, details=details or {}))


def product_by_name(session: Session, name: str) -> Product:
    product = session.scalar(select(Product).where(Product.name == name))
    if product is None:
        raise NotFoundError(f"no product named {name!r}")
    return product


def apply_override(
    session: Session, inspection_id: int, new_verdict: str, reason_code: str, comment: str,
    operator: str, propose_reference: bool,
) -> Override:
    """Record the change; the engine's verdict column stays untouched, `effective_verdict` moves."""
    reason = ReasonCode(reason_code)
    if new_verdict not in ("OK", "REVIEW", "NG"):
        raise HistoryError(f"unknown verdict {new_verdict!r}")
    if not comment.strip():
        raise HistoryError("an override needs a comment saying why")
    if propose_reference and (reason is not ReasonCode.FALSE_ALARM or new_verdict != "OK"):
        raise HistoryError("only a false alarm overridden to OK can become a reference")
    inspection = session.get(Inspection, inspection_id, with_for_update=True)
    if inspection is None:
        raise NotFoundError(f"no inspection {inspection_id}")
    if inspection.verdict in NOT_JUDGED:  # there is no engine verdict to correct
        raise HistoryError(f"inspection {inspection_id} was not judged ({inspection.verdict}): "
                           "inspect the part again instead of overriding")
    if propose_reference and inspection.image_path is None:
        raise HistoryError("this inspection's image was not kept (retention policy); it cannot become a reference")
    change = Override(
        inspection_id=inspection_id, time=utcnow(), operator=operator,
        old_verdict=inspection.effective_verdict, new_verdict=new_verdict, reason_code=reason.value,
        comment=comment, reference_status="proposed" if propose_reference else "none",
    )
    inspection.effective_verdict = new_verdict
    session.add(change)
    session.flush()
    audit(session, "override", operator, f"inspection:{inspection_id}", {
        "override_id": change.id, "from": change.old_verdict, "to": new_verdict,
        "original": inspection.verdict, "reason": reason.value, "comment": comment,
        "propose_reference": propose_reference,
    })
    return change


def add_reference_row(
    session: Session, product: Product, sha256: str, path: str, width: int, height: int,
    actor: str, source_inspection_id: int | None = None,
) -> ReferenceImage:
    ref = ReferenceImage(product_id=product.id, sha256=sha256, path=path, width=width, height=height,
                         added_by=actor, added_at=utcnow(), source_inspection_id=source_inspection_id)
    session.add(ref)
    session.flush()
    audit(session, "reference_added", actor, f"product:{product.name}",
          {"reference_id": ref.id, "sha256": sha256, "source_inspection_id": source_inspection_id})
    return ref


def decide_proposal(session: Session, override_id: int, engineer: str, accept: bool) -> Override:
    change = session.get(Override, override_id, with_for_update=True)
    if change is None:
        raise NotFoundError(f"no override {override_id}")
    if change.reference_status != "proposed":
        raise HistoryError(f"override {override_id} has no open reference proposal ({change.reference_status})")
    change.reference_status = "confirmed" if accept else "rejected"
    change.confirmed_by = engineer
    change.confirmed_at = utcnow()
    if not accept:
        audit(session, "reference_rejected", engineer, f"inspection:{change.inspection_id}",
              {"override_id": override_id})
    return change


def remove_reference_row(session: Session, reference_id: int, actor: str) -> None:
    ref = session.get(ReferenceImage, reference_id)
    if ref is None or ref.removed_at is not None:
        raise NotFoundError(f"no active reference {reference_id}")
    ref.removed_at, ref.removed_by = utcnow(), actor
    product = session.get(Product, ref.product_id)
    audit(session, "reference_removed", actor, f"product:{product.name if product else ref.product_id}",
          {"reference_id": reference_id, "sha256": ref.sha256})


def list_reference_rows(session: Session, product: str, include_removed: bool = False) -> list[ReferenceInfo]:
    stmt = (select(ReferenceImage, Product.name).join(Product, Product.id == ReferenceImage.product_id)
            .where(Product.name == product).order_by(ReferenceImage.id))
    if not include_removed:
        stmt = stmt.where(ReferenceImage.removed_at.is_(None))
    return [
        ReferenceInfo(r.id, name, r.sha256, r.path, r.width, r.height, r.added_by, r.added_at,
                      r.source_inspection_id)
        for r, name in session.execute(stmt)
    ]
