"""Claim and complaint events for other systems: the transactional outbox, each subscriber's place in each
subject's events, the dead letters; on complaints, the clocks warned, the last event's number and the write's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subject", "seq", name="uq_event_outbox_seq"),
    )
    op.create_index("ix_event_outbox_created_at", "event_outbox", ["created_at"])
    op.create_table(
        "event_cursors",
        sa.Column("subscriber", sa.String(length=64), primary_key=True),
        sa.Column("subject", sa.String(length=80), primary_key=True),
        sa.Column("delivered_seq", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("parked", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "event_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_event_dead_letters_subject", "event_dead_letters", ["subject"])
    with op.batch_alter_table("complaints") as table:
        table.add_column(sa.Column("warned", sa.JSON(), nullable=False, server_default="[]"))
        table.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as table:
        table.drop_column("version")
        table.drop_column("event_seq")
        table.drop_column("warned")
    op.drop_index("ix_event_dead_letters_subject", "event_dead_letters")
    op.drop_table("event_dead_letters")
    op.drop_table("event_cursors")
    op.drop_index("ix_event_outbox_created_at", "event_outbox")
    op.drop_table("event_outbox")
