"""One change state machine for every ITSM, in canonical states.

The moves are the union of what ServiceNow's change models and Remedy's
process flow allow in one step, so the hub refuses only what no ITSM would
take; each connector still walks its own intermediate states and may refuse
a move its own model lacks (an emergency change in ServiceNow skips ASSESS).
"""

from __future__ import annotations

from collections.abc import Mapping

from api.domain.releases import RuleViolation
from connectors.records import ChangeState

C = ChangeState

_WORKING = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW)

TRANSITIONS: Mapping[ChangeState, frozenset[ChangeState]] = {
    # Standard changes go straight to SCHEDULED, emergency ones skip ASSESS.
    C.NEW: frozenset({C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.ON_HOLD, C.CANCELED}),
    C.ASSESS: frozenset({C.AUTHORIZE, C.NEW, C.REJECTED, C.ON_HOLD, C.CANCELED}),
    C.AUTHORIZE: frozenset({C.SCHEDULED, C.NEW, C.REJECTED, C.ON_HOLD, C.CANCELED}),
    C.SCHEDULED: frozenset({C.IMPLEMENT, C.ON_HOLD, C.CANCELED}),
    C.IMPLEMENT: frozenset({C.REVIEW, C.ON_HOLD, C.CANCELED}),
    C.REVIEW: frozenset({C.CLOSED, C.ON_HOLD, C.CANCELED}),
    # A held change resumes wherever it was held, which only the ITSM knows.
    C.ON_HOLD: frozenset({*_WORKING, C.CANCELED}),
    # Remedy lets a rejected change be reworked from Draft.
    C.REJECTED: frozenset({C.NEW, C.CANCELED}),
    C.CLOSED: frozenset(),
    C.CANCELED: frozenset(),
}

_OPEN = frozenset({*_WORKING, C.ON_HOLD})


def is_open(state: ChangeState) -> bool:
    """Still in play: not closed, cancelled or rejected (a rejection needs rework first)."""
    return state in _OPEN


def check_change_transition(current: ChangeState, target: ChangeState) -> None:
    if target is current:
        raise RuleViolation(f"the change request is already {current.name}", "to")
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(sorted(s.name for s in allowed)) or "none (final)"
        raise RuleViolation(
            f"cannot move a change request from {current.name} to {target.name}; "
            f"allowed from {current.name}: {names}",
            "to",
        )
