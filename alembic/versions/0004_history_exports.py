"""Closed claims' histories exported to the audit archive, with the date each must be kept until.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "history_exports",
        sa.Column("run_id", sa.String(length=64), primary_key=True),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keep_until", sa.Date(), nullable=False),
    )
    op.create_index("ix_history_exports_workflow_id", "history_exports", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_history_exports_workflow_id", table_name="history_exports")
    op.drop_table("history_exports")
