"""What a deployment report does to the changes and releases it concerns: rules, no I/O.

A report from the production environment moves each linked change along the
implementation steps: in progress to IMPLEMENT, success to REVIEW; a failure
leaves a work note. A deployment report never approves a change: only a
change the ITSM has authorized is moved on, and never backwards. A success
also moves a DEPLOYING release to DEPLOYED (and only from DEPLOYING).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from api.domain.enums import ReleaseStatus
from api.domain.gates import authorizes_deployment
from connectors.records import ChangeRecord, ChangeState, DeploymentState
from connectors.webhooks import DeploymentEvent

# The forward path a change walks; a deployment never moves a change backwards.
LIFECYCLE = (ChangeState.NEW, ChangeState.ASSESS, ChangeState.AUTHORIZE, ChangeState.SCHEDULED,
             ChangeState.IMPLEMENT, ChangeState.REVIEW, ChangeState.CLOSED)
CHANGE_TARGETS = {DeploymentState.IN_PROGRESS: ChangeState.IMPLEMENT,
                  DeploymentState.SUCCESS: ChangeState.REVIEW}
NOTED_STATES = frozenset({DeploymentState.FAILURE})


def concerns_production(event: DeploymentEvent, production_environment: str) -> bool:
    """Only deployments to the production environment move changes and releases."""
    return event.environment == production_environment


def already_reached(current: ChangeState, target: ChangeState) -> bool:
    """True when the change is at or past `target` on the forward path (nothing to do)."""
    if current not in LIFECYCLE:
        return False
    return LIFECYCLE.index(current) >= LIFECYCLE.index(target)


def needs_change_record(state: DeploymentState) -> bool:
    """Whether deciding the change's step needs its current state from the ITSM."""
    return state in CHANGE_TARGETS


class Action(enum.Enum):
    NOTE = "NOTE"  # leave a work note on the change
    MOVE = "MOVE"  # move the change to `target`, with a note
    NOTHING = "NOTHING"  # nothing to do; `outcome` says why
    REFUSE = "REFUSE"  # the change may not be moved; `outcome` says why


@dataclass(frozen=True, slots=True)
class ChangeStep:
    action: Action
    target: ChangeState | None = None
    outcome: str = ""
    not_found: bool = False


def change_step(state: DeploymentState, change: ChangeRecord | None) -> ChangeStep:
    """What a deployment in `state` does to a linked change (`change` as the ITSM has it,
    needed only when `needs_change_record(state)`)."""
    if state in NOTED_STATES:
        return ChangeStep(Action.NOTE, outcome="noted")
    target = CHANGE_TARGETS.get(state)
    if target is None:
        return ChangeStep(Action.NOTHING, outcome="unchanged")
    if change is None:
        return ChangeStep(Action.REFUSE, target, "the change does not exist upstream",
                          not_found=True)
    if already_reached(change.state, target):
        return ChangeStep(Action.NOTHING, target, f"already {change.state.name}")
    if not authorizes_deployment(change):
        # A deployment report never approves a change: only the ITSM's board does.
        return ChangeStep(Action.REFUSE, target,
                          f"change {change.number} is {change.state_label} and not "
                          "authorized; the deployment does not move it")
    return ChangeStep(Action.MOVE, target)


def release_step(state: DeploymentState) -> tuple[ReleaseStatus, ReleaseStatus] | None:
    """(from, to) for the releases deployed, when the report moves them at all."""
    if state is DeploymentState.SUCCESS:
        return ReleaseStatus.DEPLOYING, ReleaseStatus.DEPLOYED
    return None


def deployment_note(event: DeploymentEvent) -> str:
    """The work note and audit reason a report leaves, in the reporter's terms."""
    said = f": {event.detail}" if event.detail else ""
    return (f"{event.reporter} reports deployment {event.deployment_id} of {event.repository} "
            f"{event.ref} to {event.environment}: {event.state_label}{said}")
