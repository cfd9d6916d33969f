"""Letters in the claimant's language, and the short text an SMS carries beside the full letter.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("language", sa.String(length=10), nullable=False, server_default="en"))
        table.add_column(sa.Column("text", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.drop_column("text")
        table.drop_column("language")
