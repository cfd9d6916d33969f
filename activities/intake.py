"""A new claim taken in in one local activity (claims started since `lean-fast-path`): what a claim's first steps
did one activity each (the rule tables, the policy's cover, the registration, the risk) in the same order and with
the same refusals, so a fast-path claim's intake costs one activity rather than four."""

from __future__ import annotations

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.configuration import ConfigurationActivities
from activities.database import ClaimsDatabase
from activities.policies import policy_row
from core.rules.payout import ZERO
from db.engine import refuses_bad_data
from models.contract import ErrorType
from models.messages import AssessRisk, ComputePayout, RegisterClaim, TakeIn, TakenIn


class IntakeActivities:
    def __init__(self, configuration: ConfigurationActivities, database: ClaimsDatabase) -> None:
        self.configuration = configuration
        self.database = database

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def take_in(self, req: TakeIn) -> TakenIn:
        """The rules in force; documents of a kind they do not know refuse the report, as an unknown policy does,
        before anything is recorded (the claim id stays free for the corrected report); then the registration,
        once per workflow chain (a retry after it committed finds it done), and the risk and the payout of a covered
        claim as it stands now (the fast path pays on it; the pay activity holds the sum insured again)."""
        claim = req.claim
        rules = self.configuration.load_rules()
        unknown = sorted({d.kind for d in claim.documents} - set(rules.known_document_kinds))
        if unknown:
            raise ApplicationError(f"invalid claim: documents.kind: unknown kinds {unknown}",
                                   type=ErrorType.INVALID_CLAIM, non_retryable=True)
        # One session for them all: the policy and its period are read once, kept across the registration's commit.
        # The session's identity map holds a row only while something refers to it, so the policy, which the later
        # steps look up again, is held here.
        with Session(self.database.engine, expire_on_commit=False) as session:
            policy = policy_row(session, claim.policy_number)
            coverage, period = self.database.coverage_in(session, claim)
            policy_period = self.database.register_in(session, RegisterClaim(
                claim=claim, chain_id=req.chain_id, registered_at=req.registered_at), period)
            if not coverage.covered:
                return TakenIn(rules=rules, coverage=coverage)
            risk = self.database.risk_in(session, AssessRisk(claim=claim, reported_at=req.registered_at,
                                                             risk=rules.risk), period)
            payout = self.database.payout_in(session, ComputePayout(
                claim_id=claim.claim_id, policy_number=claim.policy_number, claimed_amount=claim.claimed_amount,
                line_items=claim.line_items, advances_paid=ZERO, clauses=rules.clauses, terms=coverage.policy),
                registered=(policy_period,))
        del policy  # held until here
        return TakenIn(rules=rules, coverage=coverage, risk=risk, payout=payout)
