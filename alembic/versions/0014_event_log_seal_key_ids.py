"""Name the key that sealed each claim event, and seal its recorded_at too.

Rows sealed before this revision have no key id; they still verify (their seal covers the hash only). Rows sealed
from now on carry `seal_kid`, and their seal covers the hash and `recorded_at`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim_events") as batch:
        batch.add_column(sa.Column("seal_kid", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_events") as batch:
        batch.drop_column("seal_kid")
