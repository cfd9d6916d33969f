"""ComplaintWorkflow: one complaint from receipt to resolution, on the clocks of the service standard and the
regulator (docs/complaints.md).

Three clocks run from the moment the complaint was received: acknowledge within 24 hours and resolve within 72
(the service standard), and in any case resolve within the regulator's 15 days (30 once marked complex, with a
reason). Each warns the supervisors at the SLA table's share of its time and, on breach, records the breach and
raises the complaint one tier (supervisor, then manager), with the clock's full length again for that tier.
The handler is a supervisor's choice of someone who took no part in the matter (for a complaint about a claim:
nobody who acted on the claim). Closing needs a resolution, a root cause from the configured list, and the
complainant's acknowledgement or a note why not; the complainant gets a letter at acknowledgement and at
resolution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.configuration import ConfigurationActivities
    from activities.database import ClaimsDatabase
    from activities.handover import AppealHandover
    from activities.notifications import NotificationActivities
    from core.rules import authority
    from core.rules.access import FILE_COMPLAINT
    from core.rules.calendar import due
    from identity.tokens import sender_of
    from models.complaints import (
        COMPLAINT_WORKFLOW_TYPE,
        REFERRED_TO_APPEAL,
        AcknowledgeComplaint,
        AssignComplaint,
        ComplaintInput,
        ComplaintStatus,
        MarkComplex,
        ReferToAppeal,
        ResolveComplaint,
        complaint_workflow_id,
    )
    from models.contract import ErrorType, Role, Sender, SlaBreach, SlaWarning, TimelineEntry
    from models.messages import ComplaintRecord, HandOverAppeal, NotificationRequest, Recipient, Rules
    from workflows.claim_state import Clock, parse, refuse
    from workflows.credentials import authenticate, spend, start_sender
    from workflows.shell import LETTER_RETRY, STEADY_RETRY, business_error, until

TIERS = {Role.SUPERVISOR: Role.MANAGER, Role.MANAGER: Role.MANAGER}


@dataclass
class ComplaintState:
    complaint: ComplaintInput
    rules: Rules
    received_at: datetime
    participants: list[str]
    state: str = "received"
    handler: str | None = None
    complex: bool = False
    tier: Role = Role.SUPERVISOR
    clocks: dict[str, Clock] = field(default_factory=dict)
    """The service standard's clocks, of the same model as a claim's (`workflows.claim_state.Clock`)."""
    warnings: list[SlaWarning] = field(default_factory=list)
    breaches: list[SlaBreach] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    resolution: ResolveComplaint | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    letters: int = 0
    handing_over: bool = False
    """While the claim's appeal is being sent: nothing else may change the complaint."""
    writes: int = 0
    """The complaint's row writes so far: each carries its number, so a late retry never undoes a later write."""
    proofs: dict[str, datetime] = field(default_factory=dict)
    """The action proofs accepted on this complaint, by id, until they expire: none is accepted twice."""


@workflow.defn(name=COMPLAINT_WORKFLOW_TYPE)
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, complaint: Any = None) -> None:
        self.s: ComplaintState | None = None
        self.letters_in_flight = 0
        self.moments_by_timer = False
        """Each clock's moment is waited for by its timer, even a moment just past, and a warning is published as an
        event without asking (complaints started since `complaint-every-moment-a-timer`, as claims since
        `every-moment-a-timer`: the time a task reads after a local activity can differ on replay)."""

    @workflow.run
    async def run(self, complaint: Any = None) -> ComplaintStatus:
        self.moments_by_timer = workflow.patched("complaint-every-moment-a-timer")  # asked first, before any activity
        req = parse(ComplaintInput, complaint, "invalid complaint", ErrorType.INVALID_CLAIM)
        if workflow.info().workflow_id != complaint_workflow_id(req.complaint_id):
            raise refuse(f"invalid complaint: workflow id must be {complaint_workflow_id(req.complaint_id)!r}",
                         ErrorType.INVALID_CLAIM)
        filed_by = start_sender(FILE_COMPLAINT, complaint)
        rules = await workflow.execute_local_activity_method(
            ConfigurationActivities.load_rules, start_to_close_timeout=timedelta(seconds=10), retry_policy=STEADY_RETRY)
        participants: list[str] = []
        if req.claim_id:
            participants = await workflow.execute_activity_method(
                ClaimsDatabase.claim_participants, req.claim_id,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=STEADY_RETRY)
        received = min(req.received_at or workflow.now(), workflow.now())
        self.s = s = ComplaintState(req.model_copy(update={"credential": None}), rules, received, participants)
        self._note("received", detail=f"{req.category.value}" + (f" about claim {req.claim_id}" if req.claim_id
                                                                    else ""), sender=filed_by)
        await self._record()
        sla = rules.sla
        for name, days in (("complaint_ack", sla.complaint_ack_days),
                           ("complaint_resolution", sla.complaint_resolution_days),
                           ("complaint_ceiling", sla.complaint_ceiling_days)):
            self._start_clock(name, days)
        await workflow.wait_condition(lambda: s.state == "resolved" and workflow.all_handlers_finished()
                                      and self.letters_in_flight == 0)
        return self.status()

    # ------------------------------------------------------------------ clocks

    def _start_clock(self, name: str, days: float) -> None:
        s = self._state()
        due_at = due(s.received_at, days, s.rules.sla)
        s.clocks[name] = Clock(name, started_at=s.received_at, due_at=due_at, span=due_at - s.received_at,
                               owner=s.tier, warn_share=float(s.rules.sla.warn_at))
        asyncio.create_task(self._watch(name))

    async def _watch(self, name: str) -> None:
        s = self._state()
        while (clock := s.clocks.get(name)) is not None:
            moved = self._moved(name, clock, clock.version)
            if await until(moved, clock.warn_at, timer_when_past=self.moments_by_timer):
                continue
            if s.clocks.get(name) is not clock:
                return
            if not clock.warned:
                clock.warned = True
                s.warnings.append(SlaWarning(clock=name, due_at=clock.due_at, warned_at=workflow.now(), owner=s.tier))
                self._note("sla_warning", detail=f"{name} due {clock.due_at.isoformat()}")
                if self.moments_by_timer or workflow.patched("complaint-warning-recorded"):  # an event since 0008
                    await self._record()
                continue
            s.tier = TIERS[s.tier]
            s.breaches.append(SlaBreach(clock=name, due_at=clock.due_at, breached_at=workflow.now(),
                                        escalated_to=s.tier))
            self._note("sla_breached", detail=f"{name} was due {clock.due_at.isoformat()}; escalated to {s.tier}")
            clock.owner = s.tier
            clock.extend()
            await self._record()

    def _moved(self, name: str, clock: Clock, version: int) -> Callable[[], bool]:
        """True once the clock is stopped or its due time moved (marked complex)."""
        s = self._state()
        return lambda: s.clocks.get(name) is not clock or clock.version != version

    def _stop(self, *names: str) -> None:
        for name in names:
            self._state().clocks.pop(name, None)

    # ------------------------------------------------------------------ updates

    @workflow.update(name="assign_complaint")
    async def assign_complaint(self, payload: Any) -> ComplaintStatus:
        self._spend("assign_complaint", payload)
        req = parse(AssignComplaint, payload, "assign_complaint")
        s = self._state()
        s.handler = req.handler_id
        self._note("assigned", by=req.by, detail=f"handler {req.handler_id}", sender=sender_of(req.credential))
        await self._record()
        return self.status()

    @assign_complaint.validator
    def _validate_assign(self, payload: Any) -> None:
        req = parse(AssignComplaint, payload, "assign_complaint")
        authenticate("assign_complaint", payload, req.by, spent=self._state().proofs)
        s = self._open("assign_complaint")
        part = {authority.person_key(p) for p in s.participants}
        if authority.person_key(req.handler_id) in part:
            raise refuse(f"assign_complaint: {req.handler_id} acted on claim {s.complaint.claim_id}; the handler "
                         "takes no part in the matter complained of (four-eyes rule)", ErrorType.NOT_AUTHORIZED)

    @workflow.update(name="acknowledge_complaint")
    async def acknowledge_complaint(self, payload: Any) -> ComplaintStatus:
        self._spend("acknowledge_complaint", payload)
        req = parse(AcknowledgeComplaint, payload, "acknowledge_complaint")
        s = self._state()
        s.state, s.acknowledged_at = "acknowledged", workflow.now()
        self._stop("complaint_ack")
        await self._record()
        self._note("acknowledged", by=req.by, sender=sender_of(req.credential))
        self._letter("complaint_acknowledged", {"category": s.complaint.category.value})
        return self.status()

    @acknowledge_complaint.validator
    def _validate_acknowledge(self, payload: Any) -> None:
        req = parse(AcknowledgeComplaint, payload, "acknowledge_complaint")
        authenticate("acknowledge_complaint", payload, req.by, spent=self._state().proofs)
        s = self._handled_by(req.by, "acknowledge_complaint")
        if s.state != "received":
            raise refuse("acknowledge_complaint: the complaint was acknowledged already")

    @workflow.update(name="mark_complex")
    async def mark_complex(self, payload: Any) -> ComplaintStatus:
        self._spend("mark_complex", payload)
        req = parse(MarkComplex, payload, "mark_complex")
        s = self._state()
        s.complex = True
        ceiling = s.clocks.get("complaint_ceiling")
        if ceiling is not None:
            longer = due(s.received_at, s.rules.sla.complaint_complex_ceiling_days, s.rules.sla) - s.received_at
            ceiling.lengthen(longer)
        self._note("marked_complex", by=req.by, detail=req.reason, sender=sender_of(req.credential))
        await self._record()
        return self.status()

    @mark_complex.validator
    def _validate_complex(self, payload: Any) -> None:
        req = parse(MarkComplex, payload, "mark_complex")
        authenticate("mark_complex", payload, req.by, spent=self._state().proofs)
        if self._handled_by(req.by, "mark_complex").complex:
            raise refuse("mark_complex: the complaint is marked complex already")

    @workflow.update(name="resolve_complaint")
    async def resolve_complaint(self, payload: Any) -> ComplaintStatus:
        self._spend("resolve_complaint", payload)
        req = parse(ResolveComplaint, payload, "resolve_complaint")
        s = self._state()
        s.resolution, s.resolved_at = req.model_copy(update={"credential": None}), workflow.now()
        self._stop(*list(s.clocks))
        await self._record()
        self._note("resolved", by=req.by, detail=f"root cause {req.root_cause}", sender=sender_of(req.credential))
        self._letter("complaint_resolved", {"resolution": req.resolution})
        s.state = "resolved"
        return self.status()

    @resolve_complaint.validator
    def _validate_resolve(self, payload: Any) -> None:
        req = parse(ResolveComplaint, payload, "resolve_complaint")
        authenticate("resolve_complaint", payload, req.by, spent=self._state().proofs)
        s = self._handled_by(req.by, "resolve_complaint")
        if s.state == "received":
            raise refuse("resolve_complaint: acknowledge the complaint first")
        if req.root_cause not in s.rules.complaint_root_causes:
            raise refuse(f"resolve_complaint: root_cause: one of {s.rules.complaint_root_causes}",
                         ErrorType.INVALID_UPDATE)
        if not req.claimant_acknowledged and not (req.note and req.note.strip()):
            raise refuse("resolve_complaint: note: say why the complainant did not acknowledge the resolution",
                         ErrorType.INVALID_UPDATE)

    @workflow.update(name="refer_to_appeal")
    async def refer_to_appeal(self, payload: Any) -> ComplaintStatus:
        self._spend("refer_to_appeal", payload)
        req = parse(ReferToAppeal, payload, "refer_to_appeal")
        s = self._state()
        claim_id = s.complaint.claim_id or ""
        s.handing_over = True
        try:
            await workflow.execute_activity_method(
                AppealHandover.hand_over_appeal,
                HandOverAppeal(claim_id=claim_id, complaint_id=s.complaint.complaint_id, reason=req.reason),
                start_to_close_timeout=timedelta(seconds=60), retry_policy=STEADY_RETRY)
        except ActivityError as err:
            cause = business_error(err)
            if cause is None:
                raise
            kind = ErrorType(cause.type or ErrorType.INVALID_UPDATE)
            raise refuse(f"refer_to_appeal: {cause.message}", kind) from err
        finally:
            s.handing_over = False
        resolution = (f"已转为对理赔案件 {claim_id} 的申诉，由未参与原决定的主管复核。"
                      f"Handled as an appeal against claim {claim_id}'s decision, reviewed by a supervisor who "
                      "took no part in it.")
        s.resolution = ResolveComplaint(by=req.by, resolution=resolution, root_cause=REFERRED_TO_APPEAL,
                                        claimant_acknowledged=False, note=req.reason)
        s.resolved_at = workflow.now()
        self._stop(*list(s.clocks))
        await self._record()
        self._note("referred_to_appeal", by=req.by, detail=f"claim {claim_id}", sender=sender_of(req.credential))
        self._letter("complaint_resolved", {"resolution": resolution})
        s.state = "resolved"
        return self.status()

    @refer_to_appeal.validator
    def _validate_refer(self, payload: Any) -> None:
        req = parse(ReferToAppeal, payload, "refer_to_appeal")
        authenticate("refer_to_appeal", payload, req.by, spent=self._state().proofs)
        s = self._handled_by(req.by, "refer_to_appeal")
        if not s.complaint.claim_id:
            raise refuse("refer_to_appeal: the complaint is about no claim", ErrorType.INVALID_UPDATE)

    @workflow.query(name="status")
    def status(self) -> ComplaintStatus:
        s = self._state()
        return ComplaintStatus(
            complaint_id=s.complaint.complaint_id, claim_id=s.complaint.claim_id, category=s.complaint.category,
            state=s.state, handler=s.handler, complex=s.complex, received_at=s.received_at,
            deadlines={n: c.due_at for n, c in s.clocks.items()}, sla_warnings=list(s.warnings),
            sla_breaches=list(s.breaches), escalated_to=s.tier.value if s.breaches else None,
            root_cause=s.resolution.root_cause if s.resolution else None,
            resolution=s.resolution.resolution if s.resolution else None, timeline=list(s.timeline))

    # ------------------------------------------------------------------ plumbing

    def _spend(self, update: str, payload: Any) -> None:
        """The handler's first step: the proof, once accepted, is never accepted again on this complaint."""
        spend(update, payload, self._state().proofs)

    def _state(self) -> ComplaintState:
        if self.s is None:
            raise refuse("the complaint is still being received; try again in a moment")
        return self.s

    def _open(self, action: str) -> ComplaintState:
        s = self._state()
        if s.state == "resolved":
            raise refuse(f"{action}: the complaint is resolved")
        if s.handing_over:
            raise refuse(f"{action}: the complaint is being handed over to the claim's appeal")
        return s

    def _handled_by(self, person: str, action: str) -> ComplaintState:
        s = self._open(action)
        if s.handler is None or authority.person_key(s.handler) != authority.person_key(person):
            raise refuse(f"{action}: only the complaint's handler ({s.handler or 'none assigned yet'}) does this",
                         ErrorType.NOT_AUTHORIZED)
        return s

    async def _record(self) -> None:
        """The complaint's row for the reports (activities/database.py `record_complaint`)."""
        s = self._state()
        s.writes += 1
        record = ComplaintRecord(
            complaint_id=s.complaint.complaint_id, claim_id=s.complaint.claim_id, category=s.complaint.category.value,
            handler=s.handler, complex=s.complex, received_at=s.received_at, acknowledged_at=s.acknowledged_at,
            resolved_at=s.resolved_at, root_cause=s.resolution.root_cause if s.resolution else None,
            breached=sorted(b.clock for b in s.breaches), warned=sorted({w.clock for w in s.warnings}),
            version=s.writes)
        await workflow.execute_activity_method(ClaimsDatabase.record_complaint, record,
                                               start_to_close_timeout=timedelta(seconds=30), retry_policy=STEADY_RETRY)

    def _note(self, event: str, *, by: str = "system", detail: str = "", sender: Sender | None = None) -> None:
        self._state().timeline.append(TimelineEntry(at=workflow.now(), event=event, by=by, detail=detail,
                                                    sender=sender))

    def _letter(self, kind: str, context: dict[str, Any]) -> None:
        s = self._state()
        c = s.complaint.complainant
        s.letters += 1
        request = NotificationRequest(
            claim_id=complaint_workflow_id(s.complaint.complaint_id), kind=kind, sequence=s.letters,
            recipient=Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email, language=c.language),
            context={"complaint_id": s.complaint.complaint_id, **context})

        async def send() -> None:
            self.letters_in_flight += 1
            try:
                await workflow.execute_activity_method(NotificationActivities.notify, request,
                                                       start_to_close_timeout=timedelta(seconds=30),
                                                       retry_policy=LETTER_RETRY)
                self._note(f"notified:{kind}")
            except Exception as err:  # noqa: BLE001 (a letter never holds the complaint up; its failure is noted)
                self._note("notification_failed", detail=f"{kind}: {err}")
            finally:
                self.letters_in_flight -= 1

        asyncio.create_task(send())
