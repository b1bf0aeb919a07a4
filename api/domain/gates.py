"""Gates a release must pass to enter DEPLOYING, and the one blocker rule.

Every gate says why it passed or failed, and a gate whose source could not be
read fails: a deployment must never slip through on missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from api.domain.facts import BlackoutFacts, ReleaseFacts, as_utc, format_utc, format_window
from api.domain.releases import holds, overlaps
from api.domain.words import approval_word, change_state_word
from connectors.records import (
    ApprovalState,
    ChangeRecord,
    ChangeState,
    ChangeType,
    WorkItem,
    WorkStatus,
)

CHANGE_APPROVED = "change_approved"
BLACKOUT = "blackout"
BLOCKERS = "blockers"

# Approved and waiting for, or in, implementation.
_AUTHORIZING_STATES = frozenset({ChangeState.SCHEDULED, ChangeState.IMPLEMENT})
# Still before implementation, where an approval on record is enough.
_PRE_IMPLEMENTATION = frozenset({ChangeState.NEW, ChangeState.ASSESS, ChangeState.AUTHORIZE})


@dataclass(frozen=True, slots=True)
class BlockerRule:
    """Which unfinished items block a release; configurable per organisation."""

    priorities: frozenset[str] = frozenset({"highest", "blocker", "critical"})  # casefolded
    statuses: frozenset[WorkStatus] = frozenset({WorkStatus.TODO, WorkStatus.IN_PROGRESS})
    labels: frozenset[str] = frozenset()  # statusLabel words that block whatever the priority

    def is_blocker(self, item: WorkItem) -> bool:
        """Open (by `statuses`) and either of a blocking priority or in a blocking status label."""
        if item.status not in self.statuses:
            return False
        if item.status_label.casefold() in {w.casefold() for w in self.labels}:
            return True
        priority = getattr(item, "priority", None)  # only tracker issues carry one
        return isinstance(priority, str) and priority.casefold() in \
            {p.casefold() for p in self.priorities}

    def blockers(self, items: Sequence[WorkItem]) -> list[WorkItem]:
        return [i for i in items if self.is_blocker(i)]


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str  # "change_approved", "blackout", "blockers"
    passed: bool
    reason: str


def authorizes_deployment(change: ChangeRecord) -> bool:
    """Scheduled or implementing, or approved before implementation; never a closed,
    cancelled, rejected, held or already-reviewed change."""
    if change.state in _AUTHORIZING_STATES:
        return True
    return change.state in _PRE_IMPLEMENTATION and change.approval is ApprovalState.APPROVED


def _count(n: int, noun: str) -> str:
    """'1 open blocker', '3 open blockers': people read words, never 'blocker(s)'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def describe_change(change: ChangeRecord) -> str:
    """The change in words: its ITSM's own state word, and where its approval stands."""
    return (f"{change.number} is {change_state_word(change.state)} ({change.state_label}), "
            f"{approval_word(change.approval)}")


def blackouts_overlapping(release: ReleaseFacts, start: datetime | None, end: datetime | None,
                          blackouts: Sequence[BlackoutFacts]) -> list[BlackoutFacts]:
    """Blackouts in the release's scope whose time overlaps [start, end); none without a window."""
    if start is None or end is None:
        return []
    return [b for b in blackouts
            if b.covers(release) and overlaps(start, end, b.start, b.end)]


def describe_blackout(blackout: BlackoutFacts) -> str:
    scope = ", ".join([*(blackout.tiers or ("every tier",)),
                       *(blackout.applications or ("every application",))])
    return (f"{blackout.name} ({format_utc(blackout.start)} to {format_utc(blackout.end)}, "
            f"{scope}): {blackout.reason}")


def blackout_warnings(release: ReleaseFacts, start: datetime | None, end: datetime | None,
                      blackouts: Sequence[BlackoutFacts]) -> list[str]:
    """What to tell the requester before a change whose window falls in a blackout is sent."""
    return [f"the planned window falls in blackout window {describe_blackout(b)}"
            for b in blackouts_overlapping(release, start, end, blackouts)]


def holds_window(change: ChangeRecord, release: ReleaseFacts) -> bool:
    """Whether the change's planned window holds the release's (unknown either: it does).

    An approval is for a window: a release moved past its change's window deploys when
    nobody approved, until the change is moved too (and, in most ITSMs, approved again)."""
    start, end = change.planned_start, change.planned_end
    if start is None or end is None or release.window_start is None \
            or release.window_end is None:
        return True
    return holds(as_utc(start), as_utc(end), as_utc(release.window_start),
                 as_utc(release.window_end))


def _change_gate(release: ReleaseFacts, changes: Sequence[ChangeRecord], changes_known: bool,
                 change_type: ChangeType, pre_approved_standard: bool) -> GateResult:
    if change_type is ChangeType.STANDARD and pre_approved_standard:
        return GateResult(CHANGE_APPROVED, True,
                          "pre-approved standard change: no approval needed")
    if not changes_known:
        return GateResult(CHANGE_APPROVED, False,
                          "change requests could not be read from their source, so no "
                          "approval can be confirmed")
    if not changes:
        return GateResult(CHANGE_APPROVED, False, "no change request is linked to the release")
    approved = [c for c in changes if authorizes_deployment(c)]
    covering = [c for c in approved if holds_window(c, release)]
    if covering:
        return GateResult(CHANGE_APPROVED, True, "; ".join(map(describe_change, covering)))
    if approved:
        window = format_window(release.window_start, release.window_end)
        return GateResult(CHANGE_APPROVED, False, "; ".join(
            f"{c.number} is approved for {format_window(c.planned_start, c.planned_end)}, "
            f"which does not hold the release's window {window}" for c in approved)
            + ": move the change's window (its ITSM may ask for approval again) or the "
              "release's")
    return GateResult(CHANGE_APPROVED, False,
                      "no approved or scheduled change request: "
                      + "; ".join(map(describe_change, changes)))


def _blackout_gate(release: ReleaseFacts, blackouts: Sequence[BlackoutFacts]) -> GateResult:
    if release.window_start is None or release.window_end is None:
        return GateResult(BLACKOUT, False,
                          "the release has no window, so blackout windows cannot be checked")
    hits = blackouts_overlapping(release, release.window_start, release.window_end, blackouts)
    if hits:
        return GateResult(BLACKOUT, False, "the release window overlaps blackout window "
                          + "; ".join(map(describe_blackout, hits)))
    window = format_window(release.window_start, release.window_end)
    return GateResult(BLACKOUT, True,
                      f"no blackout window covers {window} for these applications and tiers")


def _describe_item(item: WorkItem) -> str:
    priority = getattr(item, "priority", None)
    detail = f"{priority}, {item.status_label}" if priority else item.status_label
    return f"{item.key} ({detail})"


def _blocker_gate(items: Sequence[WorkItem], items_known: bool, rule: BlockerRule
                  ) -> GateResult:
    if not items_known:
        return GateResult(BLOCKERS, False,
                          "work items could not be read from every source, so open blockers "
                          "cannot be ruled out")
    found = rule.blockers(items)
    if found:
        return GateResult(BLOCKERS, False, f"{_count(len(found), 'open blocker')}: "
                          + ", ".join(map(_describe_item, found)))
    return GateResult(BLOCKERS, True,
                      f"no open blockers among {_count(len(items), 'work item')}")


def evaluate_gates(release: ReleaseFacts, *, changes: Sequence[ChangeRecord],
                   changes_known: bool, items: Sequence[WorkItem], items_known: bool,
                   blackouts: Sequence[BlackoutFacts], change_type: ChangeType,
                   pre_approved_standard: bool, rule: BlockerRule = BlockerRule()
                   ) -> list[GateResult]:
    """The gates for entering DEPLOYING, always all three, in a fixed order."""
    return [
        _change_gate(release, changes, changes_known, change_type, pre_approved_standard),
        _blackout_gate(release, blackouts),
        _blocker_gate(items, items_known, rule),
    ]
