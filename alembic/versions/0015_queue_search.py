"""The queue's columns: who must decide a claim awaiting approval, and the claimant keyed for search.

`deciding_role` is filled by each claim's next event while it awaits approval. `claimant_masked`, `name_key` and
`phone_key` are filled at registration; claims registered before this revision show no claimant in the queue and
are found by claim number or policy, not by name or phone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("deciding_role", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("claimant_masked", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("name_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_claims_name_key", ["name_key"])
        batch.create_index("ix_claims_phone_key", ["phone_key"])


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_phone_key")
        batch.drop_index("ix_claims_name_key")
        batch.drop_column("phone_key")
        batch.drop_column("name_key")
        batch.drop_column("claimant_masked")
        batch.drop_column("deciding_role")
