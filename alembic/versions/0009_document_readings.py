"""What machine reading (OCR) found in claim documents.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "document_readings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("engine", sa.String(length=60), nullable=False),
        sa.Column("readable", sa.Boolean(), nullable=False),
        sa.Column("invoice_number", sa.String(length=40), nullable=True),
        sa.Column("fields", sa.String(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("claim_id", "ref", name="uq_document_reading"),
    )
    op.create_index("ix_document_readings_claim_id", "document_readings", ["claim_id"])
    op.create_index("ix_document_readings_invoice_number", "document_readings", ["invoice_number"])


def downgrade() -> None:
    op.drop_index("ix_document_readings_invoice_number", "document_readings")
    op.drop_index("ix_document_readings_claim_id", "document_readings")
    op.drop_table("document_readings")
