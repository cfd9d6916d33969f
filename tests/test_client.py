"""The client's refusals: what a Temporal error on a claim's or complaint's workflow means to the edges."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

from client.claims import Ended, NoSuchWorkflow, missing_workflow


def test_an_ended_workflow_and_an_unknown_one_are_told_apart_by_what_temporal_says_not_by_the_id():
    ended = missing_workflow("claim-C-1", RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND,
                                                   b""))
    assert isinstance(ended, Ended)
    unknown = missing_workflow("claim-completed-7", RPCError("workflow not found for ID: claim-completed-7",
                                                             RPCStatusCode.NOT_FOUND, b""))
    assert isinstance(unknown, NoSuchWorkflow), "an id that says 'completed' is still an unknown claim"
    unavailable = RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
    assert missing_workflow("claim-C-1", unavailable) is unavailable, "the service's own failure is kept as it is"
