"""Decisions and money: the payout, the one guard, approval or denial, payment, advances.

Every decision that moves money passes `core.rules.money.refusal` (through `Decisions.refusal`), in the update
validators before a request enters history and again here at the moment money moves. Payments go one at a
time (`money_lock`); the pay activity holds the policy's sum insured in the same transaction that books it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.database import ClaimsDatabase
    from core.claim import decisions as core_decisions
    from core.rules import payout as payout_rules
    from core.rules import recovery as recoveries
    from core.rules.money import Kind, MoneyDecision, recheck_approvals, refusal_as_it_stands
    from core.rules.payout import ZERO
    from models.contract import (
        Decision,
        ErrorType,
        Outcome,
        PaymentRecord,
        Payout,
        RecoveryKind,
        Role,
    )
    from models.messages import ComputePayout, PaymentRequest
    from workflows import core_view, metrics
    from workflows.claim_state import refuse
    from workflows.clocks import ClockedPart, Clocks
    from workflows.shell import ActivityFailure, ClaimClosed, Shell, business_error


class Decisions(ClockedPart):
    """The claim's money: the guard, the payout, decisions, payments, advances and closing."""

    def __init__(self, shell: Shell, clocks: Clocks) -> None:
        super().__init__(shell, clocks)
        self.money_lock = asyncio.Lock()
        """Payments go one at a time: an advance and the final payment never overlap."""
        self.opens_recovery: Callable[..., Awaitable[object]] | None = None
        """How a recovery of a third party opens (`AfterClosing.open`): the claim workflow hands it over."""

    # ------------------------------------------------------------------ the guard

    def refusal(self, kind: Kind, who: str, role: Role, amount: Decimal, *, recheck: bool = False,
                queued: bool = False) -> str | None:
        """The money guard on this claim as it stands. `recheck`: the decider's own approval is already
        recorded (checking again at the moment money moves); `queued`: the advance checked is itself among
        the advances waiting to be paid."""
        return refusal_as_it_stands(MoneyDecision(kind=kind, decider_id=who, role=role, amount=amount),
                                    self.s.claim_money(), self.s.authority(), recheck=recheck, queued=queued)

    def _recheck_approvals(self) -> None:
        """At the moment of paying: every approval that counts is still within authority for the amount."""
        s = self.s
        problem = recheck_approvals([(a.approver_id, a.role) for a in s.current_approvals], s.decision_amount,
                                    s.agreed_amount is not None, s.approved(), s.claim_money(), s.authority())
        if problem:
            raise refuse(f"money guard: {problem}", ErrorType.NOT_AUTHORIZED)

    # ------------------------------------------------------------------ payout

    def _payout_request(self) -> ComputePayout:
        """The payout on the facts known now: the investigator's figure if there is one, advances paid."""
        s = self.s
        claim, rules = s.require_ready()
        confirmed = s.investigation.confirmed_amount if s.investigation else None
        return ComputePayout(
            claim_id=claim.claim_id, policy_number=claim.policy_number, claimed_amount=claim.claimed_amount,
            line_items=claim.line_items, confirmed_amount=confirmed, advances_paid=s.advances_paid,
            clauses=rules.clauses, terms=s.policy)

    async def compute_payout(self, known: Payout | None = None) -> Payout:
        """The payout on the facts known now, or `known` (assessed on the same facts when the claim was taken in)."""
        s = self.s
        payout = known if known is not None else \
            await self.shell.activity(ClaimsDatabase.compute_payout, self._payout_request())
        s.sum_insured_available = payout.sum_insured_available
        clause = s.require_ready()[1].clauses.get("advance_payment", "")
        s.payout, over = payout_rules.net_of_paid(payout, s.paid_amount, clause, owed_back=s.recoveries_on)
        if over > ZERO:  # advances already paid more than the payout assessed now
            await self.shell.note("advance_overpaid", detail=f"advances exceed the assessed payout by {over}")
            self.clocks.notify_staff("advance_overpaid", Role.SUPERVISOR, {"amount": over})
        await self.shell.note("payout_computed", detail=f"payout {s.payout.total}",
                              changes={"payout_amount": str(s.payout.total)})
        return s.payout

    # ------------------------------------------------------------------ decide, pay, deny

    async def decide_and_pay(self) -> None:
        s = self.s
        claim, rules = s.require_ready()
        self.shell.check_withdrawn()
        assert s.payout is not None
        self._recheck_approvals()
        if s.agreed_amount is not None:
            s.payout = payout_rules.agreed_on_appeal(s.payout, s.agreed_amount, s.paid_amount,
                                                     rules.clauses.get("appeal", ""))
        kind = "approved" if s.payout.in_full else "partial"
        decided_by = ", ".join(a.approver_id for a in s.current_approvals) or "system"
        s.decision = Decision(kind=kind, amount=s.payout.total, basis=s.payout.basis, decided_by=decided_by,
                              decided_at=workflow.now())
        s.decision_taken = True
        self.clocks.stop("determination", "appeal_resolution", "advance_payment")
        self.clocks.start("payment", rules.sla.payment_days)  # art. 23: from the agreement, not the letter
        await self.shell.note("decided", by=decided_by, detail=f"{kind}: {s.payout.total}")
        self.shell.notify(f"decision_{kind}", {
            "amount": s.payout.total, "claimed": claim.claimed_amount, "basis": s.payout.basis,
            "appeal_days": self._appeal_days(kind)})
        await self.shell.wait(lambda: not s.advance_in_flight and not s.advance_requests)
        async with self.money_lock:
            await self._pay(payout_rules.still_to_pay(s.payout.total, s.paid_amount), "final")
        self.clocks.stop("payment")
        if not s.payments:  # nothing to pay: below the deductible, or the sum insured was used up by other claims
            await self.deny_zero(s.payout)
            return
        await self.close(Outcome.PAID)

    async def _pay(self, amount: Decimal, kind: Literal["final", "advance"]) -> None:
        """Pay once under a key made of the claim and the payout sequence. An account the bank rejects:
        the claimant is asked for new details on a clock that reminds them and hands the claim to a person."""
        s = self.s
        claim, rules = s.require_ready()
        if amount <= 0:
            return
        if kind == "final":  # the core pays in the step that decides
            await self.shell.enter(core_view.lifecycle_stage(s))
        s.payout_sequence += 1
        sequence = s.payout_sequence
        while True:
            # The decision is in the log before the money moves; nothing is awaited between the checks below and
            # the transfer's start, so no account change or withdrawal slips in between.
            await self.shell.flush(before_money=True)
            problem = "no bank account on file"
            if s.bank_account is not None:
                self.shell.check_withdrawn()
                if kind == "advance" and self._advance_void():  # decided against while it waited its turn
                    raise ClaimClosed
                if s.account_change_checking:  # a new account's code is being checked: pay to the outcome
                    await self.shell.wait(lambda: not s.account_change_checking)
                    continue
                s.transfer_in_flight = True
                account = s.bank_account
                try:
                    receipt = await self.shell.pay(PaymentRequest(
                        claim_id=claim.claim_id, sequence=sequence, kind=kind, amount=amount, account=account))
                    break
                except ActivityFailure as err:
                    cause = business_error(err)
                    if cause is None or cause.type != ErrorType.INVALID_BANK_ACCOUNT:
                        raise
                    problem = cause.message
                finally:
                    s.transfer_in_flight = False
            await self._await_bank_details(amount, problem)
        if receipt.amount < amount:
            await self._payment_reduced(amount, receipt.amount, kind)
        if receipt.amount <= 0:
            return
        s.payments.append(PaymentRecord(sequence=sequence, kind=kind, amount=receipt.amount,
                                        idempotency_key=receipt.idempotency_key, reference=receipt.reference,
                                        account=account.masked, paid_at=receipt.paid_at))
        metrics.paid(kind, receipt.amount)
        await self.shell.note("paid", detail=f"{receipt.amount} to {account.masked} ({receipt.reference})")
        self.shell.notify("payment_sent", {"amount": receipt.amount, "account": account.masked,
                                           "reference": receipt.reference, "paid_at": receipt.paid_at, "kind": kind},
                          sequence=sequence)

    async def _await_bank_details(self, amount: Decimal, problem: str) -> None:
        """Tell the claimant (every rejection), remind them half-way, and let the clock hand the claim to a
        person when nobody answers. A withdrawal ends the wait, and so does the claim closing (an advance
        that waited for new details is then not paid)."""
        s = self.s
        _, rules = s.require_ready()
        await self.shell.note("payment_failed", detail=problem)
        s.account_updated, s.awaiting_bank_details = False, True
        clock = self.clocks.start("bank_details", rules.sla.bank_details_days)
        self.shell.notify("payment_failed", {"amount": amount, "reason": problem, "due_at": clock.due_at})

        def answered() -> bool:
            return s.account_updated or s.withdrawal is not None or s.outcome is not None

        if not await self.shell.wait_until(answered, clock.started_at + clock.span / 2):
            self.shell.notify("bank_details_reminder", {"amount": amount, "due_at": clock.due_at})
        await self.shell.wait(answered)
        s.awaiting_bank_details = False
        self.clocks.stop("bank_details")
        self.shell.check_withdrawn()
        if s.outcome is not None:
            raise ClaimClosed

    async def _payment_reduced(self, requested: Decimal, paid: Decimal, kind: str) -> None:
        """Other claims used the policy's sum insured first: pay what is left, say so, never overrun."""
        s = self.s
        _, rules = s.require_ready()
        clause = rules.clauses.get("sum_insured", "")
        await self.shell.note("payment_reduced", detail=f"{kind} of {requested} limited to {paid}: sum insured")
        if kind == "final" and s.payout is not None and s.decision is not None:
            s.payout = payout_rules.capped_at_payment(s.payout, s.paid_amount, paid, clause)
            s.decision = s.decision.model_copy(update={"kind": "partial", "amount": s.payout.total,
                                                       "basis": s.payout.basis})
        self.shell.notify("payout_reduced", {"requested": requested, "amount": paid, "clause": clause,
                                             "nothing_left": paid <= 0})

    async def deny_zero(self, payout: Payout) -> None:
        _, rules = self.s.require_ready()
        reason = payout.zero_reason or "below deductible"
        clause_key = "below_deductible" if reason == "below deductible" else "sum_insured_exhausted"
        await self.deny([reason], [rules.clauses[clause_key]], payout.basis)

    async def deny(self, reasons: list[str], clauses: list[str], basis: list[Any] | None = None,
                   by: str = "system") -> None:
        s = self.s
        _, rules = s.require_ready()
        self.shell.check_withdrawn()
        s.decision = Decision(kind="denied", amount=s.paid_amount, basis=basis or [], reasons=reasons,
                              clauses=clauses, decided_by=by, decided_at=workflow.now())
        s.decision_taken = True
        self.clocks.stop("determination", "appeal_resolution", "advance_payment")
        self.clocks.start("denial_notice", rules.sla.denial_notice_days)
        await self.shell.note("decided", by=by, detail="denied: " + "; ".join(reasons))
        self.shell.notify("decision_denied", {"reasons": reasons, "clauses": clauses, "basis": basis or [],
                                              "appeal_days": self._appeal_days("denied")})
        self.clocks.stop("denial_notice")
        await self.close(Outcome.DENIED)

    def _appeal_days(self, kind: str) -> int:
        """The days the letter gives the claimant to appeal this decision: none where the core would refuse the appeal
        (a payment in full, the one appeal used, an incident in no period of the policy)."""
        s = self.s
        _, rules = s.require_ready()
        if not core_view.appealable(s, kind):
            return 0
        return rules.sla.appeal_window_days

    async def close(self, outcome: Outcome) -> None:
        s = self.s
        s.outcome, s.closed_at, s.review = outcome, workflow.now(), None
        s.clocks.clear()
        # Reckoned in the same workflow task as the outcome: no status shows the claim closed and the debt not yet.
        reckoned = self._reckon(outcome) if s.recoveries_on else None
        trimmed = recoveries.trim_third_parties(s.recoveries, s.paid_amount, recoveries.allowed(
            outcome, s.decision.amount if s.decision is not None else None), s.closed_at) if s.financials else []
        metrics.closed(outcome.value, s.path.value if s.path else "none",
                       s.closed_at - (s.registered_at or s.closed_at))
        await self.shell.enter(core_view.closed(s, outcome),
                               changes={"outcome": outcome.value, "closed_at": s.closed_at.isoformat()})
        if reckoned is not None:
            await self._tell_reckoning(reckoned, outcome)
        for recovery, cut in trimmed:
            await self.shell.note("recovery_set_off", detail=f"recovery {recovery.number}: {cut} no longer expected: "
                                                             "the claim cost less",
                                  changes={"recovery_outstanding": str(recoveries.outstanding(s.recoveries))})
        due = core_decisions.subrogation_due(core_view.as_left(s), outcome) if s.financials else ZERO
        if due > ZERO and self.opens_recovery is not None:
            claim, _ = s.require_ready()
            other = claim.third_party
            party = ", ".join(p for p in (other.insurer, other.policy_number) if p) if other else None
            await self.opens_recovery(RecoveryKind.SUBROGATION, due, core_decisions.SUBROGATION_REASON,
                                      party=party or None, demand=True)

    def _reckon(self, outcome: Outcome) -> recoveries.Reckoned:
        """Money out beyond what the decision allows is owed back (a recovery opens, on a clock of its own); money a
        later decision allows is owed no more."""
        s = self.s
        _, rules = s.require_ready()
        allowed = recoveries.allowed(outcome, s.decision.amount if s.decision is not None else None)
        done = recoveries.reckon_closing(s.recoveries, s.paid_amount, allowed, outcome, workflow.now())
        if recoveries.outstanding(s.recoveries) > ZERO:
            done.due_at = self.clocks.start(recoveries.CLOCK, rules.sla.recovery_days, owner=Role.SUPERVISOR).due_at
        return done

    async def _tell_reckoning(self, done: recoveries.Reckoned, outcome: Outcome) -> None:
        """Record the reckoning; a new recovery gets a letter to the claimant and a notice to the supervisors."""
        s = self.s
        claim, _ = s.require_ready()
        owed = str(recoveries.outstanding(s.recoveries))
        for recovery, cut in done.set_off:
            await self.shell.note("recovery_set_off",
                                  detail=f"recovery {recovery.number}: {cut} allowed by the decision; "
                                         f"{recovery.outstanding} still owed",
                                  changes={"recovery_outstanding": owed})
        r = done.opened
        if r is None:
            return
        await self.shell.note("recovery_opened", detail=f"recovery {r.number}: {r.amount} owed back ({r.reason})",
                              changes={"recovery_outstanding": owed})
        self.shell.notify("recovery_requested", {"amount": r.amount, "paid": s.paid_amount, "allowed": done.allowed,
                                                 "over_decision": outcome == Outcome.PAID,
                                                 "due_at": done.due_at}, sequence=r.number)
        self.clocks.notify_staff("recovery_opened", Role.SUPERVISOR,
                                 {"amount": r.amount, "claimed": claim.claimed_amount})

    # ------------------------------------------------------------------ advances

    def request_advance(self, amount: Decimal, approver_id: str, role: Role) -> None:
        """Queue an advance and pay it beside the lifecycle (supervised: a failure is never silent)."""
        self.s.advance_requests.append((amount, approver_id, role))
        self.shell.spawn(self._pay_advance(), name=f"advance:{len(self.s.advance_requests)}")

    async def _pay_advance(self) -> None:
        s = self.s
        async with self.money_lock:
            if not s.advance_requests:
                return
            # The advance stays in the queue until it is paid, so the guard counts it for any other decision.
            amount, approver_id, role = s.advance_requests[0]
            s.advance_in_flight = True
            try:
                if self._advance_void():
                    return
                kind = Kind.STATUTORY_ADVANCE if role == Role.SYSTEM else Kind.ADVANCE
                problem = self.refusal(kind, approver_id, role, amount, queued=True)
                if problem:
                    await self.shell.note("advance_refused", by=approver_id, detail=problem)
                    return
                await self.shell.note("advance_payment", by=approver_id, detail=f"advance of {amount}")
                await self._pay(amount, "advance")
            finally:
                s.advance_requests.pop(0)
                s.advance_in_flight = False

    def _advance_void(self) -> bool:
        """An advance queued before the claim was withdrawn, rejected or closed is not paid."""
        s = self.s
        return s.withdrawal is not None or s.outcome is not None or s.rejection is not None or (
            s.decision is not None and s.decision.kind == "denied")

    async def statutory_advance(self) -> None:
        """Insurance Law art. 25: no determination within 60 days of complete materials, so the amount
        already determinable is paid on the workflow's own initiative, unless fraud is suspected (then a
        supervisor decides)."""
        s = self.s
        _, rules = s.require_ready()
        clock = s.clocks.get("advance_payment")
        if clock is None:
            return

        def settled() -> bool:
            return s.decision is not None or s.outcome is not None or s.withdrawal is not None

        if await self.shell.wait_until(settled, clock.due_at):
            return
        self.clocks.stop("advance_payment")
        estimate = await self.shell.activity(ClaimsDatabase.compute_payout, self._payout_request())
        disputed = s.investigation is None and bool(s.investigation_reason)
        amount, share = payout_rules.statutory_advance(estimate.amount, disputed, rules.sla.advance_share_in_dispute)
        s.statutory_advance_done = True
        await self.shell.note("statutory_advance_due", detail=f"determinable amount {amount} (share {share} of "
                                                              f"{estimate.amount})")
        if amount <= 0 or settled():
            return
        problem = self.refusal(Kind.STATUTORY_ADVANCE, "statutory", Role.SYSTEM, amount)
        if problem:
            s.advance_held = True
            await self.shell.note("statutory_advance_held", detail=problem)
            self.clocks.notify_staff("advance_held", Role.SUPERVISOR, {"amount": amount})
            return
        self.request_advance(amount, "statutory", Role.SYSTEM)
