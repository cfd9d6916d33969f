"""The input limits of the public contract: reusable field types that refuse what the storage cannot hold.

Lengths match the database columns; text refuses control characters; amounts are ASCII decimal strings with
at most two places; times are ISO-8601 strings with an offset. docs/contract.md lists them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

# Every limit below fits the storage (models/tables.py) and what a claims system can use; docs/contract.md
# lists them. A value outside them is refused by validation, so it never reaches the database.

MAX_LIST = 100
"""Line items, documents: more than this in one message is not a claim but a mistake or an attack."""
MAX_FREE_TEXT = 2000
"""Descriptions, findings, reasons, comments (stored as unbounded text, shown on letters and screens)."""
MAX_NAME = 100
"""Claimant names and account holders (the payments ledger keeps 200, notifications 200)."""
MAX_ACTOR = 64
"""Who did something: the event log's `actor` column."""
MAX_CREDENTIAL = 8192
"""A bearer token (JWT): identity providers' tokens are 1-4 KB; beyond this it is not a token."""
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r")


def _plain(value: str, *, multiline: bool) -> str:
    """No control characters (NUL, C0, C1), unpaired surrogates or bidi overrides: the databases refuse some,
    and the others hide or reorder what a reader sees. Free text may keep tabs and line breaks."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and not (multiline and char in _LINE_BREAKS):
            raise ValueError(f"control character U+{ord(char):04X} is not allowed")
        if category == "Cs":
            raise ValueError("unpaired surrogate characters are not allowed")
        if char in _BIDI_CONTROLS:
            raise ValueError(f"text direction override U+{ord(char):04X} is not allowed")
    return value


def _one_line(value: str) -> str:
    return _plain(value, multiline=False)


def _free_text(value: str) -> str:
    return _plain(value, multiline=True)


ONE_LINE = AfterValidator(_one_line)
"""Short text: no control characters at all."""
MULTILINE = AfterValidator(_free_text)
"""Free text: tabs and line breaks allowed, no other control character."""


def _limit(max_length: int, min_length: int = 1) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


_AMOUNT = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,2})?$")


def _amount(value: Any) -> Any:
    """Amounts are decimal strings of ASCII digits (or JSON numbers). Python's Decimal would also read
    Arabic-Indic or full-width digits, exponents, NaN and Infinity; a claims system must not."""
    if isinstance(value, bool):
        raise ValueError("an amount must be a decimal string such as \"3200.00\"")
    if isinstance(value, str):
        if not _AMOUNT.match(value):
            raise ValueError("an amount must be a decimal string of ASCII digits with at most 2 decimal places, "
                             "such as \"3200.00\"")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("an amount must be a finite number")
        return repr(value)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("an amount must be a finite number")
    return value


Money = Annotated[Decimal, BeforeValidator(_amount), Field(ge=0, max_digits=15, decimal_places=2)]
"""A non-negative amount: at most 13 digits before the point and 2 after (the Numeric(15, 2) columns)."""
PositiveMoney = Annotated[Money, Field(gt=0)]

_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                        r"(Z|z|[+-][0-9]{2}:?[0-9]{2})$")


def _iso_timestamp(value: Any) -> Any:
    """Times are ISO-8601 strings with an offset. A JSON number would otherwise be read as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise ValueError("a time must be an ISO-8601 string with an offset, such as \"2026-11-20T08:30:00+08:00\"")
    return value


def _plausible_year(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"a time must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_timestamp), AfterValidator(_plausible_year)]

NonEmpty = Annotated[str, _limit(500), ONE_LINE]
FreeText = Annotated[str, _limit(MAX_FREE_TEXT), MULTILINE]
Comment = Annotated[str, _limit(MAX_FREE_TEXT, min_length=0), MULTILINE]
Name = Annotated[str, _limit(MAX_NAME), ONE_LINE]
Actor = Annotated[str, _limit(MAX_ACTOR), ONE_LINE]
Cause = Annotated[str, _limit(100), ONE_LINE]
Category = Annotated[str, _limit(40), ONE_LINE]
Clause = Annotated[str, _limit(200), ONE_LINE]
ItemDescription = Annotated[str, _limit(500), MULTILINE]
DocumentRefText = Annotated[str, _limit(500), ONE_LINE]
"""The `claim_documents.ref` column."""
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")]
Email = Annotated[str, StringConstraints(
    strip_whitespace=True, max_length=200,
    pattern=r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+$")]
"""At most 200 characters: the notification outbox's `recipient` column."""
AccountNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4,34}$")]
OneTimeCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
"""The six digits of a code sent to the claimant's phone or e-mail on file."""
Credential = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_CREDENTIAL)]
"""The sender's bearer token (a JWS in compact form): who sent the update, checked by the workflow."""
Region = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[1-9][0-9]{5}$")]
"""An administrative division code (GB/T 2260, six digits): a province ends 0000 (440000 广东省), a city 00 (440300
深圳市), a county is the whole code."""
DocumentKind = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
