"""The line's part id on each inspection: a PLC-triggered part arrives with part id, serial and lot
(issue 16); lot and serial had columns since 0001, the part id (the fixture's or carrier's id, which
is not the serial) gets one here, indexed like the serial so a part is found by either.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("part_id", sa.String(100), nullable=True))
    op.create_index("ix_inspections_part_id", "inspections", ["part_id"])


def downgrade() -> None:
    op.drop_index("ix_inspections_part_id", table_name="inspections")
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("part_id")
