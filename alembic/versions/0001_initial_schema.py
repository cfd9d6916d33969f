"""Initial schema: every table of models/tables.py, and the database's own guard on the claim event log.

The event log is one hash chain per claim (`seq` from 1, unique per claim) with a unique idempotency `key` per
claim. On PostgreSQL, triggers refuse UPDATE and DELETE of any row and TRUNCATE of the table.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY = [
    """CREATE FUNCTION claim_events_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'claim_events is append-only: % refused', TG_OP; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER claim_events_append_only BEFORE UPDATE OR DELETE ON claim_events
       FOR EACH ROW EXECUTE FUNCTION claim_events_append_only()""",
    """CREATE TRIGGER claim_events_no_truncate BEFORE TRUNCATE ON claim_events
       FOR EACH STATEMENT EXECUTE FUNCTION claim_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=20), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=False),
        sa.Column("sum_insured", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("deductible", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("payout_ratio", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.Column("waiting_period_days", sa.Integer(), nullable=False),
        sa.Column("status_since", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("policy_number"),
    )

    op.create_table(
        "claims",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("policy_period", sa.String(length=25), nullable=True),
        sa.Column("claim_type", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("path", sa.String(length=20), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("risk_level", sa.String(length=10), nullable=True),
        sa.Column("handler", sa.String(length=64), nullable=True),
        sa.Column("claimed_amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("payout_amount", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("paid_amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("incident_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage_entered_at", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index("ix_claims_policy_number", "claims", ["policy_number"])
    op.create_index("ix_claims_registered_at", "claims", ["registered_at"])
    op.create_index("ix_claims_stage", "claims", ["stage"])

    op.create_table(
        "claim_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=500), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id", "kind", "ref", name="uq_claim_document"),
    )
    op.create_index("ix_claim_documents_claim_id", "claim_documents", ["claim_id"])
    op.create_index("ix_claim_documents_ref", "claim_documents", ["ref"])

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("requested", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("account_holder", sa.String(length=200), nullable=False),
        sa.Column("account_masked", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gateway_reference", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_payment_idempotency_key"),
    )
    op.create_index("ix_payments_claim_id", "payments", ["claim_id"])

    op.create_table(
        "gateway_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("account_number", sa.String(length=40), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_gateway_idempotency_key"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id", "kind", "sequence", name="uq_notification"),
    )
    op.create_index("ix_notifications_claim_id", "notifications", ["claim_id"])

    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("output", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "period", name="uq_report_run"),
    )

    # The unique (claim_id, seq) index also serves every lookup of one claim's events.
    op.create_table(
        "claim_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id", "seq", name="uq_claim_event_seq"),
        sa.UniqueConstraint("claim_id", "key", name="uq_claim_event_key"),
        sa.UniqueConstraint("hash"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER claim_events_no_truncate ON claim_events")
        op.execute("DROP TRIGGER claim_events_append_only ON claim_events")
        op.execute("DROP FUNCTION claim_events_append_only()")
    for table in ["claim_events", "report_runs", "notifications", "gateway_transfers", "payments",
                  "claim_documents", "claims", "policies"]:
        op.drop_table(table)
