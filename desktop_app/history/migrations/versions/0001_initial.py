"""First schema: products, references, inspections, dialogue, overrides, audit trail.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("retention", sa.String(16), nullable=False),
        sa.Column("sample_rate", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("station", sa.String(100), nullable=False),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("lot", sa.String(100), nullable=True),
        sa.Column("serial", sa.String(100), nullable=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("effective_verdict", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("raw_score", sa.Float, nullable=False),
        sa.Column("boundary", sa.Float, nullable=False),
        sa.Column("raw_boundary", sa.Float, nullable=True),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("region_count", sa.Integer, nullable=False),
        sa.Column("image_width", sa.Integer, nullable=False),
        sa.Column("image_height", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("engine_version", sa.String(50), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("nearest_reference", sa.Integer, nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=True),
        sa.Column("image_path", sa.String(300), nullable=True),
        sa.Column("heatmap_sha256", sa.String(64), nullable=True),
        sa.Column("heatmap_path", sa.String(300), nullable=True),
    )
    op.create_index("ix_inspections_time", "inspections", ["time"])
    op.create_index("ix_inspections_score", "inspections", ["score"])
    op.create_index("ix_inspections_lot", "inspections", ["lot"])
    op.create_index("ix_inspections_serial", "inspections", ["serial"])
    op.create_index("ix_inspections_product_time", "inspections", ["product_id", "time"])
    op.create_index("ix_inspections_verdict_time", "inspections", ["effective_verdict", "time"])
    op.create_index("ix_inspections_operator_time", "inspections", ["operator", "time"])
    op.create_table(
        "reference_images",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("source_inspection_id", sa.Integer, sa.ForeignKey("inspections.id"), nullable=True),
        sa.Column("removed_at", sa.DateTime, nullable=True),
        sa.Column("removed_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_reference_images_product_id", "reference_images", ["product_id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
    )
    op.create_index("ix_chat_messages_inspection_id", "chat_messages", ["inspection_id"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id"), nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("old_verdict", sa.String(8), nullable=False),
        sa.Column("new_verdict", sa.String(8), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("reference_status", sa.String(12), nullable=False),
        sa.Column("confirmed_by", sa.String(100), nullable=True),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_overrides_inspection_id", "overrides", ["inspection_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_events_time", "audit_events", ["time"])
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])


def downgrade() -> None:
    for table in ("audit_events", "overrides", "chat_messages", "reference_images", "inspections", "products"):
        op.drop_table(table)
