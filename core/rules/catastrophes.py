"""Which claims a declared catastrophe gathers, and how its rules change theirs (docs/catastrophes.md).

A claim joins a catastrophe when its type is one of the catastrophe's, its incident fell inside the catastrophe's
time window, and its region lies in one of the catastrophe's regions: an administrative division code (GB/T 2260)
covers the codes below it (440000 广东省 covers 440300 深圳市 and 440305 南山区). A claim with no region joins none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.rules.authority import person_key
from models.catastrophes import CatastropheRules
from models.messages import Rules


def covers(area: str, region: str) -> bool:
    """Whether the division `area` contains the division `region` (or is it)."""
    prefix = area
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return region.startswith(prefix)


def joins(regions: list[str], starts_at: datetime, ends_at: datetime, claim_types: list[str], claim_type: str,
          region: str | None, occurred_at: datetime) -> bool:
    return (claim_type in claim_types and region is not None and starts_at <= occurred_at <= ends_at
            and any(covers(area, region) for area in regions))


def under(rules: Rules, cat: CatastropheRules, claim_type: str) -> Rules:
    """The claim's rules under the catastrophe: its reduced documents list (for the usual path and the fast path),
    the advance the workflow pays of its own initiative sooner (its days, its share while disputed), and the
    adjusters' and supervisors' authority raised by the uplift (a manager's has no limit to raise; the
    system's fast-path limit and the four-eyes threshold stay, so the money guard holds as it does). A catastrophe
    that names its team raises the authority of its team's members alone; everyone else keeps the claim's own."""
    changes: dict[str, object] = {}
    documents = cat.documents.get(claim_type)  # type: ignore[call-overload]
    if documents is not None:
        changes["required_documents"] = {**rules.required_documents, claim_type: list(documents)}
        changes["documents_by_cause"] = {**rules.documents_by_cause, claim_type: {}}
        fast = [d for d in rules.fast_path_documents.get(claim_type, []) if d in documents]
        changes["fast_path_documents"] = {**rules.fast_path_documents, claim_type: fast}
    sla: dict[str, object] = {}
    if cat.advance_days is not None:  # sooner, never later, than the law's
        sla["advance_payment_days"] = min(cat.advance_days, rules.sla.advance_payment_days)
    if cat.advance_share is not None:
        sla["advance_share_in_dispute"] = cat.advance_share
    if sla:
        changes["sla"] = rules.sla.model_copy(update=sla)
    if cat.authority_uplift != 1:
        changes["authority_limits"] = {role: None if limit is None else (limit * cat.authority_uplift).quantize(
            Decimal("0.01")) for role, limit in rules.authority_limits.items()}
        if cat.team:  # the uplift is the team's alone: everyone else keeps the claim's own limits
            changes["authority_team"] = sorted({person_key(who) for who in cat.team})
            changes["authority_limits_outside_team"] = dict(rules.authority_limits)
    return rules.model_copy(update=changes)
