"""The contexts config/sandbox.py answers outside the sandbox are the ones the sandboxed workflow gives: for every
payload of real claims (paid at once, approved by a person, refused at intake), each answer is held against the
sandbox's own."""

from __future__ import annotations

from typing import Any

import pytest

from config.sandbox import OwnContextInstance
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any, Any]]:
    """Every answer given outside the sandbox, with the command and the sandbox's answer to the same question."""
    seen: list[tuple[str, Any, Any, Any]] = []
    own_context = OwnContextInstance.get_serialization_context
    own_store = OwnContextInstance.get_external_store_context

    def context(self: OwnContextInstance, command_info: Any) -> Any:
        answer = own_context(self, command_info)
        seen.append(("serialization", command_info, answer, self.inner.get_serialization_context(command_info)))
        return answer

    def store(self: OwnContextInstance, command_info: Any) -> Any:
        answer = own_store(self, command_info)
        seen.append(("store", command_info, answer, self.inner.get_external_store_context(command_info)))
        return answer

    monkeypatch.setattr(OwnContextInstance, "get_serialization_context", context)
    monkeypatch.setattr(OwnContextInstance, "get_external_store_context", store)
    return seen


async def test_every_context_answered_outside_the_sandbox_is_the_sandboxes(claims, answers) -> None:
    paid = auto_claim()
    await (await claims.start(paid)).result()
    await claims.paid_on_approval("adjuster-1", "adjuster")
    refused = auto_claim(documents=docs(*ALL_AUTO_DOCS), policy_number="P-NOT-THERE")
    with pytest.raises(Exception):  # noqa: B017,PT011  (refused at intake: the workflow fails, typed)
        await (await claims.start(refused)).result()

    stores = [a for a in answers if a[0] == "store"]
    contexts = [a for a in answers if a[0] == "serialization"]
    assert len(stores) > 20 and len(contexts) > 20, "the claims ran without asking: nothing was compared"
    assert any(info is not None for _, info, _, _ in stores), "no command's payloads were compared"
    for _, info, ours, sandboxes in stores:
        assert ours == sandboxes, f"store context for {info}"
    for _, info, ours, sandboxes in contexts:
        # The codec binds a payload to its workflow id only (config/encryption.py): for an activity the SDK answers
        # with the activity's context, which carries the same workflow id.
        assert (ours.namespace, ours.workflow_id) == (sandboxes.namespace, sandboxes.workflow_id), \
            f"serialization context for {info}"
