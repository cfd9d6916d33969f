"""Which documents a claim needs, which path it takes and whether it is investigated."""

from __future__ import annotations

from collections.abc import Iterable

from models.contract import ClaimInput, DocumentRef, Path, RiskAssessment
from models.messages import Rules


def required_documents(rules: Rules, claim_type: str, cause: str) -> list[str]:
    docs = list(rules.required_documents[claim_type])
    docs += [d for d in rules.documents_by_cause.get(claim_type, {}).get(cause.lower(), []) if d not in docs]
    return docs


def still_missing(required: Iterable[str], submitted: Iterable[str]) -> list[str]:
    have = set(submitted)
    return [kind for kind in required if kind not in have]


def kinds_counted(documents: Iterable[DocumentRef], one_ref_one_kind: bool = True) -> list[str]:
    """The kinds the documents stand for: one file is one document, counted for the first kind it was sent as
    (the same reference sent again as another kind stands for nothing more). `one_ref_one_kind` False: every
    kind a reference was sent as counts (claims started before the rule)."""
    seen: set[str] = set()
    kinds: list[str] = []
    for document in documents:
        if one_ref_one_kind and document.ref in seen:
            continue
        seen.add(document.ref)
        kinds.append(document.kind)
    return kinds


def fast_path_refusal(claim: ClaimInput, risk: RiskAssessment, rules: Rules,
                      one_ref_one_kind: bool = True) -> str | None:
    """Why the claim cannot take the fast path, or None when it can."""
    kind = claim.claim_type.value
    limit = rules.fast_path_limits[kind]
    if claim.claimed_amount > limit:
        return f"claimed amount above the fast-path limit {limit}"
    if claim.incident.injuries:
        return "injuries reported"
    if claim.incident.major:
        return "major incident"
    if risk.level != "low":
        return f"risk {risk.level}"
    missing = still_missing(rules.fast_path_documents[kind], kinds_counted(claim.documents, one_ref_one_kind))
    if missing:
        return "fast-path documents missing: " + ", ".join(missing)
    return None


def choose_path(claim: ClaimInput, risk: RiskAssessment, rules: Rules, one_ref_one_kind: bool = True) -> Path:
    if claim.incident.major:
        return Path.GREEN
    return Path.FAST if fast_path_refusal(claim, risk, rules, one_ref_one_kind) is None else Path.STANDARD


def investigation_reason(claim: ClaimInput, risk: RiskAssessment, rules: Rules) -> str | None:
    """Why the claim is investigated (docs/lifecycle.md, step 5), or None."""
    if risk.level == "high":
        return "high risk"
    if risk.level == "medium" and claim.claimed_amount > rules.investigation_amount_threshold:
        return f"medium risk and amount above {rules.investigation_amount_threshold}"
    if claim.incident.injuries:
        return "injuries reported"
    if claim.incident.major:
        return "major incident"
    return None
