"""The claim's decider (docs/decision-core.md): every command either yields events or is refused with a reason.

    state = INITIAL
    for command in commands:
        events = decide(state, command)   # raises Refused, changing nothing
        state = fold(state, events)

The workflow is the shell around it: it sends commands in (updates, activity results, timers), records the events
and runs their effects (payments, letters). Tests drive the same functions with hypothesis, thousands of
sequences a second.
"""

from core.claim.commands import Command
from core.claim.decisions import Refused, decide
from core.claim.events import Event
from core.claim.evolution import evolve, fold
from core.claim.state import INITIAL, ClaimCore

__all__ = ["INITIAL", "ClaimCore", "Command", "Event", "Refused", "decide", "evolve", "fold"]
