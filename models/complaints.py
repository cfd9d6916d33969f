"""The complaint contract (docs/complaints.md): `ComplaintWorkflow`, id `complaint-<complaint_id>`, its input,
updates and `status` query. Any complaint (a claim's decision, the time it took, the staff, a letter, anything)
is one, linked to a claim when there is one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from models.contract import Claimant, Message, SlaBreach, SlaWarning, TimelineEntry
from models.fields import Credential, FreeText, Identifier

COMPLAINT_WORKFLOW_TYPE = "ComplaintWorkflow"


def complaint_workflow_id(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


class ComplaintCategory(StrEnum):
    DECISION = "decision"
    DELAY = "delay"
    STAFF = "staff"
    LETTER = "letter"
    PAYMENT = "payment"
    OTHER = "other"


class ComplaintInput(Message):
    complaint_id: Identifier
    claim_id: Identifier | None = None
    category: ComplaintCategory
    description: FreeText
    complainant: Claimant
    received_at: datetime | None = None
    """When the complaint reached the insurer (the call centre's time); the clocks run from it. Default: now."""
    credential: Credential | None = None
    """The token of the channel or staff member who files it."""


class AssignComplaint(Message):
    handler_id: Identifier
    by: Identifier
    credential: Credential | None = None


class AcknowledgeComplaint(Message):
    by: Identifier
    note: FreeText | None = None
    credential: Credential | None = None


class MarkComplex(Message):
    by: Identifier
    reason: FreeText
    credential: Credential | None = None


class ResolveComplaint(Message):
    by: Identifier
    resolution: FreeText
    root_cause: Identifier
    """One of the rules' `complaint_root_causes`."""
    claimant_acknowledged: bool
    note: FreeText | None = None
    """Why the claimant did not acknowledge the resolution (required then)."""
    credential: Credential | None = None


class ReferToAppeal(Message):
    """The handler finds the complaint is an appeal against the claim's decision: the claim's `appeal` update is
    sent for the complainant, and the complaint closes with the root cause `referred_to_appeal`."""

    by: Identifier
    reason: FreeText
    credential: Credential | None = None


REFERRED_TO_APPEAL = "referred_to_appeal"
"""The root cause of a complaint handed over to the claim's appeal (not one a handler chooses)."""


class ComplaintStatus(Message):
    complaint_id: str
    claim_id: str | None
    category: ComplaintCategory
    state: str
    """received, acknowledged, resolved."""
    handler: str | None
    complex: bool
    received_at: datetime
    deadlines: dict[str, datetime]
    sla_warnings: list[SlaWarning] = Field(default_factory=list)
    sla_breaches: list[SlaBreach] = Field(default_factory=list)
    escalated_to: str | None = None
    root_cause: str | None = None
    resolution: str | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
