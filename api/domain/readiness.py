"""Readiness of a release from its live work items and change requests (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from api.domain.gates import BlockerRule
from connectors.base import ApprovalState, ChangeRecord, ChangeState, WorkItem, WorkStatus

#: Priorities that make an unfinished item block a release; the rule lives in `gates`.
DEFAULT_BLOCKER_PRIORITIES = BlockerRule().priorities
APPROVED_STATES = frozenset({ChangeState.SCHEDULED, ChangeState.IMPLEMENT, ChangeState.REVIEW,
                             ChangeState.CLOSED})


@dataclass(frozen=True, slots=True)
class SourceCount:
    source: str
    total: int
    done: int
    stale: bool
    available: bool


@dataclass(frozen=True, slots=True)
class ReadinessSummary:
    total: int
    done: int
    ratio: float
    per_source: list[SourceCount]
    blockers: list[WorkItem]
    change_approved: bool
    complete: bool


def is_blocker(item: WorkItem, priorities: frozenset[str] = DEFAULT_BLOCKER_PRIORITIES) -> bool:
    """Kept for callers that only configure priorities; `BlockerRule` decides."""
    return BlockerRule(priorities=priorities).is_blocker(item)


def change_is_approved(change: ChangeRecord) -> bool:
    return change.approval is ApprovalState.APPROVED or change.state in APPROVED_STATES


def summarize(per_source: Sequence[tuple[str, Sequence[WorkItem], bool, bool]],
              changes: Iterable[ChangeRecord],
              blocker_priorities: frozenset[str] = DEFAULT_BLOCKER_PRIORITIES,
              rule: BlockerRule | None = None) -> ReadinessSummary:
    """`per_source` holds (source, items, stale, available) for each source read.

    `rule` (when given) replaces `blocker_priorities`, so readiness and the
    blockers gate count the same items.
    """
    rule = rule or BlockerRule(priorities=blocker_priorities)
    counts: list[SourceCount] = []
    blockers: list[WorkItem] = []
    for source, items, stale, available in per_source:
        done = sum(1 for i in items if i.status is WorkStatus.DONE)
        counts.append(SourceCount(source, len(items), done, stale, available))
        blockers += rule.blockers(items)
    total = sum(c.total for c in counts)
    done = sum(c.done for c in counts)
    return ReadinessSummary(
        total=total, done=done, ratio=1.0 if total == 0 else round(done / total, 4),
        per_source=counts, blockers=blockers,
        change_approved=any(change_is_approved(c) for c in changes),
        complete=all(c.available for c in counts))
