"""Parts that could not be inspected: an unreadable image (NO IMAGE) or a failed inspection (ERROR)
is a row of the record too, with the reason in `error`, so a shift's history shows every part that
reached the station and not only the judged ones.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("error")
