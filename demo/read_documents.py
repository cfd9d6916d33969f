"""The demo's claims whose invoices are uploaded and read by machine: one that matches and is paid on the fast
path, one that claims less than its invoice says and waits for a supervisor."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from demo.desk import Desk, at_stage, wait_for
from demo.document_images import render_invoice
from documents.store import DocumentStore


def uploaded_invoice(store: DocumentStore, claim_id: str, total: str) -> dict[str, str]:
    """A repair invoice drawn for the claim and stored as the API stores an upload."""
    amount = float(total)
    image = render_invoice({"invoice_no": "2431" + "".join(f"{ord(c) % 10}" for c in claim_id).ljust(16, "0")[:16],
                            "date": datetime.now(UTC).date(), "issuer": "上海瑞金汽车维修有限公司",
                            "tax_id": "91310000T73FNYEYQN", "buyer": "李雷",
                            "items": [("*修理修配劳务*车辆维修费", amount)], "total": amount})
    out = io.BytesIO()
    image.save(out, format="PNG")
    return {"kind": "repair_invoice", "ref": store.put(out.getvalue(), "image/png").ref}


def what_was_read(status: dict[str, Any]) -> str:
    reading = status["document_readings"][0]
    fields = reading["fields"]
    return (f"invoice read by machine: total ¥{fields.get('total', {}).get('value', '?')}, dated "
            f"{fields.get('date', {}).get('value', '?')}, in {reading['seconds']:.1f}s")


async def invoice_read(desk: Desk, claim_id: str, notes: list[str]) -> None:
    status = await wait_for(desk.client, claim_id, lambda s: s["outcome"] is not None)
    notes.append(what_was_read(status) + "; it matches the claim: no person needed")


async def invoice_above_claim(desk: Desk, claim_id: str, notes: list[str]) -> None:
    status = await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    reason = next(r for r in status["risk"]["reasons"] if r["rule"] == "invoice_total_mismatch")
    notes.append(f"{what_was_read(status)}: {reason['detail']} (+{reason['points']}), so a person approves")
    await desk.send(claim_id, "approve", {"approver_id": "sup-liu", "role": "supervisor",
                                          "comment": "garage confirmed the extra parts were not claimed"})
