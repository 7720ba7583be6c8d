"""Traceability and operators: model identities, reference-set fingerprint and calibration time on
each inspection; who asked and which model answered on each chat turn.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER columns in place; alembic copies the table when needed.
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("models", sa.JSON, nullable=True))
        batch.add_column(sa.Column("reference_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("calibrated_at", sa.DateTime, nullable=True))
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(sa.Column("model", sa.String(200), nullable=True))
        batch.add_column(sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("operator", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        for column in ("operator", "cancelled", "model"):
            batch.drop_column(column)
    with op.batch_alter_table("inspections") as batch:
        for column in ("calibrated_at", "reference_fingerprint", "models"):
            batch.drop_column(column)
