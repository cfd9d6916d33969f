"""Personal data out of every log line (docs/rules.md#personal-data): a structlog processor that masks phone numbers,
e-mail addresses, ID card numbers and bank account numbers wherever they appear in a line's text, and the values of
fields that hold names, whatever logged them (this service, Temporal's SDK, SQLAlchemy)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

NAME_FIELDS = frozenset({"name", "holder", "holder_name", "claimant", "recipient", "account_holder"})
EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
ACCOUNT = re.compile(r"(?<![\d.])\d{12,19}(?![\d.])")
MOBILE = re.compile(r"(?<![\d.])(?:\+?86[ -]?)?1[3-9]\d{9}(?![\d.])")


def mask_text(text: str) -> str:
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = ID_CARD.sub(lambda m: f"{m.group(0)[:3]}***********{m.group(0)[-4:]}", text)
    text = ACCOUNT.sub(lambda m: f"****{m.group(0)[-4:]}", text)
    return MOBILE.sub(lambda m: f"{m.group(0)[:-8]}****{m.group(0)[-4:]}", text)


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
