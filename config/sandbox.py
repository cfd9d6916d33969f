"""The workflow sandbox every worker and replayer runs claims in, with the serialization context of a workflow's own
payloads worked out outside it.

For each payload it encodes or decodes, the SDK asks the workflow instance which serialization context the payload
belongs to (its workflow, or the activity, child workflow or signalled workflow of the command carrying it). In the
sandbox each answer runs as code compiled and executed inside it, with the sandbox's import hooks applied: about a
sixteenth of a claim's worker CPU on the fast path. The data converter here binds a payload to its workflow only
(config/encryption.py: the codec reads the context's `workflow_id`, and `WorkflowBoundConverter` keeps one converter
per workflow id), so for every payload of the workflow's own (the activities it schedules, local ones included, and
everything that carries no command) the answer is the workflow's own context, known without entering the sandbox.
Commands that address another workflow (a child, a signal to another workflow) and Nexus operations still ask the
sandboxed instance, as the SDK does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import CommandType
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import SerializationContext, StorageDriverStoreContext, WorkflowSerializationContext
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


class OwnContextInstance(WorkflowInstance):
    """A sandboxed workflow instance whose own payloads' context is answered without entering the sandbox."""

    def __init__(self, inner: WorkflowInstance, info: Info) -> None:
        self.inner = inner
        self.own = WorkflowSerializationContext(namespace=info.namespace, workflow_id=info.workflow_id)

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        if command_info is not None and command_info.command_type in ELSEWHERE:
            return self.inner.get_serialization_context(command_info)
        return self.own

    def get_external_store_context(self, command_info: Any) -> StorageDriverStoreContext:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


@dataclass(frozen=True)
class ClaimsWorkflowRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, its instances answering their own payloads' context directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return OwnContextInstance(super().create_instance(det), det.info)
