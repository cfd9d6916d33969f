"""SLA clocks (docs/rules.md#deadlines): start, pause, resume, stop; a watcher that warns, breaches and escalates.

A staff clock warns its owner at the SLA table's `warn_at` share of its time, and on breach records the
breach, raises the claim one tier, tells that tier and gives it the clock's full length again. A claimant
clock records its breach; what happens next is the lifecycle's (closing, or handing to a person).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.rules import authority
    from core.rules.calendar import due
    from models.contract import Path, Role, SlaBreach, SlaWarning
    from models.messages import Recipient
    from workflows import metrics
    from workflows.claim_state import ClaimState, Clock
    from workflows.shell import Shell


class Clocks:
    """The claim's SLA clocks; letters and the timeline go through the shell."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    @property
    def s(self) -> ClaimState:
        return self.shell.s

    def start(self, name: str, days: float, *, owner: Role = Role.ADJUSTER, business: bool = False,
              staff: bool = True, watched: bool = True) -> Clock:
        """Start a deadline. Green-channel claims run staff clocks at the green factor of their length."""
        s = self.s
        _, rules = s.require_ready()
        if staff and s.path == Path.GREEN:
            days = float(Decimal(str(days)) * rules.sla.green_factor)
        start = workflow.now()
        due_at = due(start, days, rules.sla, business=business)
        clock = Clock(name=name, started_at=start, due_at=due_at, span=due_at - start, owner=owner,
                      watched=watched, staff=staff, warn_share=float(rules.sla.warn_at))
        s.clocks[name] = clock
        self.shell.upsert_search_attributes()
        if watched:
            self.shell.spawn(self.watch(name), name=f"clock:{name}")
        return clock

    def stop(self, *names: str) -> None:
        if any(self.s.clocks.pop(name, None) is not None for name in names):
            self.shell.upsert_search_attributes()

    def pause(self, name: str) -> None:
        if name in self.s.clocks:
            self.s.clocks[name].pause(workflow.now())
            self.shell.upsert_search_attributes()

    def resume(self, name: str) -> None:
        if name in self.s.clocks:
            self.s.clocks[name].resume(workflow.now())
            self.shell.upsert_search_attributes()

    async def wait_for(self, condition: Callable[[], bool], name: str) -> None:
        """Wait for the condition that stops a clock (the clock's watcher acts on it meanwhile)."""
        s = self.s
        await self.shell.wait_quietly(lambda: condition() or s.withdrawal is not None, name)
        self.stop(name)
        self.shell.check_withdrawn()

    async def watch(self, name: str) -> None:
        """A clock's watcher: a warning, then a breach at the due time, and again a full length later for
        the next tier, until the clock is stopped."""
        s = self.s
        while (clock := s.clocks.get(name)) is not None:
            if clock.paused_at is not None:
                await workflow.wait_condition(lambda: s.clocks.get(name) is not clock or clock.paused_at is None)
                continue
            version, warning = clock.version, not clock.warned and clock.staff
            moment = clock.warn_at if warning else clock.due_at
            if await self.shell.wait_until(self._moved(name, clock, version), moment):
                continue
            if warning:
                await self._warning(clock)
            else:
                await self._breach(clock)

    def _moved(self, name: str, clock: Clock, version: int) -> Callable[[], bool]:
        """True once the clock is stopped, replaced, paused, resumed or extended."""
        return lambda: self.s.clocks.get(name) is not clock or clock.version != version

    async def _warning(self, clock: Clock) -> None:
        s = self.s
        clock.warned = True
        owner = s.escalated_to or clock.owner
        s.warnings.append(SlaWarning(clock=clock.name, due_at=clock.due_at, warned_at=workflow.now(), owner=owner))
        metrics.sla_warning(clock.name)
        await self.shell.note("sla_warning", detail=f"{clock.name} due {clock.due_at.isoformat()}; owner {owner.value}")
        self.notify_staff("sla_warning", owner, {"clock": clock.name, "due_at": clock.due_at,
                                                  "handler": s.handler or "unassigned"})

    async def _breach(self, clock: Clock) -> None:
        """Record the breach; a staff clock escalates the claim one tier and tells that tier."""
        s = self.s
        due_at = clock.due_at
        tier = None
        if clock.staff:
            current = s.required_role() if clock.name == "approval" else (s.escalated_to or clock.owner)
            tier = authority.raise_tier(current)
            s.escalated_to = tier
        s.breaches.append(SlaBreach(clock=clock.name, due_at=due_at, breached_at=workflow.now(), escalated_to=tier))
        metrics.sla_breach(clock.name, tier.value if tier else "")
        clock.extend()
        self.shell.upsert_search_attributes()
        await self.shell.note("sla_breached", detail=f"{clock.name} was due {due_at.isoformat()}"
                                                     + (f"; escalated to {tier.value}" if tier else ""))
        if tier is not None:
            self.notify_staff("sla_breach", tier, {"clock": clock.name, "due_at": due_at,
                                                   "handler": s.handler or "unassigned"})

    def notify_staff(self, kind: str, role: Role, context: dict[str, Any]) -> None:
        _, rules = self.s.require_ready()
        address = rules.staff_mailboxes.get(role.value)
        recipient = Recipient(name=f"Claims {role.value}s", channel="email", email=address)
        self.shell.notify(kind, {**context, "role": role.value}, recipient=recipient)


class ClockedPart:
    """A part of the claim workflow that acts through the shell and the clocks (claim.py makes each one)."""

    def __init__(self, shell: Shell, clocks: Clocks) -> None:
        self.shell = shell
        self.clocks = clocks

    @property
    def s(self) -> ClaimState:
        return self.shell.s
