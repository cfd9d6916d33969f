"""Declared catastrophes, and each claim's region and catastrophe.

`catastrophes` holds every declaration (its workflow writes it when declared and when closed); intake reads the
open ones. `claims.region` is the incident's administrative division as reported, `claims.catastrophe` the code of
the catastrophe the claim joined. Claims registered before this revision have neither.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "catastrophes",
        sa.Column("code", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_types", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("declared_by", sa.String(length=64), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
    )
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("region", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("catastrophe", sa.String(length=64), nullable=True))
        batch.create_index("ix_claims_catastrophe", ["catastrophe"])


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_catastrophe")
        batch.drop_column("catastrophe")
        batch.drop_column("region")
    op.drop_table("catastrophes")
