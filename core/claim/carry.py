"""The state as JSON and back: what a run carries into the next when it continues as new. Nothing else is carried,
so nothing else can be lost."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from core.claim.state import ClaimCore

_STATE = TypeAdapter(ClaimCore)


def carried(state: ClaimCore) -> Any:
    return _STATE.dump_python(state, mode="json")


def restored(data: Any) -> ClaimCore:
    return _STATE.validate_python(data)
