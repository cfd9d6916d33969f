"""The services every HTTP route uses, set on the app at start-up (or by a test)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request
from sqlalchemy.engine import Engine
from temporalio.client import Client

from config.encryption import EncryptionCodec
from documents.store import DocumentStore
from edge.budget import ANONYMOUS_CHECKS_PER_HOUR, ANONYMOUS_CODES_PER_HOUR, AddressBudget
from identity.actions import ActionSigner
from identity.keys import Verifier
from identity.oidc import Login


class Services:
    """What the routes use: set on the app at start-up (or by a test)."""

    def __init__(self, client: Client, engine: Engine, store: DocumentStore, verifier: Verifier, code_secret: bytes,
                 task_queue: str, max_upload_bytes: int, codec: EncryptionCodec,
                 session_same_site: Literal["strict", "lax", "none"] = "strict",
                 demo_tokens: Callable[[str, tuple[str, ...]], str] | None = None,
                 portal_token: Callable[[], str] | None = None, report_timezone: str = "Asia/Shanghai",
                 login: Login | None = None, secure_cookies: bool = False,
                 code_budget: AddressBudget | None = None,
                 codec_roles: frozenset[str] = frozenset({"auditor", "supervisor", "manager"}),
                 signer: ActionSigner | None = None, hotline: str | None = None) -> None:
        self.client = client
        self.engine = engine
        self.store = store
        self.verifier = verifier
        self.code_secret = code_secret
        self.task_queue = task_queue
        self.max_upload_bytes = max_upload_bytes
        self.codec = codec
        self.session_same_site = session_same_site
        self.demo_tokens = demo_tokens
        """Mints a token for a demo staff member: only with the development issuer (the sign-in page's list)."""
        self.portal_token = portal_token
        """The self-service channel's token, which the claimant pages act with (identity/portal.py)."""
        self.report_timezone = report_timezone
        self.login = login
        self.secure_cookies = secure_cookies
        self.code_budget = code_budget or AddressBudget(ANONYMOUS_CODES_PER_HOUR, 3600)
        self.check_budget = AddressBudget(ANONYMOUS_CHECKS_PER_HOUR, 3600)
        """Codes one address may type in an hour on the claimant pages."""
        if signer is None:
            raise ValueError("the services need the API's action-proof signer (identity.keys.signer_for)")
        self.signer = signer
        """Signs the action proof each update carries, for a caller whose token was verified (identity/actions.py)."""
        self.codec_roles = codec_roles
        """The staff roles that may read decrypted histories through the codec server."""
        self.hotline = hotline
        """The service line the claimant pages offer as a tel: link (CLAIMS_HOTLINE); None names none."""
        """Progress codes one address may ask for in an hour on the claimant pages, whatever the claims."""
        """Cookies only over HTTPS: the public address is https (behind a TLS proxy the app itself may see http)."""
        """The staff sign-in by the identity provider's authorization-code flow (identity/oidc.py)."""


def services_of(request: Request) -> Services:
    """The services of the app serving this request, typed (the routes' dependency, and the pages' helper)."""
    found = request.app.state.services
    if not isinstance(found, Services):
        raise RuntimeError("the app has no services: create it with create_app(services)")
    return found


def secure_cookie(request: Request) -> bool:
    """Whether a cookie set on this response is marked Secure: the public address is https, or this request
    came over https."""
    return services_of(request).secure_cookies or request.url.scheme == "https"
