"""Filters, sorting and paging of inspections as plain SQL SELECTs (columns only: fast on 100k rows)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from desktop_app.history.models import ChatMessage, Inspection, Product

NO_IMAGE, ERROR = "NO IMAGE", "ERROR"
NOT_JUDGED = (NO_IMAGE, ERROR)  # verdicts of parts that reached the station but were not judged

SORT_COLUMNS = {
    "time": Inspection.time,
    "product": Product.name,
    "verdict": Inspection.effective_verdict,
    "score": Inspection.score,
    "operator": Inspection.operator,
    "station": Inspection.station,
    "lot": Inspection.lot,
    "serial": Inspection.serial,
    "part_id": Inspection.part_id,
    "latency": Inspection.latency_ms,
    "source": Inspection.source,
    "id": Inspection.id,
}


@dataclass(frozen=True)
class HistoryFilter:
    """What the browser and the exports select; empty fields do not filter."""

    products: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()  # effective verdicts (after overrides)
    since: dt.datetime | None = None  # inclusive, aware
    until: dt.datetime | None = None  # exclusive, aware
    operator: str | None = None  # exact match
    station: str | None = None
    lot: str | None = None
    serial: str | None = None  # exact: a scanned or typed serial
    part_id: str | None = None  # exact
    text: str | None = None  # substring of any chat message, case-insensitive
    overridden: bool | None = None
    ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class Sort:
    key: str = "time"
    descending: bool = True


@dataclass(frozen=True)
class InspectionRow:
    """One line of the history table."""

    id: int
    uid: str
    time: dt.datetime
    station: str
    operator: str
    product: str
    source: str
    lot: str | None
    serial: str | None
    verdict: str
    effective_verdict: str
    score: float
    region_count: int
    latency_ms: float
    has_image: bool
    # traceability, for the table exports (the detail view and JSON lines show the full identities)
    raw_score: float = 0.0
    boundary: float | None = None
    raw_boundary: float | None = None
    model_version: str = ""
    reference_fingerprint: str | None = None
    calibrated_at: dt.datetime | None = None
    error: str | None = None  # why nothing was judged (verdict NO IMAGE / ERROR)
    part_id: str | None = None  # the line's part id (PLC trigger); None off the line

    @property
    def overridden(self) -> bool:
        return self.verdict != self.effective_verdict

    @property
    def judged(self) -> bool:
        """False for a part the station could not inspect: it has no score, no regions, no override."""
        return self.verdict not in NOT_JUDGED


ROW_COLUMNS = (
    Inspection.id, Inspection.uid, Inspection.time, Inspection.station, Inspection.operator,
    Product.name, Inspection.source, Inspection.lot, Inspection.serial, Inspection.verdict,
    Inspection.effective_verdict, Inspection.score, Inspection.region_count, Inspection.latency_ms,
    Inspection.image_path, Inspection.raw_score, Inspection.boundary, Inspection.raw_boundary,
    Inspection.model_version, Inspection.reference_fingerprint, Inspection.calibrated_at, Inspection.error,
    Inspection.part_id,
)
_TRACE_FIELDS = 8  # the columns after image_path, passed through as they are


def row_from_result(values: Any) -> InspectionRow:
    values = tuple(values)
    *head, image_path = values[:-_TRACE_FIELDS]
    return InspectionRow(*head, image_path is not None, *values[-_TRACE_FIELDS:])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def apply_filter(stmt: Select[Any], flt: HistoryFilter, dialect: str) -> Select[Any]:
    """Add WHERE clauses; callers join Product already when they select its name."""
    if flt.products:
        product_ids = select(Product.id).where(Product.name.in_(flt.products))
        stmt = stmt.where(Inspection.product_id.in_(product_ids))
    if flt.verdicts:
        stmt = stmt.where(Inspection.effective_verdict.in_(flt.verdicts))
    if flt.since is not None:
        stmt = stmt.where(Inspection.time >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Inspection.time < flt.until)
    for column, value in (
        (Inspection.operator, flt.operator), (Inspection.station, flt.station),
        (Inspection.lot, flt.lot), (Inspection.serial, flt.serial), (Inspection.part_id, flt.part_id),
    ):
        if value:
            stmt = stmt.where(column == value)
    if flt.overridden is not None:
        differs = Inspection.verdict != Inspection.effective_verdict
        stmt = stmt.where(differs if flt.overridden else ~differs)
    if flt.ids:
        stmt = stmt.where(Inspection.id.in_(flt.ids))
    if flt.text:
        pattern = f"%{_escape_like(flt.text)}%"
        # SQLite's LIKE is already case-insensitive for ASCII and can skip lower() on every row.
        if dialect == "sqlite":
            match = ChatMessage.text.like(pattern, escape="\\")
        else:
            match = ChatMessage.text.ilike(pattern, escape="\\")
        # One pass over the messages (IN subquery) beats a correlated EXISTS per inspection.
        stmt = stmt.where(Inspection.id.in_(select(ChatMessage.inspection_id).where(match)))
    return stmt


def rows_statement(flt: HistoryFilter, sort: Sort, dialect: str) -> Select[Any]:
    if sort.key not in SORT_COLUMNS:
        raise ValueError(f"unknown sort key {sort.key!r}; choose from {sorted(SORT_COLUMNS)}")
    column = SORT_COLUMNS[sort.key]
    stmt = select(*ROW_COLUMNS).join(Product, Product.id == Inspection.product_id)
    stmt = apply_filter(stmt, flt, dialect)
    order = column.desc() if sort.descending else column.asc()
    tiebreak = Inspection.id.desc() if sort.descending else Inspection.id.asc()
    return stmt.order_by(order, tiebreak)


def count_statement(flt: HistoryFilter, dialect: str) -> Select[Any]:
    return apply_filter(select(func.count(Inspection.id)), flt, dialect)
