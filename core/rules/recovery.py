"""Money out that no decision allows is owed back (docs/rules.md#money-invariants): the one rule the decision core and
the claim workflow both reckon a closing with.

At each closing the claim compares what went out with what its decision allows (the decided amount when the claim
closes paid; nothing when it closes denied, withdrawn or incomplete). What the claimant holds beyond that, less
what they repaid already and what a manager wrote off, is owed. A recovery opens for what the open ones do not yet
cover; when a later decision (on appeal, after a reopening) allows money that was owed, the open recoveries are set
off by it, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.rules.payout import ZERO
from models.contract import Outcome, Recovery, RecoveryKind, RecoveryReceipt, RecoveryStatus


@dataclass(frozen=True)
class Reckoning:
    opened: Decimal = ZERO
    """The amount of a new recovery to open (zero: none)."""
    set_off: list[tuple[int, Decimal]] = field(default_factory=list)
    """Open recoveries a later decision allows, by number: the amount of each that is owed no more."""


def allowed(outcome: Outcome, decided: Decimal | None) -> Decimal:
    """What a claim closing with this outcome may keep: the decided amount when it closes paid, else nothing."""
    return decided if outcome == Outcome.PAID and decided is not None else ZERO


def reckon(paid: Decimal, allowed: Decimal, settled: Decimal,
           outstanding: Sequence[tuple[int, Decimal]]) -> Reckoning:
    """`paid`: money out on the claim; `allowed`: what its decision allows; `settled`: what earlier recoveries
    took off the debt for good (repaid by the claimant, or written off by a manager); `outstanding`: the open
    recoveries by number, with what is still owed on each."""
    owed = max(paid - allowed - settled, ZERO)
    open_now = sum((amount for _, amount in outstanding), ZERO)
    if owed > open_now:
        return Reckoning(opened=owed - open_now)
    return Reckoning(set_off=_cut(open_now - owed, outstanding))


def _cut(excess: Decimal, outstanding: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """`excess` taken off the recoveries in the order given, each at most what it still expects."""
    cuts: list[tuple[int, Decimal]] = []
    for number, amount in outstanding:
        if excess <= ZERO:
            break
        cut = min(amount, excess)
        if cut > ZERO:
            cuts.append((number, cut))
            excess -= cut
    return cuts


def third_party_cuts(bears: Decimal, expected: Decimal, outstanding: Sequence[tuple[int, Decimal]]) -> list[tuple[int,
                                                                                                          Decimal]]:
    """At a closing: what recoveries of third parties and the salvage expect beyond what the claim cost the insurer
    (`bears`: what it paid and keeps) is set off, newest first, from what they still expect (`outstanding`, by
    number). `expected`: what they bring in all (received, and still expected)."""
    return _cut(expected - bears, sorted(outstanding, reverse=True))


def subrogation_owed(bears: Decimal, expected: Decimal) -> Decimal:
    """What a claim a third party caused, closing paid, still recovers from them by rule: what it paid and keeps,
    less what its recoveries of third parties and the salvage already expect (a claim paid more on appeal recovers
    the rest)."""
    return max(bears - expected, ZERO)


# ---------------------------------------------------------------------------------------------- the claim's recoveries
# The workflow's recoveries (the contract's `Recovery`, shown in `status`) are kept with these: reckoned at every
# closing, settled by repayments, a manager's write-off, or a later decision that allows the money.

CLOCK = "recovery"


@dataclass
class Reckoned:
    allowed: Decimal
    """What the claim's decision allows it to keep."""
    opened: Recovery | None = None
    set_off: list[tuple[Recovery, Decimal]] = field(default_factory=list)
    due_at: datetime | None = None
    """When what is owed is to be repaid by (the `recovery` clock's due time when the claim closed): kept here, as a
    repayment recorded at once may stop the clock before the letter is written."""


def reckon_closing(recoveries: list[Recovery], paid: Decimal, allowed: Decimal, outcome: Outcome,
                   at: datetime) -> Reckoned:
    """At a closing: open a recovery for what is owed beyond the open ones, or set off what a later decision
    allows. Changes `recoveries` in place."""
    owed_back = [r for r in recoveries if r.kind == RecoveryKind.OVERPAYMENT]  # the claimant's debt, not a third's
    settled = sum((r.received + r.written_off for r in owed_back), ZERO)
    open_ones = [r for r in owed_back if r.status == RecoveryStatus.OPEN]
    reckoning = reckon(paid, allowed, settled, [(r.number, r.outstanding) for r in open_ones])
    done = Reckoned(allowed)
    if reckoning.opened > ZERO:
        reason = "advances beyond the amount decided" if outcome == Outcome.PAID else \
            f"paid on a claim closed {outcome.value}"
        done.opened = Recovery(number=len(recoveries) + 1, kind=RecoveryKind.OVERPAYMENT, reason=reason,
                               amount=reckoning.opened, opened_at=at)
        recoveries.append(done.opened)
    for number, cut in reckoning.set_off:
        recovery = next(r for r in recoveries if r.number == number)
        recovery.set_off += cut
        _close_if_settled(recovery, RecoveryStatus.SET_OFF, at)
        done.set_off.append((recovery, cut))
    return done


def trim_third_parties(recoveries: list[Recovery], paid: Decimal, allowed: Decimal, at: datetime) -> list[
        tuple[Recovery, Decimal]]:
    """At a closing: set off what recoveries of third parties and the salvage expect beyond what the claim cost the
    insurer (`third_party_cuts`). Changes `recoveries` in place; the recoveries cut, with each cut."""
    third = [r for r in recoveries if r.kind != RecoveryKind.OVERPAYMENT]
    cuts = third_party_cuts(min(paid, allowed), sum((r.brings for r in third), ZERO),
                            [(r.number, r.outstanding) for r in third if r.status == RecoveryStatus.OPEN])
    done = []
    for number, cut in cuts:
        recovery = next(r for r in third if r.number == number)
        recovery.set_off += cut
        _close_if_settled(recovery, RecoveryStatus.SET_OFF, at)
        done.append((recovery, cut))
    return done


def find(recoveries: list[Recovery], kind: RecoveryKind, number: int | None) -> Recovery | None:
    """The recovery an update names: by number, else the oldest open one of the kind."""
    if number is not None:
        return next((r for r in recoveries if r.number == number and r.kind == kind), None)
    return next((r for r in recoveries if r.kind == kind and r.status == RecoveryStatus.OPEN), None)


def receive(recovery: Recovery, amount: Decimal, reference: str, by: str, at: datetime) -> None:
    recovery.received += amount
    recovery.receipts.append(RecoveryReceipt(amount=amount, reference=reference, by=by, at=at))
    _close_if_settled(recovery, RecoveryStatus.RECOVERED, at)


def write_off(recovery: Recovery, by: str, reason: str, at: datetime) -> Decimal:
    amount = recovery.outstanding
    recovery.written_off += amount
    recovery.written_off_by, recovery.write_off_reason = by, reason
    recovery.status, recovery.closed_at = RecoveryStatus.WRITTEN_OFF, at
    return amount


def outstanding(recoveries: list[Recovery]) -> Decimal:
    return sum((r.outstanding for r in recoveries if r.status == RecoveryStatus.OPEN), ZERO)


def _close_if_settled(recovery: Recovery, status: RecoveryStatus, at: datetime) -> None:
    if recovery.outstanding <= ZERO:
        recovery.status, recovery.closed_at = status, at
