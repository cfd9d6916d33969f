"""What `make demo` leaves for people after the sample claims: claims on the statutory clock that wait for a
supervisor, an investigator and the claimant, and a paid claim's progress page opened as its claimant would."""

from __future__ import annotations

import asyncio
import re

import httpx
from temporalio.client import Client

from client.claims import Refused, parse_claim, start_claim
from config.settings import Settings
from demo.desk import Desk, at_stage, wait_for
from demo.samples import base_claim, documents


async def open_progress_page(url: str, desk: Desk, claim_id: str) -> str:
    """Open a claim's progress page as its claimant does: ask for a code, read it from the outbox (the phone), type
    it, and see the claim's outcome; where the page said the code went. Fails the demo if any step does not."""
    async with httpx.AsyncClient(base_url=url, timeout=30, follow_redirects=True) as http:
        asked = await http.post(f"/c/{claim_id}/code")
        sent_to = re.search(r"已发送至 (\S+?)，", asked.text)
        deadline = asyncio.get_running_loop().time() + 120
        while True:  # the code goes out through a worker: wait for it, not for a time
            try:
                code = desk.code_received(claim_id, "progress")
                break
            except RuntimeError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
        opened = await http.post(f"/c/{claim_id}/verify", data={"code": code})
    if opened.status_code != 200 or 'id="steps"' not in opened.text or "已赔付" not in opened.text:
        raise Refused(f"the progress page of {claim_id} did not open with its code ({opened.status_code})")
    return sent_to.group(1) if sent_to else "the phone on file"


STAGE_WORDS = {"awaiting_approval": "awaiting a supervisor's approval", "investigating": "under investigation",
               "awaiting_documents": "waiting for materials"}


async def leave_claims_to_decide(client: Client, settings: Settings, prefix: str) -> list[tuple[str, str]]:
    """Claims the workbench's worker runs on the statutory clock, each waiting for a person: three for a
    supervisor's approval (above an adjuster's authority, below the investigation threshold), one under
    investigation and one waiting for the claimant's materials. Each claim id and the stage it waits at."""
    auto_all = ["claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                "repair_invoice", "damage_photos"]
    waiting = [(f"{prefix}-W{n}", amount, auto_all, "awaiting_approval")
               for n, amount in ((1, "12800.00"), (2, "15600.00"), (3, "18400.00"))]
    waiting += [(f"{prefix}-W4", "36000.00", auto_all, "investigating"),
                (f"{prefix}-W5", "6400.00", ["claim_form"], "awaiting_documents")]
    for claim_id, amount, kinds, stage in waiting:
        claim = base_claim(claim_id, policy_number=f"P-AUTO-002-{prefix}", claimed_amount=amount,
                           line_items=[{"description": "body repair", "amount": amount}],
                           documents=documents(claim_id, *kinds))
        if stage == "investigating":  # an injury is investigated whatever the amount
            claim["incident"] = {**claim["incident"], "injuries": True, "description": "rear-ended, neck injury"}
        await start_claim(client, parse_claim(claim), settings.task_queue)
    for claim_id, _, _, stage in waiting:
        await wait_for(client, claim_id, at_stage(stage))
    return [(claim_id, stage) for claim_id, _, _, stage in waiting]
