"""EC P-256 signing keys made on first use, each beside the public key set (JWKS) that verifies it: the
development issuer's and the API's action-proof key. The private key is readable by its owner only."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from config.key_files import write_once

ALGORITHM = "ES256"

_KEYS: dict[Path, tuple[PrivateKeyTypes, str]] = {}


def signing_key(key_path: Path, jwks_path: Path | None = None) -> tuple[PrivateKeyTypes, str]:
    """The signing key at `key_path` and its key id, made on first use; its public JWKS written to `jwks_path`."""
    path = key_path.resolve()
    cached = _KEYS.get(path)
    if cached is not None and path.exists():
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        write_once(path, pem, 0o600)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public_jwk = public_key_set(private)["keys"][0]
    if jwks_path is not None:
        jwks = json.dumps({"keys": [public_jwk]}, indent=2).encode()
        if not jwks_path.exists() or json.loads(jwks_path.read_bytes()) != json.loads(jwks):
            jwks_path.unlink(missing_ok=True)
            write_once(jwks_path, jwks, 0o644)
    _KEYS[path] = (private, str(public_jwk["kid"]))
    return private, str(public_jwk["kid"])


def public_key_set(private: PrivateKeyTypes) -> dict[str, Any]:
    """The JWKS of the private key's public half, its key id the RFC 7638 thumbprint."""
    public_jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
    public_jwk.update({"kid": _thumbprint(public_jwk), "use": "sig", "alg": ALGORITHM})
    return {"keys": [public_jwk]}


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638: the key id is the SHA-256 of the key's required members."""
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
