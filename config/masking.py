"""Personal data out of every log line (docs/rules.md#personal-data): a structlog processor that masks phone numbers,
e-mail addresses, ID card numbers and bank account numbers wherever they appear in a line's text, and the values of
fields that hold names, whatever logged them (this service, Temporal's SDK, SQLAlchemy)."""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from typing import Any

NAME_FIELDS = frozenset({"name", "holder", "holder_name", "claimant", "recipient", "account_holder"})
EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
ID_CARD = re.compile(r"(?<![\d\w])\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx](?![\d\w])")
"""A resident ID number: 17 digits and a check digit or X, written whole or in groups of 6, 8 and 4."""
ACCOUNT = re.compile(r"(?<![\d.])\d{9,34}(?![\d.])")
"""A bank account or card number (9 to 34 digits, as the contract accepts them), written whole."""
GROUPED_ACCOUNT = re.compile(r"(?<![\d.])\d{4}(?:[ -]\d{4}){2,7}(?:[ -]\d{1,4})?(?![\d.])")
"""A card number written in groups of four."""
MOBILE = re.compile(r"(?<![\d.])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?![\d.])")
"""A mainland mobile number, with or without +86, spaces or dashes."""
LANDLINE = re.compile(r"(?<![\d.])(?:\+?86[ -]?)?0\d{2,3}[ -]?\d{3,4}[ -]?\d{4}(?![\d.])")
"""A landline: an area code from 0, then seven or eight digits, as the contract's phone field accepts them."""


def _keep_last_four(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"****{digits[-4:]}"


def mask_text(text: str) -> str:
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = ID_CARD.sub(lambda m: f"{m.group(0)[:3]}***********{m.group(0)[-4:]}", text)
    text = GROUPED_ACCOUNT.sub(_keep_last_four, text)
    text = MOBILE.sub(lambda m: f"{re.sub(r'[^0-9+]', '', m.group(0))[:-8]}****{m.group(0)[-4:]}", text)
    text = LANDLINE.sub(_keep_last_four, text)
    return ACCOUNT.sub(lambda m: f"****{m.group(0)[-4:]}", text)


def mask_free_text(text: str, names: Iterable[str] = ()) -> str:
    """Text someone typed (a reason, a comment): every number and address `mask_text` finds, and the names of the
    people the claim names, which no pattern can find."""
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(name), "***", text, flags=re.IGNORECASE)
    return mask_text(text)


def _mask(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return "***" if key in NAME_FIELDS and value else mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, v) for v in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    return {key: _mask(key, value) for key, value in event.items()}
