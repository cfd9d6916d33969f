"""What each claim still owes back on its recoveries, on the claims read model (worklists and the daily report).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.add_column(sa.Column("recovery_outstanding", sa.Numeric(15, 2), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.drop_column("recovery_outstanding")
