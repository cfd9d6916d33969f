"""Nothing read from a history lets anyone act (docs/operators.md, "Threat model"): staff act through the API with
their own tokens; then every credential a history holds, as a Temporal operator holding the payload key reads it,
is tried as a bearer token on the API and at its token exchange, and as a Temporal update on the same claim and
on another, with the payload it came with and with one of the thief's choosing. Everything is refused, and no
bearer token used at the API is anywhere in the history."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.app import create_app
from config.encryption import EncryptionCodec, decrypted_history
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.world import TEST_KEYRING

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def payloads_in(history: dict[str, Any]) -> list[Any]:
    """Every decrypted JSON payload of a history, as the `temporal` CLI with the payload key shows them."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and "data" in node:
                try:
                    found.append(json.loads(base64.b64decode(node["data"])))
                except ValueError:
                    pass
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(history)
    return found


async def test_no_credential_read_from_a_history_acts_anywhere(claims, tmp_path):
    claim, other = (auto_claim(policy_number="P-AUTO-002", claimed_amount="15000.00", line_items=[],
                               documents=docs(*ALL_AUTO_DOCS, claim_id=name)) for name in ("mine", "theirs"))
    cid, oid = claim["claim_id"], other["claim_id"]
    handle = await claims.start(claim)
    other_handle = await claims.start(other)
    await claims.at_stage(cid, "awaiting_approval")
    await claims.at_stage(oid, "awaiting_approval")
    sup, portal = claims.token("sup-1", "supervisor"), claims.token("portal", "channel")
    app = create_app(ready=claims.services(tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        as_sup = {"Authorization": f"Bearer {sup}"}
        for action, body in (("assign", {"handler_id": "adj-1", "by": "sup-1"}),
                             ("escalate", {"by": "sup-1", "reason": "the amount"})):
            answer = await http.post(f"/claims/{cid}/actions/{action}", json=body, headers=as_sup)
            assert answer.status_code == 200, answer.text
        answer = await http.post(f"/claims/{cid}/actions/request_code", json={"purpose": "progress"},
                                 headers={"Authorization": f"Bearer {portal}"})
        assert answer.status_code == 200, answer.text

        raw = (await handle.fetch_history()).to_json_dict()
        history = decrypted_history(raw, EncryptionCodec(TEST_KEYRING))
        text = json.dumps(history) + json.dumps(payloads_in(history), ensure_ascii=False)
        assert sup not in text and portal not in text, "a caller's bearer token is in the history"
        sent = [p for p in payloads_in(history) if isinstance(p, dict) and p.get("credential")]
        assert len(sent) == 3, f"the three accepted updates carry their proofs: {sent}"
        stolen = sorted(set(JWT.findall(text)))
        assert len(stolen) >= 3, "the thief found the proofs"

        for credential in stolen:
            bearer = {"Authorization": f"Bearer {credential}"}
            for target in (cid, oid):
                answer = await http.post(f"/claims/{target}/actions/approve", headers=bearer,
                                         json={"approver_id": "sup-1", "role": "supervisor"})
                assert answer.status_code == 401, f"a proof from the history works as a bearer token: {answer.text}"
            answer = await http.post("/codec/decode", headers=bearer, json={"payloads": []})
            assert answer.status_code == 401, "a proof from the history opens the codec server"
            exchange = await http.post("/token", data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": credential,
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "authorization_details": json.dumps([{"type": "claim_update", "workflow_id": f"claim-{oid}",
                                                      "update": "approve", "payload": {"approver_id": "sup-1",
                                                                                       "role": "supervisor"}}])})
            assert exchange.status_code == 401, f"a proof from the history is exchanged for another: {exchange.text}"

    chosen = {"assign": {"handler_id": "adj-9", "by": "sup-1"}, "escalate": {"by": "sup-1", "reason": "mine now"},
              "approve": {"approver_id": "sup-1", "role": "supervisor"}, "request_code": {"purpose": "bank_account"}}
    update_of = {frozenset(body): name for name, body in chosen.items()}
    attempts = [(p, update_of[frozenset(k for k in p if k != "credential")]) for p in sent if "purpose" not in p]
    attempts += [(p, "request_code") for p in sent if "purpose" in p]
    attempts += [({**body, "credential": c}, name) for c in stolen for name, body in chosen.items()]
    for payload, name in attempts:
        for target in (handle, other_handle):
            try:
                await target.execute_update(name, payload)
            except WorkflowUpdateFailedError as err:
                assert isinstance(err.cause, ApplicationError) and err.cause.type == "NotAuthenticated", \
                    f"{name} on {target.id}: refused as {err.cause}"
            else:
                raise AssertionError(f"a credential from the history sent {name} to {target.id}")
    for cl in (cid, oid):
        status = await claims.status(cl)
        assert status["stage"] == "awaiting_approval" and status["approvals"] == [], "the claim moved"
    assert [e["event"] for e in (await claims.status(oid))["timeline"]].count("assigned") == 0
