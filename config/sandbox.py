"""The workflow sandbox every worker and replayer runs claims in, with the serialization context of a workflow's own
payloads worked out outside it.

For each payload it encodes or decodes, the SDK asks the workflow instance which serialization context the payload
belongs to (its workflow, or the activity, child workflow or signalled workflow of the command carrying it), and
which external store context (the same question for the external payload store, asked even when none is configured).
In the sandbox each answer runs as code compiled and executed inside it, with the sandbox's import hooks applied:
about a sixteenth of a claim's worker CPU on the fast path for each of the two. The data converter here binds a
payload to its workflow only (config/encryption.py: the codec reads the context's `workflow_id`, and
`WorkflowBoundConverter` keeps one converter per workflow id), so for every payload of the workflow's own (the
activities it schedules, local ones included, and everything that carries no command) the answer is the workflow's
own context, known without entering the sandbox; the store context is the workflow's id, run, type and namespace, as
the SDK gives it. Commands that address another workflow (a child, a signal to another workflow), Nexus operations
and a child's result still ask the sandboxed instance, as the SDK does. `tests/test_sandbox_contexts.py` holds every
answer against the sandbox's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import CommandType
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    SerializationContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info

ELSEWHERE = frozenset({
    CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
    CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION,
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION,
    CommandType.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION,
})
"""Commands whose payloads belong to another workflow or to a Nexus operation: their context is the sandbox's to say."""
TO_PARENT = CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION
"""A child workflow's result, stored for its parent: the sandbox's to say too."""


class OwnContextInstance(WorkflowInstance):
    """A sandboxed workflow instance whose own payloads' context is answered without entering the sandbox."""

    def __init__(self, inner: WorkflowInstance, info: Info) -> None:
        self.inner = inner
        self.own = WorkflowSerializationContext(namespace=info.namespace, workflow_id=info.workflow_id)
        self.own_store = StorageDriverStoreContext(target=StorageDriverWorkflowInfo(
            id=info.workflow_id, run_id=info.run_id, type=info.workflow_type, namespace=info.namespace))
        self.has_parent = info.parent is not None

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        if command_info is not None and command_info.command_type in ELSEWHERE:
            return self.inner.get_serialization_context(command_info)
        return self.own

    def get_external_store_context(self, command_info: Any) -> StorageDriverStoreContext:
        if command_info is not None and (command_info.command_type in ELSEWHERE
                                         or (command_info.command_type == TO_PARENT and self.has_parent)):
            return self.inner.get_external_store_context(command_info)
        return self.own_store

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


@dataclass(frozen=True)
class ClaimsWorkflowRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, its instances answering their own payloads' context directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return OwnContextInstance(super().create_instance(det), det.info)
