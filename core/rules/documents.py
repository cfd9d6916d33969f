"""Checks on what machine reading found in a claim's documents: pure, so they replay and are tested alone.

A mismatch adds a risk reason with its points (the invoices' total against the line items claimed, dates against
the incident and the policy period, an invoice number another claim used, the ID card's name against the
claimant); the score then routes the claim as every other risk does. A field read with low confidence, or a
page with no usable text, never counts against the claim: it only asks a person to look (`review`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from core.rules.risk import level_for
from models.contract import ClaimInput, PolicyTerms, RiskAssessment, RiskReason
from models.documents import READ_KINDS, DocumentReading, DocumentRules, ReadField
from models.messages import RiskRules

DATE_FIELDS = ("date", "admission_date", "diagnosis_date", "accident_date")
CHECKED = frozenset({"total", "invoice_number", "name", *DATE_FIELDS})
"""The fields the checks use; the others (issuer, tax id, place) are shown to staff but decide nothing."""


@dataclass
class Findings:
    reasons: list[RiskReason] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    """What a person should look at: unreadable pages, fields read with low confidence."""


EXPECTED = {"invoice": ("total", "date"), "expense_list": ("total",), "diagnosis": ("diagnosis_date",),
            "accident": ("accident_date",), "id_card": ("name",)}
"""What a person must find when the machine did not: the fields the checks most rely on, per layout."""

EXPECTED_WITH_NUMBER = {**EXPECTED, "invoice": ("total", "date", "invoice_number")}
"""The same, with an invoice's or receipt's number, which the reused-invoice check needs (claims started since
`invoice-number-expected`: a claim started before decided its course without it)."""


def _trusted(reading: DocumentReading, name: str, rules: DocumentRules) -> str | None:
    found: ReadField | None = reading.fields.get(name)
    if found is None or found.confidence < rules.min_confidence:
        return None
    return found.value


def _to_review(reading: DocumentReading, rules: DocumentRules, number_expected: bool) -> list[str]:
    """Each field the checks use read with low confidence, and each expected field not found."""
    doubtful = [f"{reading.kind} {name} read with confidence {f.confidence:.2f}"
                for name, f in sorted(reading.fields.items())
                if name in CHECKED and f.confidence < rules.min_confidence]
    expected = (EXPECTED_WITH_NUMBER if number_expected else EXPECTED).get(READ_KINDS.get(reading.kind, ""), ())
    missing = [f"{reading.kind} {name} not found" for name in expected if name not in reading.fields]
    return doubtful + missing


def _amount(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def check_documents(claim: ClaimInput, policy: PolicyTerms, readings: list[DocumentReading],
                    reused: dict[str, list[str]], rules: DocumentRules, *, number_expected: bool = False) -> Findings:
    """The risk reasons and review points of these readings. `reused`: per document ref, the other claims whose
    invoices carry the same invoice number; `number_expected`: an invoice whose number was not found asks a
    person (`EXPECTED_WITH_NUMBER`)."""
    findings = Findings()
    incident = claim.incident.occurred_at.date()
    totals: list[Decimal] = []
    for reading in readings:
        if not reading.readable:
            findings.review.append(f"{reading.kind}: no readable text")
            continue
        findings.review += _to_review(reading, rules, number_expected)
        total = _amount(_trusted(reading, "total", rules))
        if total is not None and reading.kind in ("repair_invoice", "medical_invoice"):
            totals.append(total)
        for name in DATE_FIELDS:
            day = _day(_trusted(reading, name, rules))
            if day is None:
                continue
            if not policy.effective_from <= day <= policy.effective_to:
                findings.reasons.append(RiskReason(
                    rule="document_date_outside_policy", points=rules.date_outside_policy_points,
                    detail=f"{reading.kind} {name} {day} outside the policy period "
                           f"{policy.effective_from} to {policy.effective_to}"))
            elif day < incident and name != "admission_date":
                findings.reasons.append(RiskReason(
                    rule="document_date_before_incident", points=rules.date_before_incident_points,
                    detail=f"{reading.kind} {name} {day} before the incident on {incident}"))
        if reused.get(reading.ref) and _trusted(reading, "invoice_number", rules):
            findings.reasons.append(RiskReason(
                rule="reused_invoice", points=rules.reused_invoice_points,
                detail=f"{reading.kind} invoice number already claimed in " + ", ".join(sorted(reused[reading.ref]))))
        id_name = _trusted(reading, "name", rules) if reading.kind == "id_card" else None
        if id_name is not None and not _same_name(id_name, claim.claimant.name):
            findings.reasons.append(RiskReason(rule="id_name_mismatch", points=rules.id_name_mismatch_points,
                                               detail="the ID card's name is not the claimant's"))
    claimed = sum((item.amount for item in claim.line_items), Decimal(0)) or claim.claimed_amount
    if totals and claimed > 0:
        invoiced = sum(totals, Decimal(0))
        if abs(invoiced - claimed) > claimed * rules.total_tolerance:
            findings.reasons.append(RiskReason(
                rule="invoice_total_mismatch", points=rules.total_mismatch_points,
                detail=f"invoices total {invoiced}, the line items claimed {claimed}"))
    return _once_per_rule(findings)


def _once_per_rule(findings: Findings) -> Findings:
    """A rule's points count once however many documents break it; its detail names each."""
    merged: dict[str, RiskReason] = {}
    for reason in findings.reasons:
        earlier = merged.get(reason.rule)
        merged[reason.rule] = reason if earlier is None else earlier.model_copy(
            update={"detail": f"{earlier.detail}; {reason.detail}"})
    return Findings(list(merged.values()), sorted(set(findings.review)))


def with_findings(assessment: RiskAssessment, findings: Findings, risk: RiskRules) -> RiskAssessment:
    """The assessment with the documents' reasons in place of any earlier ones (a later reading or a correction
    replaces what the earlier ones found)."""
    rules = {r.rule for r in findings.reasons} | {
        "invoice_total_mismatch", "document_date_outside_policy", "document_date_before_incident",
        "reused_invoice", "id_name_mismatch"}
    reasons = [r for r in assessment.reasons if r.rule not in rules] + findings.reasons
    score = min(100, sum(r.points for r in reasons))
    return RiskAssessment(score=score, level=level_for(score, risk), reasons=reasons)
