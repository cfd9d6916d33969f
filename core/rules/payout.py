"""Payout computation (docs/rules.md#payout): Decimal throughout, half-up to cents, every step with its clause."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from models.contract import BasisStep, LineItem, Payout

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def after_terms(assessed: Decimal, deductible: Decimal, payout_ratio: Decimal) -> Decimal:
    """What an assessed loss pays under the policy's terms: less the deductible, never below zero, times the
    payout ratio, rounded half-up to cents. The one place this arithmetic is written."""
    return cents(max(assessed - deductible, ZERO) * payout_ratio)


def estimate(*, claimed_amount: Decimal, line_items: Sequence[LineItem], confirmed_amount: Decimal | None,
             deductible: Decimal, payout_ratio: Decimal) -> Decimal | None:
    """The payout as far as it can be told before it is computed: the investigator's figure, else the line items, never
    more than claimed, under the terms; None when nothing is assessed yet (the amount claimed is then the only
    bound)."""
    if confirmed_amount is not None:
        assessed = confirmed_amount
    elif line_items:
        assessed = sum((item.amount for item in line_items), ZERO)
    else:
        return None
    return after_terms(min(assessed, claimed_amount), deductible, payout_ratio)


def compute_payout(
    *,
    claimed_amount: Decimal,
    line_items: Sequence[LineItem],
    confirmed_amount: Decimal | None,
    deductible: Decimal,
    payout_ratio: Decimal,
    sum_insured: Decimal,
    paid_on_policy: Decimal,
    advances_paid: Decimal,
    clauses: dict[str, str],
) -> Payout:
    """The payout with its itemised basis.

    assessed loss (investigator's confirmed amount, else the line items, else the amount claimed,
    never more than claimed) - deductible, x payout ratio, capped at the sum insured still available,
    never below zero; advances already paid are subtracted from what is paid now.
    """
    clause = clauses.get
    basis: list[BasisStep] = []
    if confirmed_amount is not None:
        assessed = confirmed_amount
        basis.append(BasisStep(step="assessed loss (confirmed by investigation)", amount=cents(assessed),
                               clause=clause("assessed_loss", "")))
    elif line_items:
        assessed = sum((item.amount for item in line_items), ZERO)
        basis.append(BasisStep(step=f"assessed loss ({len(line_items)} line items)", amount=cents(assessed),
                               clause=clause("assessed_loss", "")))
    else:
        assessed = claimed_amount
        basis.append(BasisStep(step="assessed loss (amount claimed)", amount=cents(assessed),
                               clause=clause("assessed_loss", "")))
    if assessed > claimed_amount:
        assessed = claimed_amount
        basis.append(BasisStep(step="limited to the amount claimed", amount=cents(assessed),
                               clause=clause("assessed_loss", "")))

    after_deductible = max(assessed - deductible, ZERO)
    basis.append(BasisStep(step=f"less deductible {cents(deductible)}", amount=cents(after_deductible),
                           clause=clause("deductible", "")))
    below_deductible = after_deductible == ZERO

    after_ratio = after_terms(assessed, deductible, payout_ratio)
    basis.append(BasisStep(step=f"times payout ratio {payout_ratio.normalize():f}", amount=after_ratio,
                           clause=clause("payout_ratio", "")))

    available = max(sum_insured - paid_on_policy, ZERO)
    total = min(after_ratio, available)
    if total < after_ratio:
        basis.append(BasisStep(step=f"capped at sum insured still available {cents(available)}",
                               amount=cents(total), clause=clause("sum_insured", "")))
    total = cents(max(total, ZERO))

    now = cents(max(total - advances_paid, ZERO))
    if advances_paid > ZERO:
        basis.append(BasisStep(step=f"less advance payments {cents(advances_paid)}", amount=now,
                               clause=clause("advance_payment", "")))

    zero_reason = None
    if total == ZERO:
        zero_reason = "below deductible" if below_deductible else "sum insured exhausted"
    in_full = assessed >= claimed_amount and total >= after_ratio
    return Payout(amount=now, total=total, basis=basis, zero_reason=zero_reason, in_full=in_full,
                  sum_insured_available=cents(available))


# ---------------------------------------------------------------------------------------------- after the payout


def still_to_pay(total: Decimal, paid: Decimal) -> Decimal:
    """What a decision for `total` in all still pays, given what went out already (never below zero)."""
    return max(total - paid, ZERO)


def net_of_paid(payout: Payout, paid: Decimal, clause: str, *, owed_back: bool) -> tuple[Payout, Decimal]:
    """The payout when advances already paid exceed it, and by how much they do (zero: they do not, and the payout
    is as it was). Nothing further is paid. With `owed_back` (claims since recoveries exist) the payout stays as
    assessed and the excess is owed back at closing; before, the payout was raised to what was paid."""
    if paid <= payout.total:
        return payout, ZERO
    over = paid - payout.total
    said = f"advances already paid {paid} exceed the payout assessed now by {over}: nothing further is paid; "
    if owed_back:
        step = BasisStep(step=said + "the excess is owed back", amount=payout.total, clause=clause)
        return payout.model_copy(update={"amount": ZERO, "basis": [*payout.basis, step]}), over
    step = BasisStep(step=said + "the excess is to be recovered", amount=paid, clause=clause)
    return payout.model_copy(update={"total": paid, "amount": ZERO, "basis": [*payout.basis, step]}), over


def agreed_on_appeal(payout: Payout, agreed: Decimal, paid: Decimal, clause: str) -> Payout:
    """The payout replaced by the amount an appeal's review agreed (in all, advances included)."""
    step = BasisStep(step="agreed on appeal review", amount=agreed, clause=clause)
    return payout.model_copy(update={"total": agreed, "amount": still_to_pay(agreed, paid),
                                     "basis": [*payout.basis, step]})


def capped_at_payment(payout: Payout, paid_before: Decimal, paid_now: Decimal, clause: str) -> Payout:
    """The payout when the final payment was cut at the moment of paying (other claims used the period's sum insured
    first): what was paid before and now, approved in part."""
    total = paid_before + paid_now
    step = BasisStep(step="capped at the sum insured still available at payment", amount=total, clause=clause)
    return payout.model_copy(update={"total": total, "amount": paid_now, "in_full": False,
                                     "basis": [*payout.basis, step],
                                     "zero_reason": "sum insured exhausted" if total <= 0 else None})


def statutory_advance(determinable: Decimal, disputed: bool, share_in_dispute: Decimal) -> tuple[Decimal, Decimal]:
    """Insurance Law art. 25: the advance paid when no determination came in time, and the share of the determinable
    amount it is (all of it, or the rule table's share while an investigation the claim needs is not yet done)."""
    share = share_in_dispute if disputed else Decimal("1")
    return cents(determinable * share), share
