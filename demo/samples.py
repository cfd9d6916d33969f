"""The sample claim every demo claim is drawn from (`samples/claim.json`, incident yesterday), and its documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from config.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples"


def base_claim(claim_id: str, **changes: Any) -> dict[str, Any]:
    claim: dict[str, Any] = json.loads((SAMPLES / "claim.json").read_text(encoding="utf-8"))
    claim["claim_id"] = claim_id
    claim["incident"]["occurred_at"] = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(claim.get(key), dict):
            claim[key] = {**claim[key], **value}
        else:
            claim[key] = value
    return claim


def documents(claim_id: str, *kinds: str) -> list[dict[str, str]]:
    return [{"kind": k, "ref": f"doc://{claim_id.lower()}/{k}.pdf"} for k in kinds]
