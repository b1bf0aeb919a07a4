"""Readiness of a release from its live work items and change requests (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from api.domain.gates import BlockerRule, authorizes_deployment
from connectors.records import ChangeRecord, WorkItem, WorkStatus


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


def summarize(per_source: Sequence[tuple[str, Sequence[WorkItem], bool, bool]],
              changes: Iterable[ChangeRecord], rule: BlockerRule = BlockerRule()
              ) -> ReadinessSummary:
    """`per_source` holds (source, items, stale, available) for each source read.

    Blockers and approval follow the same rules as the deployment gates, so the
    readiness view and the gates never disagree.
    """
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
        change_approved=any(authorizes_deployment(c) for c in changes),
        complete=all(c.available for c in counts))
