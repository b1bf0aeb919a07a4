"""JIRA Software's boards and sprints over the demo world. Pure: no I/O.

Each project has one scrum board, and its team works in two-week sprints: six behind
the world's now, the active one, and two planned. Which sprint holds an issue follows
from the issue as it stands: work done was done in the sprint its last update fell in,
work started is in the active sprint, work not started waits in the backlog (no
sprint). Nothing is drawn from the world's generator, so the rest of the world stays
as it was, and an issue moved along its workflow moves sprint with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.sandbox.world import Application, World

SPRINT_DAYS = 14
CLOSED_SPRINTS = 6
FUTURE_SPRINTS = 2


@dataclass(frozen=True, slots=True)
class Board:
    id: int
    app: Application

    @property
    def name(self) -> str:
        return f"{self.app.key} board"


@dataclass(frozen=True, slots=True)
class Sprint:
    id: int
    board: Board
    number: int
    state: str  # closed | active | future
    start: datetime
    end: datetime

    @property
    def name(self) -> str:
        return f"{self.board.app.key} Sprint {self.number}"

    @property
    def goal(self) -> str:
        return f"Ship {self.board.app.name} work planned for these two weeks"


def boards(world: World) -> list[Board]:
    return [Board(index + 1, app) for index, app in enumerate(world.applications)]


def sprints(boards: list[Board], now: datetime) -> list[Sprint]:
    """Each board's sprints, oldest first: each starts on a Monday at 09:00 UTC."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=9, minute=0, second=0,
                                                           microsecond=0)
    if monday > now:
        monday -= timedelta(days=7)
    # The active sprint began on the Monday of an even ISO week.
    active_start = monday - timedelta(days=7 * (monday.isocalendar().week % 2))
    out: list[Sprint] = []
    for board in boards:
        for offset in range(-CLOSED_SPRINTS, FUTURE_SPRINTS + 1):
            start = active_start + timedelta(days=SPRINT_DAYS * offset)
            state = "closed" if offset < 0 else "active" if offset == 0 else "future"
            number = offset + CLOSED_SPRINTS + 1
            out.append(Sprint(board.id * 100 + number, board, number, state, start,
                              start + timedelta(days=SPRINT_DAYS)))
    return out


def sprint_of(sprints_of_board: list[Sprint], status_category: str,
              updated: datetime) -> Sprint | None:
    """The sprint an issue is in: see the module's docstring."""
    if status_category == "new":
        return None
    active = next(s for s in sprints_of_board if s.state == "active")
    if status_category != "done":
        return active
    return next((s for s in sprints_of_board if s.start <= updated < s.end and
                 s.state != "future"), active if updated >= active.start else None)
