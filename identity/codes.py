"""One-time codes that prove a claimant holds the phone or e-mail on file (docs/rules.md#identity-and-access).

A code is derived from the code secret, the claim, the purpose and the code's number, so every retry of the
activity that sends it sends the same code and nothing secret is stored: the database keeps only when the code
expires, its wrong tries and when it was used. Anyone holding the secret can derive every code, so it is kept
like a signing key: `CLAIMS_CODE_SECRET` in production (the same value on every worker and API process), or a
random one made under `var/identity/` on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from pathlib import Path

from config.key_files import write_once
from identity.development import key_dir
from models.contract import CodePurpose

__all__ = ["CodePurpose", "derive", "matches", "code_secret"]

DIGITS = 6
VALID_MINUTES = 10
MAX_WRONG_TRIES = 3
"""Wrong tries a code (and a claim's bank-account change) allows before it is locked."""
RESEND_SECONDS = 60
"""The least time between two codes of one purpose on a claim."""
CODES_PER_DAY = 5
"""The most codes of one purpose a claim sends in 24 hours for one sender (the self-service page, the call centre,
the app): a bound on messages to the claimant and on the history. Each sender has a budget of its own, so
strangers asking through the anonymous page cannot spend the call centre's; a supervisor's release starts the
bank-account budgets afresh. An ended claim's progress codes (workflows/ended_claim_code.py) share one budget."""


def masked(phone: str | None, email: str | None) -> str:
    """Where a code went, as a page may name it: a phone by its last four digits (****5678), an e-mail by no part
    of it (****@****): enough for the claimant to know it, too little to reach them or to tell who they are."""
    if phone:
        digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
        return f"****{digits[-4:]}" if len(digits) >= 4 else "****"
    if email and "@" in email:
        return "****@****"  # an address's letters or domain would tell a stranger too much
    return "****"


def masked_name(name: str) -> str:
    """A name as a list may show it to staff who have not opened the claim: its first character (李*)."""
    name = name.strip()
    return name[:1] + "*" * min(max(len(name) - 1, 1), 3)


def search_key(secret: bytes) -> bytes:
    """The key the claimant's name and phone are kept under for the workbench's search, made from the code
    secret (the same on every worker and API process)."""
    return hmac.new(secret, b"claimant-search", hashlib.sha256).digest()


def claimant_key(key: bytes, value: str) -> str:
    """A name or a phone number as the read model keeps it for an exact search: keyed, so the table alone never
    gives the name or the number back. Phones by their last eleven digits; names without spaces or case."""
    value = unicodedata.normalize("NFKC", value)  # full-width digits and letters, as an IME types them
    digits = "".join(ch for ch in value if ch.isdigit())
    phone = len(digits) >= 7 and all(ch.isdigit() or ch in " +-()" for ch in value.strip())
    normal = digits[-11:] if phone else "".join(value.split()).casefold()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()


def derive(secret: bytes, claim_id: str, purpose: str, sequence: int) -> str:
    """The code numbered `sequence` for this claim and purpose."""
    mac = hmac.new(secret, f"{claim_id}\x1f{purpose}\x1f{sequence}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(mac[:8], "big") % 10**DIGITS).zfill(DIGITS)


def matches(secret: bytes, claim_id: str, purpose: str, sequence: int, given: str) -> bool:
    return hmac.compare_digest(derive(secret, claim_id, purpose, sequence), given.strip())


def code_secret(configured: str | None, var_dir: Path) -> bytes:
    """The configured secret, or the local one (made on first use, readable by its owner only)."""
    if configured:
        return configured.encode()
    path = key_dir(var_dir) / "code-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_once(path, secrets.token_hex(32).encode(), 0o600)
    return path.read_bytes().strip()
