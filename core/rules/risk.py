"""Risk scoring (docs/rules.md#risk-scoring): points per rule, reasons kept with the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from models.contract import RiskAssessment, RiskReason
from models.messages import RiskRules


@dataclass(frozen=True)
class RiskFacts:
    """What the rules look at, gathered from the claim and the database."""

    days_incident_to_report: int
    days_policy_start_to_incident: int
    claimed_amount: Decimal
    sum_insured: Decimal
    claims_on_policy_in_window: int
    """Claims on the same policy within the window, this one included."""
    reused_document_refs: list[str] = field(default_factory=list)


def level_for(score: int, rules: RiskRules) -> Literal["low", "medium", "high"]:
    if score >= rules.high_from:
        return "high"
    if score >= rules.medium_from:
        return "medium"
    return "low"


def score_risk(facts: RiskFacts, rules: RiskRules) -> RiskAssessment:
    reasons: list[RiskReason] = []
    if facts.days_incident_to_report > rules.late_report_days:
        reasons.append(RiskReason(rule="late_report", points=rules.late_report_points,
                                  detail=f"reported {facts.days_incident_to_report} days after the incident"))
    if 0 <= facts.days_policy_start_to_incident < rules.new_policy_days:
        days = facts.days_policy_start_to_incident
        reasons.append(RiskReason(rule="new_policy", points=rules.new_policy_points,
                                  detail=f"incident {days} days after the policy started"))
    if facts.sum_insured > 0 and facts.claimed_amount >= facts.sum_insured * rules.high_claim_ratio:
        share = (facts.claimed_amount / facts.sum_insured * 100).quantize(Decimal("1"))
        reasons.append(RiskReason(rule="high_claim", points=rules.high_claim_points,
                                  detail=f"claimed {share}% of the sum insured"))
    if facts.claims_on_policy_in_window >= rules.frequent_claims_count:
        reasons.append(RiskReason(rule="frequent_claims", points=rules.frequent_claims_points,
                                  detail=f"{facts.claims_on_policy_in_window} claims on the policy within "
                                         f"{rules.frequent_claims_window_days} days"))
    if facts.reused_document_refs:
        reasons.append(RiskReason(rule="reused_document", points=rules.reused_document_points,
                                  detail="document already used by another claim: "
                                         + ", ".join(sorted(facts.reused_document_refs))))
    score = min(100, sum(r.points for r in reasons))
    return RiskAssessment(score=score, level=level_for(score, rules), reasons=reasons)


def with_reused_documents(assessment: RiskAssessment, reused_refs: list[str], rules: RiskRules) -> RiskAssessment:
    """The assessment once documents sent later turn out to be used by another claim: the rule's points
    count once, its reason names every reused reference."""
    if not reused_refs:
        return assessment
    earlier = next((r for r in assessment.reasons if r.rule == "reused_document"), None)
    detail = "document already used by another claim: " + ", ".join(sorted(set(reused_refs)))
    reason = RiskReason(rule="reused_document", points=rules.reused_document_points,
                        detail=f"{earlier.detail}; {detail}" if earlier else detail)
    reasons = [r for r in assessment.reasons if r.rule != "reused_document"] + [reason]
    score = min(100, sum(r.points for r in reasons))
    return RiskAssessment(score=score, level=level_for(score, rules), reasons=reasons)
