"""Complaints as the reports see them: one row per complaint, moved at each milestone by its workflow.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(length=64), primary_key=True),
        sa.Column("claim_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("handler", sa.String(length=64), nullable=True),
        sa.Column("complex", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("root_cause", sa.String(length=64), nullable=True),
        sa.Column("breached", sa.JSON(), nullable=False),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_complaints_received_at", "complaints")
    op.drop_table("complaints")
