"""The payee's name on a payment is sealed with the payload keys like every other personal datum the service
stores, so its column holds the sealed text (longer than the name).

Rows written before hold the name in the clear; `open_text` reads both, and nothing rewrites them (the database
has no key).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.alter_column("account_holder", existing_type=sa.String(length=200), type_=sa.String(),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("payments") as table:
        table.alter_column("account_holder", existing_type=sa.String(), type_=sa.String(length=200),
                           existing_nullable=False)
