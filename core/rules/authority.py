"""Authority limits and four-eyes rules (docs/rules.md#authority-limits and lifecycle step 7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from models.contract import ApprovalRecord, Role

RANK = {Role.SYSTEM: 0, Role.ADJUSTER: 1, Role.SUPERVISOR: 2, Role.MANAGER: 3}
TIERS = [Role.ADJUSTER, Role.SUPERVISOR, Role.MANAGER]


def role_for_amount(amount: Decimal, limits: Mapping[str, Decimal | None]) -> Role:
    """The lowest human tier whose limit covers the amount."""
    for role in TIERS:
        limit = limits.get(role.value)
        if limit is None or amount <= limit:
            return role
    return Role.MANAGER


def raise_tier(role: Role, steps: int = 1) -> Role:
    if role == Role.SYSTEM:
        return TIERS[min(steps - 1, len(TIERS) - 1)] if steps > 0 else role
    return TIERS[min(TIERS.index(role) + steps, len(TIERS) - 1)]


def required_role(amount: Decimal, limits: Mapping[str, Decimal | None], escalations: int,
                  floor: Role = Role.ADJUSTER) -> Role:
    """The tier that must decide: the amount's tier, at least `floor`, raised once per escalation."""
    base = max(role_for_amount(amount, limits), floor, key=RANK.__getitem__)
    return raise_tier(base, escalations) if escalations else base


def approvals_needed(amount: Decimal, required: Role, dual_threshold: Decimal) -> int:
    return 2 if required == Role.MANAGER and amount > dual_threshold else 1


def person_key(person_id: str) -> str:
    """Ids are compared case-insensitively: `INV-7` and `inv-7` are one person."""
    return person_id.strip().casefold()


def is_approved(approvals: Sequence[ApprovalRecord], required: Role, needed: int) -> bool:
    qualified = {person_key(a.approver_id) for a in approvals if RANK[a.role] >= RANK[required]}
    return len(qualified) >= needed
