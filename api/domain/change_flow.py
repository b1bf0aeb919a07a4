"""One change state machine for every ITSM, in canonical states.

The moves are the union of what the ITSMs' change models and process flows
allow in one step, so the hub refuses only what no ITSM would take; each
connector still walks its own intermediate states and may refuse a move its
own model lacks (an emergency change may skip ASSESS).
"""

from __future__ import annotations

from collections.abc import Mapping

from api.domain.releases import RuleViolation
from connectors.records import ApprovalState, ChangeState

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
    # Some ITSMs let a rejected change be reworked from its first state.
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


# --- what the hub itself may do to a change ---------------------------------------------
#
# Approval belongs to the ITSM's change board. The hub moves a change only
# along steps that grant nothing: into assessment, to ask for approval, back
# to New, on hold, cancelled; and along the implementation steps once the
# ITSM reports the change approved. It never advances a change whose
# approvers are still being asked, since that step is theirs.

# States only an approved change may be put in: reaching them is what approval allows.
NEEDS_APPROVAL = frozenset({C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED})
# Forward order of the working states, to tell "advancing" from "going back".
_ORDER = {state: rank for rank, state in enumerate(
    (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED))}


def hub_moves(current: ChangeState, approval: ApprovalState) -> frozenset[ChangeState]:
    """The one-step moves the hub may make, given the state and approval the ITSM reports."""
    return frozenset(s for s in TRANSITIONS[current] if _refusal(current, approval, s) is None)


def _refusal(current: ChangeState, approval: ApprovalState, target: ChangeState) -> str | None:
    if target in NEEDS_APPROVAL and approval is not ApprovalState.APPROVED:
        return (f"only an approved change may be {target.name} and the ITSM reports "
                f"approval {approval.name}")
    if (approval is ApprovalState.REQUESTED and current in _ORDER and target in _ORDER
            and _ORDER[target] > _ORDER[current]):
        return "its approvers are being asked and advancing it is their decision"
    return None


def check_hub_move(current: ChangeState, approval: ApprovalState,
                   target: ChangeState) -> None:
    """Refuse a move that would approve a change, naming the moves the hub may make.

    Only approval is judged here; whether the ITSM's model has a way to the
    target is the connector's to say (it walks the steps, never an approval one).
    Raises RuleViolation.
    """
    why = _refusal(current, approval, target)
    if why is None:
        return
    names = ", ".join(sorted(s.name for s in hub_moves(current, approval))) or "none"
    raise RuleViolation(
        f"Heatshield does not approve changes: it cannot move a change request from "
        f"{current.name} to {target.name}, since {why}; approval comes from the ITSM's "
        f"change board. Allowed from {current.name} now: {names}", "input.state")
