"""Pure business rules: payout, risk, authority, triage and deadline arithmetic, without Temporal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from config.rules import CLAUSES, load_rules
from config.settings import Settings
from core.rules import authority, triage
from core.rules.calendar import add_business_days, due
from core.rules.payout import compute_payout
from core.rules.risk import RiskFacts, score_risk
from models.contract import ApprovalRecord, LineItem, Role
from models.messages import RiskRules, SlaTable

D = Decimal


def payout(**overrides):
    args = dict(claimed_amount=D("3200.00"), line_items=[], confirmed_amount=None, deductible=D("500"),
                payout_ratio=D("1"), sum_insured=D("200000"), paid_on_policy=D("0"), advances_paid=D("0"),
                clauses=CLAUSES)
    args.update(overrides)
    return compute_payout(**args)


class TestPayout:
    def test_deductible_then_ratio_with_basis_per_step(self):
        p = payout(claimed_amount=D("10000"), deductible=D("1000"), payout_ratio=D("0.9"))
        assert p.total == D("8100.00")
        assert [s.amount for s in p.basis] == [D("10000.00"), D("9000.00"), D("8100.00")]
        assert all(s.clause for s in p.basis), "every step names the clause it applies"

    def test_rounds_half_up_to_cents(self):
        # 1000.05 * 0.5 = 500.025 -> 500.03 (half-up), where banker's rounding would give 500.02
        p = payout(claimed_amount=D("1000.05"), deductible=D("0"), payout_ratio=D("0.5"))
        assert p.total == D("500.03")

    def test_capped_at_sum_insured_still_available(self):
        p = payout(claimed_amount=D("90000"), deductible=D("0"), sum_insured=D("100000"), paid_on_policy=D("30000"))
        assert p.total == D("70000.00")
        assert not p.in_full, "a capped payout is an approval in part"
        assert "capped" in p.basis[-1].step

    def test_zero_below_deductible_is_a_denial_reason(self):
        p = payout(claimed_amount=D("380"), deductible=D("500"))
        assert p.total == D("0.00") and p.zero_reason == "below deductible"

    def test_zero_when_sum_insured_exhausted(self):
        p = payout(sum_insured=D("100000"), paid_on_policy=D("100000"))
        assert p.total == D("0.00") and p.zero_reason == "sum insured exhausted"

    def test_confirmed_amount_replaces_line_items(self):
        p = payout(claimed_amount=D("150000"), line_items=[LineItem(description="x", amount=D("150000"))],
                   confirmed_amount=D("140000"), deductible=D("1000"), payout_ratio=D("0.9"))
        assert p.total == D("125100.00")
        assert not p.in_full

    def test_line_items_never_pay_more_than_claimed(self):
        items = [LineItem(description="a", amount=D("3000")), LineItem(description="b", amount=D("500"))]
        p = payout(claimed_amount=D("3200"), line_items=items, deductible=D("0"))
        assert p.total == D("3200.00")

    def test_advances_are_subtracted_from_what_is_paid_now(self):
        p = payout(claimed_amount=D("10000"), deductible=D("0"), advances_paid=D("4000"))
        assert (p.total, p.amount) == (D("10000.00"), D("6000.00"))


class TestRisk:
    rules = RiskRules()

    def facts(self, **kw):
        base = dict(days_incident_to_report=1, days_policy_start_to_incident=200, claimed_amount=D("1000"),
                    sum_insured=D("100000"), claims_on_policy_in_window=1, reused_document_refs=[])
        base.update(kw)
        return RiskFacts(**base)

    def test_clean_claim_is_low_with_no_reasons(self):
        r = score_risk(self.facts(), self.rules)
        assert (r.score, r.level, r.reasons) == (0, "low", [])

    @pytest.mark.parametrize(("change", "rule", "points"), [
        ({"days_incident_to_report": 31}, "late_report", 20),
        ({"days_policy_start_to_incident": 10}, "new_policy", 25),
        ({"claimed_amount": D("80000")}, "high_claim", 25),
        ({"claims_on_policy_in_window": 3}, "frequent_claims", 20),
        ({"reused_document_refs": ["doc://a"]}, "reused_document", 40),
    ])
    def test_each_rule_scores_its_points(self, change, rule, points):
        r = score_risk(self.facts(**change), self.rules)
        assert [(x.rule, x.points) for x in r.reasons] == [(rule, points)]

    def test_levels_at_30_and_60(self):
        medium = score_risk(self.facts(days_policy_start_to_incident=5, days_incident_to_report=40), self.rules)
        high = score_risk(self.facts(reused_document_refs=["d"], claims_on_policy_in_window=5), self.rules)
        assert (medium.score, medium.level) == (45, "medium")
        assert (high.score, high.level) == (60, "high")

    def test_exactly_30_days_late_is_not_late(self):
        assert score_risk(self.facts(days_incident_to_report=30), self.rules).score == 0


class TestAuthority:
    limits = {"adjuster": D("10000"), "supervisor": D("100000"), "manager": None}

    @pytest.mark.parametrize(("amount", "role"), [
        ("9999.99", Role.ADJUSTER), ("10000", Role.ADJUSTER), ("10000.01", Role.SUPERVISOR),
        ("100000", Role.SUPERVISOR), ("100000.01", Role.MANAGER), ("9000000", Role.MANAGER)])
    def test_lowest_tier_whose_limit_covers_the_amount(self, amount, role):
        assert authority.role_for_amount(D(amount), self.limits) == role

    def test_each_escalation_raises_one_tier_up_to_manager(self):
        assert authority.required_role(D("500"), self.limits, 1) == Role.SUPERVISOR
        assert authority.required_role(D("500"), self.limits, 5) == Role.MANAGER

    def test_two_managers_above_half_a_million(self):
        assert authority.approvals_needed(D("500000"), Role.MANAGER, D("500000")) == 1
        assert authority.approvals_needed(D("500000.01"), Role.MANAGER, D("500000")) == 2
        one = [ApprovalRecord(approver_id="m1", role=Role.MANAGER, at=datetime.now(UTC))]
        assert not authority.is_approved(one, Role.MANAGER, 2)
        two = [*one, ApprovalRecord(approver_id="m2", role=Role.MANAGER, at=datetime.now(UTC))]
        assert authority.is_approved(two, Role.MANAGER, 2)


class TestCalendar:
    def test_business_days_skip_weekends_and_holidays(self):
        friday = datetime(2026, 12, 25, 9, tzinfo=UTC)  # a Friday
        assert add_business_days(friday, 2, set()) == datetime(2026, 12, 29, 9, tzinfo=UTC)
        assert add_business_days(friday, 2, {date(2026, 12, 28)}) == datetime(2026, 12, 30, 9, tzinfo=UTC)

    def test_demo_profile_makes_a_day_a_second(self):
        start = datetime(2026, 1, 1, tzinfo=UTC)
        sla = SlaTable(day_seconds=1, business_days_as_days=True)
        assert (due(start, 30, sla) - start).total_seconds() == 30
        assert (due(start, 2, sla, business=True) - start).total_seconds() == 2


class TestTriage:
    rules = load_rules(Settings())

    def test_theft_adds_police_report_to_property_matrix(self):
        docs = triage.required_documents(self.rules, "property", "Theft")
        assert docs[-1] == "police_report" and "ownership_proof" in docs

    def test_missing_keeps_the_matrix_order(self):
        assert triage.still_missing(["a", "b", "c"], ["b"]) == ["a", "c"]

    def test_rules_file_overrides_tables(self, tmp_path):
        f = tmp_path / "rules.json"
        f.write_text('{"fast_path_limits": {"auto": "8000", "health": "3000", "property": "5000"},'
                     ' "sla": {"documents_days": 45}}')
        rules = load_rules(Settings(CLAIMS_RULES_FILE=f))
        assert rules.fast_path_limits["auto"] == D("8000") and rules.sla.documents_days == 45
        assert load_rules(Settings(CLAIMS_SLA_PROFILE="demo")).sla.day_seconds == 1
