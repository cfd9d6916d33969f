"""The proof verifier each task queue's workflows check updates with, installed by the worker before it starts.

Apart from `identity.keys` (which fetches keys over the network and reads files), so workflow code reaches it
without importing any of that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from identity.actions import Action
from models.contract import Sender


class ProofVerifier(Protocol):
    def verify(self, proof: str | None, action: Action, now: datetime) -> Sender: ...


_INSTALLED: dict[str, ProofVerifier] = {}


def install(task_queue: str, verifier: ProofVerifier) -> None:
    """Make the verifier the one validators of workflows on this task queue use (before the worker starts)."""
    _INSTALLED[task_queue] = verifier


def installed(task_queue: str) -> ProofVerifier | None:
    return _INSTALLED.get(task_queue)
