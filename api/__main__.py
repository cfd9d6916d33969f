"""`python -m api`: the HTTP API on CLAIMS_API_HOST:CLAIMS_API_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from api.app import create_app
from config.embedded import UnsafeIdentity, no_identity_problem, refuse_unsafe_identity
from config.encryption import EncryptionCodec, keyring_for
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect
from db.engine import make_engine
from documents.store import store_for
from edge.services import Services
from identity import development
from identity.codes import code_secret
from identity.keys import signer_for, verifier_for
from identity.oidc import login_for
from identity.portal import portal_token


async def build_services(settings: Settings) -> Services:
    """The API's services; refused, whoever starts the app, with the development issuer outside the embedded
    stack or with no identity provider at all (config/embedded.py)."""
    refuse_unsafe_identity(settings, "the API", settings.api_host)
    if problem := no_identity_problem(settings):
        raise UnsafeIdentity(f"the API: {problem}")
    secret = code_secret(settings.code_secret, settings.var_dir)
    return Services(client=await connect(settings, service="claims-api"),
                    engine=make_engine(settings.resolved_database_url), store=store_for(settings),
                    verifier=verifier_for(settings),
                    code_secret=secret, task_queue=settings.task_queue,
                    max_upload_bytes=settings.document_max_bytes, codec=EncryptionCodec(keyring_for(settings)),
                    session_same_site=settings.session_same_site, demo_tokens=demo_tokens(settings),
                    portal_token=portal_token(settings), report_timezone=settings.report_timezone,
                    login=login_for(settings, secret),
                    secure_cookies=settings.progress_base_url.startswith("https://"),
                    codec_roles=frozenset(settings.codec_roles), signer=signer_for(settings), hotline=settings.hotline)


def demo_tokens(settings: Settings) -> Callable[[str, tuple[str, ...]], str] | None:
    """With the development issuer, the sign-in page offers demo staff; with a real one, nobody is minted."""
    if not settings.uses_development_issuer:
        return None
    return lambda subject, roles: development.mint(settings.var_dir, subject=subject, roles=roles,
                                                   audience=settings.oidc_audience, ttl_seconds=8 * 3600)


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    try:
        refuse_unsafe_identity(settings, "the API", settings.api_host)
        if problem := no_identity_problem(settings):
            raise UnsafeIdentity(f"the API: {problem}")
    except UnsafeIdentity as err:
        raise SystemExit(f"error: {err}") from None
    app = create_app(lambda: build_services(settings), max_upload_bytes=settings.document_max_bytes,
                     cors_origins=settings.codec_cors_origins)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None, proxy_headers=True)


if __name__ == "__main__":
    main()
