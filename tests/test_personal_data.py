"""No personal data in the clear (docs/rules.md#personal-data), scanned where an outsider would look: the demo's claims
down every path, then what the `temporal` CLI shows of each history (no codec: what anyone with read access to the
namespace sees), the worker's log, and every row of every table."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from config.settings import PROJECT_ROOT, Settings
from config.temporal import installed_binary, stop_embedded_server
from db.engine import make_engine
from demo.services import stop_background
from models.tables import ClaimEventRow, EventOutboxRow, Notification
from testkit.api_stack import free_port
from testkit.claims import auto_claim, docs

pytestmark = pytest.mark.devserver

PERSONAL = ["Li Lei", "13800000000", "li@example.com", "6222000011112222", "6222000011113333"]
"""The sample claimant's name, phone, e-mail and both account numbers the demo pays to."""

NEEDED_IN_CLEAR = {("gateway_transfers", "account_number"), ("policies", "holder_name"),
                   ("policy_periods", "holder_name")}
"""The columns that hold personal data in the clear because their work needs it: the account the embedded
gateway's transfer goes to (a real gateway keeps its own), and the policy holder's name (policy administration's
record). docs/rules.md lists them."""


def personal_data_in_tables(engine: Engine) -> set[tuple[str, str]]:
    """(table, column) of every stored value that contains a claimant's name, phone, e-mail or account number."""
    found = set()
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                for column, value in row.items():
                    text = json.dumps(value, default=str) if not isinstance(value, str) else value
                    if any(p in text for p in PERSONAL):
                        found.add((table.name, column))
    return found


BASE64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


def in_the_clear(text: str) -> list[str]:
    """The personal values in this text, as they are or inside any base64 (how a payload's data is shown)."""
    decoded = [base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace")
               for run in BASE64.findall(text) if len(run.rstrip("=")) % 4 != 1]
    return [value for value in PERSONAL if value in text or any(value in d for d in decoded)]


def test_every_path_leaves_no_personal_data_in_histories_logs_or_tables(tmp_path: Path):
    var = tmp_path / "var"
    env = {**os.environ, "CLAIMS_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{tmp_path / 'claims.db'}",
           "CLAIMS_SLA_PROFILE": "demo", "CLAIMS_EMBEDDED_PORT": str(free_port()),
           "CLAIMS_EMBEDDED_UI_PORT": str(free_port()), "CLAIMS_LOG_FORMAT": "json", "CLAIMS_LOG_LEVEL": "DEBUG",
           "CLAIMS_API_PORT": str(free_port())}
    for name in ("TEMPORAL_ADDRESS", "CLAIMS_ENCRYPTION_KEYS", "CLAIMS_ENCRYPTION_KEY_FILE", "CLAIMS_RULES_FILE"):
        env.pop(name, None)
    settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_EMBEDDED_PORT=int(env["CLAIMS_EMBEDDED_PORT"]),
                        CLAIMS_API_PORT=int(env["CLAIMS_API_PORT"]))
    try:
        demo = subprocess.run([sys.executable, "starter.py", "demo"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert re.search(r"All \d+ sample claims reached their expected outcome", demo.stdout), demo.stdout
        workbench = f"http://127.0.0.1:{env['CLAIMS_API_PORT']}/app"
        assert demo.stdout.rstrip().splitlines()[-1].endswith(f"{workbench}  (sign in as a demo supervisor, sup-1)")
        assert httpx.get(workbench, timeout=10, follow_redirects=True).status_code == 200, "the workbench runs on"

        address = ["--address", f"127.0.0.1:{env['CLAIMS_EMBEDDED_PORT']}"]
        listed = subprocess.run([str(installed_binary("temporal")), "workflow", "list", *address, "-o", "json"],
                                capture_output=True, text=True, check=True).stdout
        ids = sorted({json.loads(line)["execution"]["workflowId"] for line in listed.splitlines() if line.strip()}
                     if not listed.lstrip().startswith("[") else
                     {w["execution"]["workflowId"] for w in json.loads(listed)})
        assert len([i for i in ids if i.startswith("claim-")]) >= 14, ids  # the malformed claim never starts
        for workflow_id in ids:
            shown = subprocess.run([str(installed_binary("temporal")), "workflow", "show", *address,
                                    "--workflow-id", workflow_id, "-o", "json"],
                                   capture_output=True, text=True, check=True).stdout
            assert '"WorkflowExecutionStarted"' in shown or "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED" in shown
            assert in_the_clear(shown) == [], f"{workflow_id}'s history shows {in_the_clear(shown)}"
    finally:
        stopped = stop_background(settings)
        stop_embedded_server(settings)
    assert set(stopped) == {"api", "worker", "demo-worker"}, "the demo left the workbench running"

    log = demo.stderr + "".join(p.read_text(encoding="utf-8") for p in (var / "api.log", var / "worker.log"))
    assert log.count("\n") > 20, "the worker logged next to nothing: the scan would prove nothing"
    assert in_the_clear(log) == [], f"the worker's log holds {in_the_clear(log)}"

    letters = [p for p in (var / "outbox").rglob("*") if p.is_file()]
    assert len(letters) > 20, "the demo sent next to no letters: the scan of the outbox folder would prove nothing"
    written = "".join(p.read_text(encoding="utf-8") for p in letters)
    assert in_the_clear(written) == [], f"the outbox folder holds {in_the_clear(written)}"
    assert not re.search(r"验证码|\b[0-9]{6}\b", written), "a one-time code sits in the outbox folder in the clear"

    engine = make_engine(env["DATABASE_URL"])
    try:
        found = personal_data_in_tables(engine)
    finally:
        engine.dispose()
    assert found <= NEEDED_IN_CLEAR, f"personal data in the clear outside the documented columns: {found}"
    assert ("gateway_transfers", "account_number") in found, "the scan saw no payment: it proves nothing"


# The formats the contract accepts for a claimant's phone, written as people write them, and what people type into a
# reason: the claimant's name, their ID number in groups with an x, an account number, an e-mail.
PHONES = ["+86 139 0013 8001", "139-0013-8002", "13900138003", "021-6888 8004", "+86 0571 8888 8005"]
TYPED = ("王小明 asks to withdraw; call 王小明 on {phone} or 138 0000 1111, ID 110101 19900101 123x, "
         "ID 11010119900101456X, account 6222000099998888 or 621700123, mail wxm.private@example.com")


@pytest.mark.parametrize("phone", PHONES)
async def test_typed_text_is_stored_and_published_without_personal_data_in_any_accepted_format(claims, phone):
    claim = auto_claim(policy_number="P-HEALTH-001", claim_type="health", claimed_amount="2600.00",
                       incident={"cause": "illness"}, line_items=[], documents=docs("claim_form"))
    claim["claimant"] = {**claim["claimant"], "name": "王小明", "phone": phone, "channel": "sms"}
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await claims.update(cid, "withdraw", {"by": "call-centre", "reason": TYPED.format(phone=phone)})
    await handle.result()
    with Session(claims.engine) as session:
        details = [r.detail for r in session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == cid))]
        bodies = [r.body for r in session.exec(select(EventOutboxRow).where(EventOutboxRow.subject == cid))]
        recipients = [r.recipient for r in session.exec(select(Notification).where(Notification.claim_id == cid))]
    withdrawn = next(d for d in details if "withdraw" in d)
    assert "****8888" in withdrawn and "110***********123x" in withdrawn, withdrawn  # the scan saw the reason
    stored = "\n".join(details + bodies + recipients)
    digits = re.sub(r"\D", "", phone)
    for secret in ["王小明", phone, digits[-11:], "13800001111", "138 0000 1111", "19900101", "6222000099998888",
                   "621700123", "wxm.private"]:
        assert secret not in stored, f"{secret!r} is stored or published in the clear"
