"""Money out that no decision allows is owed back (SPEC section 10): the one rule the decision core and the claim
workflow both reckon a closing with.

At each closing the claim compares what went out with what its decision allows (the decided amount when the claim
closes paid; nothing when it closes denied, withdrawn or incomplete). What the claimant holds beyond that, less
what they repaid already and what a manager wrote off, is owed. A recovery opens for what the open ones do not yet
cover; when a later decision (on appeal, after a reopening) allows money that was owed, the open recoveries are set
off by it, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.rules.payout import ZERO


@dataclass(frozen=True)
class Reckoning:
    opened: Decimal = ZERO
    """The amount of a new recovery to open (zero: none)."""
    set_off: list[tuple[int, Decimal]] = field(default_factory=list)
    """Open recoveries a later decision allows, by number: the amount of each that is owed no more."""


def reckon(paid: Decimal, allowed: Decimal, settled: Decimal,
           outstanding: Sequence[tuple[int, Decimal]]) -> Reckoning:
    """`paid`: money out on the claim; `allowed`: what its decision allows; `settled`: what earlier recoveries
    took off the debt for good (repaid by the claimant, or written off by a manager); `outstanding`: the open
    recoveries by number, with what is still owed on each."""
    owed = max(paid - allowed - settled, ZERO)
    open_now = sum((amount for _, amount in outstanding), ZERO)
    if owed > open_now:
        return Reckoning(opened=owed - open_now)
    cuts: list[tuple[int, Decimal]] = []
    excess = open_now - owed
    for number, amount in outstanding:
        if excess <= ZERO:
            break
        cut = min(amount, excess)
        if cut > ZERO:
            cuts.append((number, cut))
            excess -= cut
    return Reckoning(set_off=cuts)
