"""The financial ledger: every movement of a claim's money (reserve, payment, recovery reserve, recovery, write-off),
one row each, hash-chained per claim and sealed. On PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE, as on
the claim event log.

Claims registered before this revision have no rows: they hold no reserve (docs/finance.md, "Claims from before").
`ledger_start` keeps when the ledger began: payments made before it are not expected in it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY = [
    """CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'ledger is append-only: % refused', TG_OP; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
       FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
       FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("policy_period", sa.String(length=25), nullable=True),
        sa.Column("product", sa.String(length=20), nullable=False),
        sa.Column("accident_date", sa.Date(), nullable=False),
        sa.Column("transaction_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("movement", sa.String(length=20), nullable=False),
        sa.Column("cost_type", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(15, 2), nullable=False),
        sa.Column("balance", sa.Numeric(15, 2), nullable=False),
        sa.Column("recovery", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("seal", sa.String(length=64), nullable=False),
        sa.Column("seal_kid", sa.String(length=24), nullable=True),
        sa.UniqueConstraint("claim_id", "seq", name="uq_ledger_seq"),
        sa.UniqueConstraint("claim_id", "key", name="uq_ledger_key"),
    )
    start = op.create_table(
        "ledger_start",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(start, [{"started_at": datetime.now(UTC)}])
    op.create_index("ix_ledger_claim_id", "ledger", ["claim_id"])
    op.create_index("ix_ledger_transaction_at", "ledger", ["transaction_at"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_no_truncate ON ledger")
        op.execute("DROP TRIGGER ledger_append_only ON ledger")
        op.execute("DROP FUNCTION ledger_append_only()")
    op.drop_index("ix_ledger_transaction_at", table_name="ledger")
    op.drop_index("ix_ledger_claim_id", table_name="ledger")
    op.drop_table("ledger")
    op.drop_table("ledger_start")
