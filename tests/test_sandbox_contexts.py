"""The contexts config/sandbox.py answers outside the sandbox are the ones the sandboxed workflow gives: for every
payload of real claims (paid at once, approved by a person, refused at intake, continued as new), each answer is held
against the sandbox's own."""

from __future__ import annotations

from typing import Any

import pytest

from config.sandbox import OwnContextInstance
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from tests.test_continue_as_new import continuing  # noqa: F401  (the fixture: a claim that continues as new)
from tests.test_deadlines import DAY, investigated_claim


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


async def test_each_run_of_a_continued_claim_answers_with_its_own_run(continuing, time_env, answers) -> None:  # noqa: F811
    """A claim that continues as new: each run answers with its own run id, as the sandbox does."""
    claim = investigated_claim(claimed_amount="8000.00", incident={}, line_items=[],
                               documents=[{"kind": "claim_form", "ref": "form.pdf"}])
    await continuing.start(claim)
    await continuing.at_stage(claim["claim_id"], "awaiting_documents")
    await time_env.sleep(28 * DAY)  # reminders, and the continuations between them
    status = await continuing.status(claim["claim_id"])
    assert any(t["event"] == "continued_as_new" for t in status["timeline"]), "the claim never continued as new"

    stores = [a for a in answers if a[0] == "store"]
    assert len({ours.target.run_id for _, _, ours, _ in stores}) >= 2, "one run answered: nothing continued"
    for _, info, ours, sandboxes in stores:
        assert ours == sandboxes, f"store context for {info}"
