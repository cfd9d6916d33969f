"""The development issuer runs only on the embedded stack.

It mints a manager's token for anyone who asks (the sign-in page's demo staff, `python starter.py token`), which
is right on one developer's machine and nowhere else. So every process refuses to start with it enabled
(`CLAIMS_DEV_ISSUER=true`) beside a Temporal cluster (TEMPORAL_ADDRESS set), a database other than the embedded
SQLite (DATABASE_URL), or an API listening beyond loopback (CLAIMS_API_HOST) or reached from beyond it
(CLAIMS_PUBLIC_URL, a proxy on loopback); and it refuses to start with both it and a real issuer configured. The
message says what to set instead.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from config.settings import Settings


class UnsafeIdentity(RuntimeError):
    """The development issuer is enabled where it must not run."""


def loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def development_issuer_problems(settings: Settings, listen_host: str | None = None) -> list[str]:
    """Why the development issuer may not run with these settings; empty when it may (or is off)."""
    if not settings.dev_issuer:
        return []
    problems = []
    if settings.oidc_issuer:
        problems.append(f"a real issuer is configured too (CLAIMS_OIDC_ISSUER={settings.oidc_issuer})")
    if settings.temporal_address:
        problems.append(f"Temporal is a cluster, not the embedded server "
                        f"(TEMPORAL_ADDRESS={settings.temporal_address})")
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        problems.append("the database is not the embedded SQLite (DATABASE_URL is set to another database)")
    if listen_host is not None and not loopback(listen_host):
        problems.append(f"the API listens beyond this machine (CLAIMS_API_HOST={listen_host})")
    public = urlsplit(settings.public_url).hostname if settings.public_url else None
    if public is not None and not loopback(public):
        problems.append(f"the API is reached from beyond this machine (CLAIMS_PUBLIC_URL={settings.public_url}), "
                        "through a proxy on loopback perhaps")
    return problems


def refuse_unsafe_identity(settings: Settings, process: str, listen_host: str | None = None) -> None:
    """Raise UnsafeIdentity, naming what to set, when the development issuer is enabled outside the embedded stack."""
    problems = development_issuer_problems(settings, listen_host)
    if problems:
        raise UnsafeIdentity(
            f"{process}: refusing to start with the development issuer (CLAIMS_DEV_ISSUER=true): "
            + "; ".join(problems) + ". It mints staff tokens for anyone and runs only on the embedded stack "
            "(make demo, make run). Set CLAIMS_DEV_ISSUER=false and configure the identity provider "
            "(CLAIMS_OIDC_ISSUER, CLAIMS_OIDC_JWKS_URL, CLAIMS_OIDC_AUDIENCE; docs/operators.md, \"Identity\").")


def no_identity_problem(settings: Settings) -> str | None:
    """Why the API cannot check anyone's token: neither a real issuer nor the development issuer."""
    if settings.oidc_issuer or settings.dev_issuer:
        return None
    return ("no identity provider is configured: set CLAIMS_OIDC_ISSUER and CLAIMS_OIDC_JWKS_URL (docs/operators.md, "
            "\"Identity\"), or CLAIMS_DEV_ISSUER=true on the embedded stack (make demo and make run set it)")
