"""Who read decrypted payloads through the codec server: one row per request.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "codec_decodes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("namespace", sa.String(length=200), nullable=False),
        sa.Column("payloads", sa.Integer(), nullable=False),
        sa.Column("through", sa.String(length=20), nullable=False),
    )
    op.create_index("ix_codec_decodes_at", "codec_decodes", ["at"])


def downgrade() -> None:
    op.drop_index("ix_codec_decodes_at", table_name="codec_decodes")
    op.drop_table("codec_decodes")
