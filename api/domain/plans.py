"""Deployment plans (runbooks): the rules of their dependencies and of running them live.

An activity depends on others of the same plan; the dependencies may not loop.
Running a plan moves each activity through its statuses:

    NOT_STARTED --start--> IN_PROGRESS --complete--> DONE
                                       --fail-----> FAILED --start--> IN_PROGRESS (retry)
    NOT_STARTED or FAILED --skip--> SKIPPED

An activity starts only once everything it depends on is DONE or SKIPPED. What a
plan says feeds the change request: its implementation steps in order, its
backout steps in reverse order (the last thing done is the first undone).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.domain.enums import ActivityStatus
from api.domain.releases import RuleViolation

S = ActivityStatus

FINISHED = frozenset({S.DONE, S.SKIPPED})  # what lets a dependent activity start


class Move(enum.Enum):
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    SKIP = "skip"


MOVES: Mapping[Move, tuple[frozenset[ActivityStatus], ActivityStatus]] = {
    Move.START: (frozenset({S.NOT_STARTED, S.FAILED}), S.IN_PROGRESS),
    Move.COMPLETE: (frozenset({S.IN_PROGRESS}), S.DONE),
    Move.FAIL: (frozenset({S.IN_PROGRESS}), S.FAILED),
    Move.SKIP: (frozenset({S.NOT_STARTED, S.FAILED}), S.SKIPPED),
}

# Reasons a failure or a skip must carry, so the run can be read afterwards.
NOTE_REQUIRED = frozenset({Move.FAIL, Move.SKIP})


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    id: int
    title: str
    status: ActivityStatus
    depends_on: tuple[int, ...] = ()


def _words(status: ActivityStatus) -> str:
    return status.name.replace("_", " ").lower()


def check_dependencies(activities: Sequence[ActivityFacts]) -> None:
    """Refuse a dependency on an activity outside the plan, on itself, or in a loop."""
    by_id = {a.id: a for a in activities}
    for activity in activities:
        for dep in activity.depends_on:
            if dep == activity.id:
                raise RuleViolation(f"\"{activity.title}\" cannot depend on itself", "dependsOn")
            if dep not in by_id:
                raise RuleViolation(f"\"{activity.title}\" depends on an activity that is not "
                                    "in this plan", "dependsOn")
    # Depth-first search with colours; the loop found is named in the refusal.
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(by_id, white)
    for root in by_id:
        if colour[root] != white:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path: list[int] = [root]
        colour[root] = grey
        while stack:
            node, index = stack[-1]
            deps = by_id[node].depends_on
            if index < len(deps):
                stack[-1] = (node, index + 1)
                nxt = deps[index]
                if colour[nxt] == grey:
                    loop = [*path[path.index(nxt):], nxt]
                    names = " -> ".join(f"\"{by_id[i].title}\"" for i in loop)
                    raise RuleViolation(f"the dependencies would loop: {names}", "dependsOn")
                if colour[nxt] == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()


def check_move(activity: ActivityFacts, move: Move, plan: Sequence[ActivityFacts],
               note: str = "") -> ActivityStatus:
    """The status `move` takes `activity` to, or why it may not."""
    allowed_from, target = MOVES[move]
    if activity.status not in allowed_from:
        raise RuleViolation(
            f"cannot {move.value} \"{activity.title}\": it is {_words(activity.status)} "
            f"(only {' or '.join(sorted(_words(s) for s in allowed_from))} activities can)",
            "id")
    if move in NOTE_REQUIRED and not note.strip():
        raise RuleViolation(f"say why you {move.value} \"{activity.title}\"", "note")
    if move is Move.START:
        by_id = {a.id: a for a in plan}
        waiting = [by_id[d] for d in activity.depends_on
                   if d in by_id and by_id[d].status not in FINISHED]
        if waiting:
            names = ", ".join(f"\"{w.title}\" ({_words(w.status)})" for w in waiting)
            raise RuleViolation(f"cannot start \"{activity.title}\" before {names} is done",
                                "id")
    return target


def ordered(activities: Sequence[ActivityFacts], order: Sequence[int]) -> list[int]:
    """Check a new order names each activity of the plan exactly once; returns it."""
    ids = [a.id for a in activities]
    if sorted(order) != sorted(ids) or len(set(order)) != len(order):
        raise RuleViolation("the new order must name every activity of the plan exactly once",
                            "activityIds")
    return list(order)


@dataclass(frozen=True, slots=True)
class RunbookStep:
    """What the change request says about one activity."""

    title: str
    implementation: str = ""
    backout: str = ""
    environment: str = ""
    planned_start: datetime | None = None
    duration_minutes: int = 0


def _line(number: int, step: RunbookStep, text: str) -> str:
    where = f" [{step.environment}]" if step.environment else ""
    when = ""
    if step.planned_start is not None:
        end = step.planned_start + timedelta(minutes=step.duration_minutes)
        when = f" ({step.planned_start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC)"
    body = f": {text.strip()}" if text.strip() else ""
    return f"{number}. {step.title}{where}{when}{body}"


def implementation_plan(steps: Sequence[RunbookStep]) -> str:
    """The plan's steps in order, as a change board reads them."""
    return "\n".join(_line(n, s, s.implementation) for n, s in enumerate(steps, start=1))


def backout_plan(steps: Sequence[RunbookStep]) -> str:
    """How to undo the plan: its backout steps, last activity first."""
    undo = [s for s in reversed(steps) if s.backout.strip()]
    return "\n".join(_line(n, s, s.backout) for n, s in enumerate(undo, start=1))
