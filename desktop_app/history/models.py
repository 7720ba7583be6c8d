"""SQLAlchemy 2.0 models of the quality record; the schema itself is owned by alembic migrations."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: SQLite drops time zones, PostgreSQL keeps them."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous on a multi-station record; pass aware UTC")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Product(Base):
    """A part type; its retention policy decides which inspections keep their image files."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str] = mapped_column(String(16), default="all")  # all | ng_only | sample
    sample_rate: Mapped[float] = mapped_column(Float, default=0.1)  # OK parts kept under "sample"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferenceImage(Base):
    """One normal reference of a product; removal is a timestamp so the audit trail stays whole."""

    __tablename__ = "reference_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), nullable=True)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    removed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Inspection(Base):
    """One verdict with everything needed to defend it later; `verdict` is never rewritten."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_product_time", "product_id", "time"),
        Index("ix_inspections_verdict_time", "effective_verdict", "time"),
        Index("ix_inspections_operator_time", "operator", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # idempotent retries, crash recovery
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    station: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    source: Mapped[str] = mapped_column(String(500), default="")
    lot: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    serial: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    # The line's part id (fixture / carrier / PLC id of the part; migration 0004); None off the line.
    part_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    verdict: Mapped[str] = mapped_column(String(8))  # the engine's original verdict, or NO IMAGE / ERROR
    effective_verdict: Mapped[str] = mapped_column(String(8))  # after the latest override
    score: Mapped[float] = mapped_column(Float, index=True)
    raw_score: Mapped[float] = mapped_column(Float, default=0.0)
    boundary: Mapped[float] = mapped_column(Float, default=0.5)  # calibrated decision boundary
    raw_boundary: Mapped[float | None] = mapped_column(Float, nullable=True)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    region_count: Mapped[int] = mapped_column(Integer, default=0)
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(20), default="fewshot")
    engine_version: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str] = mapped_column(String(200))
    nearest_reference: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What judged the part: backbone, decoder / prompt learner weights with hashes, LLM (migration 0002).
    models: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reference_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    calibrated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    image_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    heatmap_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heatmap_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Why nothing was judged (verdict NO IMAGE or ERROR; migration 0003); None for judged parts.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    product: Mapped[Product] = relationship(lazy="select")
    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="inspection", order_by="ChatMessage.id", lazy="raise"
    )
    overrides: Mapped[list[Override]] = relationship(order_by="Override.id", lazy="raise")


class ChatMessage(Base):
    """One turn of the dialogue about an inspection, kept verbatim."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)  # who answered (assistant turns)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)  # answer stopped by the operator
    operator: Mapped[str | None] = mapped_column(String(100), nullable=True)  # who asked

    inspection: Mapped[Inspection] = relationship(back_populates="messages")


class Override(Base):
    """An inspector's verdict change; `reference_status` tracks false-alarm reference proposals."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    operator: Mapped[str] = mapped_column(String(100))
    old_verdict: Mapped[str] = mapped_column(String(8))
    new_verdict: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    # none | proposed | confirmed | rejected
    reference_status: Mapped[str] = mapped_column(String(12), default="none")
    confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEvent(Base):
    """Append-only trail of changes that alter how parts are judged."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
