"""Sample claims for the tests: the contract's example, and variants of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

ALL_AUTO_DOCS = ["claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                 "repair_invoice", "damage_photos"]


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def docs(*kinds: str, claim_id: str = "x") -> list[dict[str, str]]:
    return [{"kind": k, "ref": f"doc://{claim_id}/{k}.pdf"} for k in kinds]


def auto_claim(claim_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    claim_id = claim_id or f"C-{uuid.uuid4().hex[:8]}"
    claim: dict[str, Any] = {
        "claim_id": claim_id, "policy_number": "P-AUTO-001", "claim_type": "auto",
        "claimant": {"name": "Li Lei", "phone": "13800000000", "email": "li@example.com", "channel": "sms"},
        "incident": {"occurred_at": days_ago(1), "description": "rear-ended at a light",
                     "cause": "collision", "injuries": False, "major": False},
        "claimed_amount": "3200.00",
        "line_items": [{"description": "bumper repair", "amount": "3200.00", "category": "repair"}],
        "documents": docs("claim_form", "damage_photos", "repair_invoice", claim_id=claim_id),
        "bank_account": {"holder": "Li Lei", "number": "6222000011112222"},
    }
    for key, value in overrides.items():
        if key == "incident":
            claim["incident"] = {**claim["incident"], **value}
        else:
            claim[key] = value
    return claim


def pdf(label: str) -> bytes:
    """A small PDF whose content (so whose SHA-256) is the label's."""
    return f"%PDF-1.4\n% {label}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".encode()
