"""Release rules that need no I/O: the status machine, windows, hierarchy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from api.domain.enums import ReleaseStatus
from api.domain.words import plain

S = ReleaseStatus

OPEN_STATUSES = frozenset({S.PLANNED, S.IN_PROGRESS, S.READY, S.DEPLOYING})

# Forward along the pipeline, one step at a time; CANCELLED from any open state.
# DEPLOYING -> READY is the rollback of an aborted deployment.
TRANSITIONS: Mapping[ReleaseStatus, frozenset[ReleaseStatus]] = {
    S.PLANNED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.READY, S.CANCELLED}),
    S.READY: frozenset({S.DEPLOYING, S.IN_PROGRESS, S.CANCELLED}),
    S.DEPLOYING: frozenset({S.DEPLOYED, S.READY, S.CANCELLED}),
    S.DEPLOYED: frozenset(),
    S.CANCELLED: frozenset(),
}


class RuleViolation(ValueError):
    """A rule refused the change; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_transition(current: ReleaseStatus, target: ReleaseStatus) -> None:
    if target == current:
        raise RuleViolation(f"the release is already {plain(current.name)}", "to")
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(plain(s.name) for s in TRANSITIONS[current])) \
            or "none (it is final)"
        raise RuleViolation(
            f"cannot move a release from {plain(current.name)} to {plain(target.name)}; "
            f"from {plain(current.name)} it can move to: {allowed}",
            "to",
        )


@dataclass(frozen=True, slots=True)
class TransitionOption:
    """One status a release could be moved to, as the status machine sees it from here.

    `reason` says why a refused move is refused. `gated` says the move also has to
    pass the release gates (live facts, evaluated when the move is made, not here).
    """

    to: ReleaseStatus
    allowed: bool
    reason: str | None
    gated: bool


def available_transitions(current: ReleaseStatus) -> list[TransitionOption]:
    """Every status, in pipeline order, with whether the machine allows it from `current`.

    The one source of the status machine for every client (the dashboard draws its
    buttons from this); `check_transition` is the same rule applied to one move.
    """
    options: list[TransitionOption] = []
    for target in ReleaseStatus:
        try:
            check_transition(current, target)
        except RuleViolation as exc:
            options.append(TransitionOption(target, False, str(exc), gated(target)))
        else:
            options.append(TransitionOption(target, True, None, gated(target)))
    return options


def check_window(start: datetime | None, end: datetime | None, *,
                 start_field: str = "windowStart", end_field: str = "windowEnd") -> None:
    if (start is None) != (end is None):
        missing = start_field if start is None else end_field
        raise RuleViolation(f"{missing} is required when the other end of the window is set",
                            missing)
    if start is not None and end is not None and end <= start:
        raise RuleViolation(f"{end_field} ({end.isoformat()}) must be after "
                            f"{start_field} ({start.isoformat()})", end_field)


def check_parent(release_id: int | None, parent_id: int | None,
                 parents: Mapping[int, int | None]) -> None:
    """Refuse a parent that is the release itself or one of its descendants.

    ``parents`` maps release id to parent id for (at least) the chain above
    ``parent_id``.
    """
    if parent_id is None or release_id is None:
        return
    seen: set[int] = set()
    node: int | None = parent_id
    while node is not None and node not in seen:
        if node == release_id:
            raise RuleViolation("parent would make a cycle: a release cannot be its own "
                                "ancestor", "parentId")
        seen.add(node)
        node = parents.get(node)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals [start, end) overlap."""
    return a_start < b_end and b_start < a_end


def holds(outer_start: datetime, outer_end: datetime, inner_start: datetime,
          inner_end: datetime) -> bool:
    """The outer window holds the inner one whole (a change's approved window, a release's)."""
    return outer_start <= inner_start and inner_end <= outer_end


OVERRIDE_REASON_MIN_LENGTH = 10


def gated(target: ReleaseStatus) -> bool:
    """Entering DEPLOYING passes the release gates, or needs an override."""
    return target is S.DEPLOYING


def check_override_reason(reason: str) -> str:
    """An override of failed gates is written down; returns the reason as it is recorded."""
    reason = reason.strip()
    if len(reason) < OVERRIDE_REASON_MIN_LENGTH:
        raise RuleViolation(f"an override needs a written reason (at least "
                            f"{OVERRIDE_REASON_MIN_LENGTH} characters)", "override.reason")
    return reason
