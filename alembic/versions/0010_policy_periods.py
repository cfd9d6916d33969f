"""Policy periods, and columns that hold every value the contract accepts.

A renewal adds a period and keeps the ones before (`policy_periods`, filled from each policy's current terms);
`document_readings.ref` holds a reference of the contract's 500 characters; `claim_events.actor` holds what
several deciders' ids join to.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "policy_periods",
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=False),
        sa.Column("product", sa.String(length=20), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sum_insured", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("deductible", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("payout_ratio", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.Column("waiting_period_days", sa.Integer(), nullable=False),
        sa.Column("status_since", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("policy_number", "effective_from"),
    )
    op.execute("""INSERT INTO policy_periods (policy_number, effective_from, effective_to, product, holder_name, status,
                  sum_insured, deductible, payout_ratio, exclusions, waiting_period_days, status_since)
                  SELECT policy_number, effective_from, effective_to, product, holder_name, status, sum_insured,
                  deductible, payout_ratio, exclusions, waiting_period_days, status_since FROM policies""")
    with op.batch_alter_table("document_readings") as batch:
        batch.alter_column("ref", type_=sa.String(length=500), existing_type=sa.String(length=200),
                           existing_nullable=False)
    with op.batch_alter_table("claim_events") as batch:
        batch.alter_column("actor", type_=sa.String(), existing_type=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("claim_events") as batch:
        batch.alter_column("actor", type_=sa.String(length=64), existing_type=sa.String(), existing_nullable=False)
    with op.batch_alter_table("document_readings") as batch:
        batch.alter_column("ref", type_=sa.String(length=200), existing_type=sa.String(length=500),
                           existing_nullable=False)
    op.drop_table("policy_periods")
