"""Verified identity on every update (docs/rules.md#identity-and-access): the workflow itself refuses a credential
that is missing, expired, forged, from another issuer or for another service (NotAuthenticated), or that names
another person, role or kind of sender than the payload (NotAuthorized). Refused updates leave no trace."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from audit.trail import build_trail, render_text
from cli.main import main as starter
from config.encryption import EncryptionCodec, decrypted_history
from config.settings import Settings
from core.rules import access
from identity import development, keys
from identity.actions import Action
from identity.keys import LocalKeys, RemoteKeys, Verifier
from identity.tokens import NotAuthenticated, sender_of, verify
from models.contract import Sender, workflow_id_for
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.world import TEST_KEYRING


def forged(settings: Settings, **claims: Any) -> str:
    """A token shaped like the development issuer's, signed by another key under the same key id."""
    _, kid = development.signing_key(settings.var_dir)
    now = int(time.time())
    body = {"iss": development.ISSUER, "aud": settings.oidc_audience, "sub": "mgr-1", "roles": ["manager"],
            "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})


def signed(settings: Settings, **claims: Any) -> str:
    """A token signed by the development issuer's own key, with some claims changed."""
    private, kid = development.signing_key(settings.var_dir)
    now = int(time.time())
    body = {"iss": development.ISSUER, "aud": settings.oidc_audience, "sub": "mgr-1", "roles": ["manager"],
            "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, private, algorithm="ES256", headers={"kid": kid})  # type: ignore[arg-type]


async def accepted_updates(handle: Any) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))


async def refusal(handle: Any, name: str, payload: dict[str, Any]) -> ApplicationError:
    try:
        await handle.execute_update(name, payload)
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError), err.cause
        return err.cause
    raise AssertionError(f"{name} with {payload} was accepted, expected a refusal")


def proof(settings: Settings, action: Action, subject: str = "mgr-1", roles: tuple[str, ...] = ("manager",), *,
          key: Any = None, kid: str | None = None, **changes: Any) -> str:
    """An action proof like the API's, with some claims changed, signed by its key unless another is given."""
    private, own_kid = keys.signer_for(settings)._private, keys.signer_for(settings).kid
    now = int(time.time())
    body = {"iss": settings.action_issuer, "aud": "urn:claims:workflows", "sub": subject, "roles": list(roles),
            "subject_issuer": development.ISSUER, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex,
            "authorization_details": [action.detail()], **changes}
    return jwt.encode(body, key or private, algorithm="ES256", headers={"kid": kid or own_kid})


async def test_bad_credentials_are_refused_with_typed_errors_and_leave_no_trace_in_history(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="800000.00", line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    wf = workflow_id_for(cid)
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    approve = {"approver_id": "mgr-1", "role": "manager", "comment": "ok"}
    this = Action.of(wf, "approve", approve)
    hour_ago = int(time.time()) - 3600
    other_key = ec.generate_private_key(ec.SECP256R1())
    settings = claims.settings

    def as_(name: str, payload: dict[str, Any], subject: str | None = None, *roles: str) -> dict[str, Any]:
        return claims.proof_for(wf, name, payload, subject, *roles)

    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("no credential", "approve", approve, "NotAuthenticated"),
        ("an empty credential", "approve", {**approve, "credential": ""}, "NotAuthenticated"),
        ("not a token", "approve", {**approve, "credential": "hello"}, "NotAuthenticated"),
        ("the person's own bearer token", "approve",
         {**approve, "credential": claims.token("mgr-1", "manager")}, "NotAuthenticated"),
        ("an expired proof", "approve",
         {**approve, "credential": proof(settings, this, iat=hour_ago, exp=hour_ago + 300)}, "NotAuthenticated"),
        ("a proof that lives too long", "approve",
         {**approve, "credential": proof(settings, this, exp=int(time.time()) + 3600)}, "NotAuthenticated"),
        ("a forged signature", "approve", {**approve, "credential": proof(settings, this, key=other_key)},
         "NotAuthenticated"),
        ("a key nobody published", "approve",
         {**approve, "credential": proof(settings, this, key=other_key, kid="not-published")}, "NotAuthenticated"),
        ("another issuer", "approve", {**approve, "credential": proof(settings, this, iss="https://idp.example")},
         "NotAuthenticated"),
        ("another audience", "approve", {**approve, "credential": proof(settings, this, aud="claims")},
         "NotAuthenticated"),
        ("a proof bound to another claim", "approve",
         claims.proof_for("claim-C-OTHER", "approve", approve), "NotAuthenticated"),
        ("a proof for another update", "approve",
         {**approve, "credential": claims.proof_for(wf, "reject", approve)["credential"]}, "NotAuthenticated"),
        ("a proof for another payload", "approve",
         {**approve, "comment": "changed", "credential": as_("approve", approve)["credential"]}, "NotAuthenticated"),
        ("a proof for two actions", "approve", {**approve, "credential": proof(
            settings, this, authorization_details=[this.detail(), Action.of(wf, "reject", approve).detail()])},
         "NotAuthenticated"),
        ("a proof without its action", "approve",
         {**approve, "credential": proof(settings, this, authorization_details=[])}, "NotAuthenticated"),
        ("another person's proof", "approve", as_("approve", approve, "mgr-2", "manager"), "NotAuthorized"),
        ("a role the proof lacks", "approve", as_("approve", approve, "mgr-1", "supervisor"), "NotAuthorized"),
        ("a channel's proof on a staff update", "approve", as_("approve", approve, "portal", "channel"),
         "NotAuthorized"),
        ("a staff proof on a claimant-side update", "submit_documents",
         as_("submit_documents", {"documents": docs("id_card", claim_id=cid)}, "mgr-1", "manager"), "NotAuthorized"),
        ("a withdrawal by someone other than the channel", "withdraw",
         as_("withdraw", {"by": "call-centre", "reason": "settled"}, "portal", "channel"), "NotAuthorized"),
        ("a staff proof on update_bank_account", "update_bank_account",
         as_("update_bank_account", {"holder": "Mallory", "number": "6222000011119999", "code": "123456"},
             "sup-1", "supervisor"), "NotAuthorized"),
        ("a bank account change without the claimant's code", "update_bank_account",
         as_("update_bank_account", {"holder": "Mallory", "number": "6222000011119999"}), "ClaimantCodeRefused"),
        ("a bank account change with a code nobody sent", "update_bank_account",
         as_("update_bank_account", {"holder": "Mallory", "number": "6222000011119999", "code": "123456"}),
         "ClaimantCodeRefused"),
        ("an adjuster escalating", "escalate", as_("escalate", {"by": "adj-1", "reason": "large"}, "adj-1", "adjuster"),
         "NotAuthorized"),
    ]
    for what, name, payload, expected in cases:
        err = await refusal(handle, name, payload)
        assert err.type == expected, f"{what}: refused as {err.type} ({err.message}), expected {expected}"
        assert "eyJ" not in str(err.message), f"{what}: the refusal repeats the token"
    assert await accepted_updates(handle) == 0, "a refused update entered the workflow history"
    status = await claims.status(cid)
    assert status["stage"] == "awaiting_approval" and status["approvals"] == []


async def test_a_proof_is_spent_once_even_when_sent_twice_at_once(claims):
    """One proof, two deliveries (one after the other, and two at the same moment): one action."""
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    first = await claims.proved(workflow_id_for(cid), "assign", {"by": "sup-1", "handler_id": "adj-1"})
    await handle.execute_update("assign", first)
    again = await refusal(handle, "assign", first)
    assert again.type == "NotAuthenticated" and "used already" in again.message, again.message
    second = await claims.proved(workflow_id_for(cid), "assign", {"by": "sup-1", "handler_id": "adj-2"})
    results = await asyncio.gather(handle.execute_update("assign", second), handle.execute_update("assign", second),
                                   return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], WorkflowUpdateFailedError) and "used already" in str(refused[0].cause), refused
    status = await claims.status(cid)
    assert [e["detail"] for e in status["timeline"] if e["event"] == "assigned"] == ["handler adj-1", "handler adj-2"]


async def test_a_valid_token_is_accepted_and_its_sender_recorded_without_the_token(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="800000.00", line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    sent = await claims.proved(workflow_id_for(cid), "approve", {"approver_id": "mgr-1", "role": "manager"},
                               "MGR-1", "manager", "adjuster")
    token = sent["credential"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    await handle.execute_update("approve", sent)
    status = await claims.status(cid)
    expected = {"issuer": development.ISSUER, "subject": "MGR-1", "roles": ["manager", "adjuster"], "token_id": jti}
    entry = next(e for e in status["timeline"] if e["event"] == "approved")
    assert entry["by"] == "mgr-1" and entry["sender"] == expected, entry
    assert status["approvals"][0]["sender"] == expected
    assert token not in json.dumps(status), "the status shows the token itself"
    assert await accepted_updates(handle) == 1
    history = decrypted_history((await handle.fetch_history()).to_json_dict(), EncryptionCodec(TEST_KEYRING))
    trail = render_text(build_trail(history))
    assert f"sender: MGR-1 (manager, adjuster) from {development.ISSUER}, token {jti}" in trail, trail
    assert token not in trail, "the decision trail shows the token itself"


async def test_the_status_shows_the_investigations_sender_but_not_its_token(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="150000.00", incident={"injuries": True},
                       line_items=[{"description": "repair", "amount": "150000.00"}], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    refused = await claims.refused(cid, "record_investigation", await claims.proved(
        workflow_id_for(cid), "record_investigation", {"investigator_id": "adj-1", "findings": "as reported"},
        "adj-1", "adjuster"))
    assert refused.type == "NotAuthorized" and "investigator" in refused.message
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
    status = await claims.wait(cid, lambda s: s["investigation"] is not None, "investigation recorded")
    assert status["investigation"]["credential"] is None, "the status shows the investigator's token"
    entry = next(e for e in status["timeline"] if e["event"] == "investigation_recorded")
    assert (entry["by"], entry["sender"]["subject"], entry["sender"]["roles"]) == ("inv-1", "inv-1", ["investigator"])


async def test_a_channel_token_sends_the_claimant_side_updates(claims):
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await claims.handle(cid).execute_update("withdraw", await claims.proved(
        workflow_id_for(cid), "withdraw", {"by": "Call-Centre", "reason": "settled privately"},
        "call-centre", "channel"))
    status = await claims.wait(cid, lambda s: s["outcome"] == "withdrawn", "withdrawn")
    entry = next(e for e in status["timeline"] if e["event"] == "withdrawal_requested")
    assert entry["sender"]["subject"] == "call-centre" and entry["sender"]["roles"] == ["channel"]


# --------------------------------------------------------------------------- the verifier on its own


def test_the_verifier_checks_expiry_against_the_moment_it_is_given(settings):
    development.signing_key(settings.var_dir)
    keys = LocalKeys(development.jwks_path(settings.var_dir))
    now = datetime.now(UTC)
    token = development.mint(settings.var_dir, subject="sup-7", roles=["supervisor"], audience="claims",
                             ttl_seconds=600, issued_at=now.timestamp())
    sender = verify(token, keys, issuer=development.ISSUER, audience="claims", now=now)
    assert (sender.subject, sender.roles) == ("sup-7", ["supervisor"])
    with pytest.raises(NotAuthenticated, match="expired"):
        verify(token, keys, issuer=development.ISSUER, audience="claims", now=now + timedelta(hours=1))
    with pytest.raises(NotAuthenticated, match="not valid yet"):
        verify(token, keys, issuer=development.ISSUER, audience="claims", now=now - timedelta(hours=1))


def test_a_token_that_lives_longer_than_a_working_day_is_refused(settings):
    """Whatever the issuer wrote: a ten-year token read somewhere would otherwise work for ten years."""
    development.signing_key(settings.var_dir)
    keys = LocalKeys(development.jwks_path(settings.var_dir))
    now = datetime.now(UTC)
    for years in (10, 0):
        ttl = years * 365 * 86400 or 12 * 3600
        token = development.mint(settings.var_dir, subject="sup-7", roles=["supervisor"], audience="claims",
                                 ttl_seconds=ttl, issued_at=now.timestamp())
        if years:
            with pytest.raises(NotAuthenticated, match="lives 87600 hours; this service accepts tokens of at most 12"):
                verify(token, keys, issuer=development.ISSUER, audience="claims", now=now)
        else:
            assert verify(token, keys, issuer=development.ISSUER, audience="claims", now=now).subject == "sup-7"
    with pytest.raises(NotAuthenticated, match="at most 1 hours"):  # the ceiling is a setting
        Verifier(keys, development.ISSUER, "claims", max_lifetime=3600).verify(token, now)


def test_unsigned_and_shared_secret_tokens_are_refused(settings):
    development.signing_key(settings.var_dir)
    keys = LocalKeys(development.jwks_path(settings.var_dir))
    body = {"iss": development.ISSUER, "aud": "claims", "sub": "sup-7", "roles": ["manager"], "iat": time.time(),
            "exp": time.time() + 60, "jti": "1"}
    for token in (jwt.encode(body, None, algorithm="none"), jwt.encode(body, "s" * 32, algorithm="HS256",
                                                                        headers={"kid": "x"})):
        with pytest.raises(NotAuthenticated):
            verify(token, keys, issuer=development.ISSUER, audience="claims", now=datetime.now(UTC))


def test_the_development_signing_key_is_readable_by_its_owner_only(settings):
    development.signing_key(settings.var_dir)
    key_file = development.key_dir(settings.var_dir) / "dev-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "d" not in json.loads(development.jwks_path(settings.var_dir).read_text())["keys"][0], \
        "the public key set holds a private part"


def test_sender_of_reads_what_the_token_names(settings):
    token = development.mint(settings.var_dir, subject="portal", roles=["channel"], audience="claims")
    sender = sender_of(token)
    assert sender is not None and (sender.issuer, sender.subject, sender.roles) == (development.ISSUER, "portal",
                                                                                    ["channel"])
    assert sender_of(None) is None and sender_of("garbage") is None


class JwksServer:
    """A tiny issuer's JWKS endpoint on 127.0.0.1: serves whatever key set it is given, counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    served = JwksServer()
    yield served
    served.server.shutdown()
    served.server.server_close()


def issuer_key(kid: str) -> tuple[Any, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "ES256"}


def issuer_token(private: Any, kid: str, sub: str = "sup-7") -> str:
    now = int(time.time())
    return jwt.encode({"iss": "https://idp.example/realms/claims", "aud": "claims", "sub": sub, "roles": ["supervisor"],
                       "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}, private, algorithm="ES256",
                      headers={"kid": kid})


def test_a_real_issuers_new_key_is_fetched_when_a_token_names_an_unknown_key_id(jwks_server):
    first, first_jwk = issuer_key("2026-a")
    second, second_jwk = issuer_key("2026-b")
    jwks_server.keys = [first_jwk]
    keys = RemoteKeys(jwks_server.url, cooldown=0)
    keys.prefetch()
    check = dict(issuer="https://idp.example/realms/claims", audience="claims")
    assert verify(issuer_token(first, "2026-a"), keys, now=datetime.now(UTC), **check).subject == "sup-7"
    fetched = jwks_server.fetches
    assert verify(issuer_token(first, "2026-a"), keys, now=datetime.now(UTC), **check)
    assert jwks_server.fetches == fetched, "a known key id fetched the key set again"
    jwks_server.keys = [first_jwk, second_jwk]  # the issuer rotates its signing key
    assert verify(issuer_token(second, "2026-b", "mgr-1"), keys, now=datetime.now(UTC), **check).subject == "mgr-1"
    assert jwks_server.fetches == fetched + 1
    with pytest.raises(NotAuthenticated, match="does not trust"):
        verify(issuer_token(ec.generate_private_key(ec.SECP256R1()), "2026-z"), keys, now=datetime.now(UTC), **check)


def test_keys_already_fetched_keep_working_while_the_issuer_is_unreachable(jwks_server):
    private, jwk = issuer_key("k1")
    jwks_server.keys = [jwk]
    keys = RemoteKeys(jwks_server.url, cooldown=0, lifespan=0.01)
    keys.prefetch()
    assert keys.key("k1") is not None
    jwks_server.server.shutdown()
    jwks_server.server.server_close()
    time.sleep(0.05)
    assert keys.key("k1") is not None, "a brief outage of the issuer's endpoint refuses every update"


# --------------------------------------------------------------------------- who may send what


def staff(subject: str, *roles: str) -> Sender:
    return Sender(issuer="i", subject=subject, roles=list(roles), token_id="t")


@pytest.mark.parametrize(("update", "sender", "actor", "role", "allowed"), [
    ("approve", staff("SUP-7", "supervisor"), "sup-7", "supervisor", True),
    ("approve", staff("sup-7", "supervisor"), "sup-7", "manager", False),
    ("approve", staff("sup-7", "system"), "sup-7", "system", False),
    ("record_investigation", staff("inv-1", "investigator"), "inv-1", None, True),
    ("record_investigation", staff("adj-1", "adjuster"), "adj-1", None, False),
    ("escalate", staff("sup-1", "supervisor"), "sup-1", None, True),
    ("assign", staff("adj-1", "adjuster"), "adj-1", None, False),
    ("reopen", staff("mgr-1", "manager"), "mgr-1", "manager", True),
    ("appeal", staff("portal", "channel"), None, None, True),
    ("withdraw", staff("Portal", "channel"), "portal", None, True),
    ("update_bank_account", staff("sup-1", "supervisor"), None, None, False),
    ("approve_advance", staff("portal", "channel", "supervisor"), "portal", "supervisor", False),
])
def test_who_may_send_which_update(update, sender, actor, role, allowed):
    problem = access.refusal(update, sender, actor, role)
    assert (problem is None) == allowed, problem or f"{sender} may not send {update}"


def test_the_starter_prints_development_tokens_and_refuses_with_a_real_issuer(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLAIMS_VAR_DIR", str(tmp_path / "var"))
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        assert starter(["token", "--sub", "sup-7", "--role", "supervisor", "--role", "adjuster", "--ttl", "60"]) == 0
        token = capsys.readouterr().out.strip()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["sub"], claims["roles"], claims["exp"] - claims["iat"]) == ("sup-7", ["supervisor", "adjuster"],
                                                                                   60)
        monkeypatch.setenv("CLAIMS_OIDC_ISSUER", "https://idp.example/realms/claims")
        get_settings.cache_clear()
        assert starter(["token", "--sub", "sup-7", "--role", "supervisor"]) == 2
        out = capsys.readouterr()
        assert out.out == "" and len(out.err.strip().splitlines()) == 1 and "real identity provider" in out.err
    finally:
        get_settings.cache_clear()
