"""Gates on entering DEPLOYING: an authorising change, no blackout, no open blockers.

Each gate fails with its reason, passes when satisfied, and fails when its
source could not be read.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from api.domain.facts import BlackoutFacts, ReleaseFacts
from api.domain.gates import (
    BlockerRule,
    GateResult,
    blackout_warnings,
    blackouts_overlapping,
    evaluate_gates,
)
from api.domain.readiness import summarize
from connectors.base import (
    ApprovalState,
    ChangeRecord,
    ChangeState,
    ChangeType,
    TrackerIssue,
    WorkItem,
    WorkStatus,
)
from tests.domain import all_items, change_records, release_facts, tracker_issues

READY = "PAY-2026.11"  # change waiting in AUTHORIZE, no open Highest items
DEPLOYING = "IDN-2026.11"  # change in IMPLEMENT, its work done
IN_PROGRESS = "RPT-2026.11"  # open Highest items


def gates(release: ReleaseFacts, *, changes: list[ChangeRecord] | None = None,
          changes_known: bool = True, items: list[WorkItem] | None = None,
          items_known: bool = True, blackouts: list[BlackoutFacts] | None = None,
          change_type: ChangeType = ChangeType.NORMAL, pre_approved_standard: bool = False,
          rule: BlockerRule = BlockerRule()) -> dict[str, GateResult]:
    results = evaluate_gates(
        release, changes=changes or [], changes_known=changes_known, items=items or [],
        items_known=items_known, blackouts=blackouts or [], change_type=change_type,
        pre_approved_standard=pre_approved_standard, rule=rule)
    return {g.name: g for g in results}


def change_in(state: ChangeState, approval: ApprovalState) -> ChangeRecord:
    return dataclasses.replace(change_records(READY)[0], state=state, approval=approval,
                               state_label=state.name.title())


def blackout(release: ReleaseFacts, *, tiers: tuple[str, ...] = (),
             applications: tuple[str, ...] = (), shift: timedelta = timedelta(0),
             hours: float = 1) -> BlackoutFacts:
    assert release.window_start is not None
    start = release.window_start + shift
    return BlackoutFacts(name="Peak trading", start=start, end=start + timedelta(hours=hours),
                         reason="Black Friday sales", tiers=tiers, applications=applications)


@pytest.fixture
def release() -> ReleaseFacts:
    return release_facts(READY)


def test_the_three_gates_come_in_a_fixed_order(release: ReleaseFacts) -> None:
    results = evaluate_gates(release, changes=[], changes_known=True, items=[],
                             items_known=True, blackouts=[], change_type=ChangeType.NORMAL,
                             pre_approved_standard=False)
    assert [g.name for g in results] == ["change_approved", "blackout", "blockers"]


# --------------------------------------------------------------------------- change


def test_a_release_without_a_change_request_fails_the_change_gate(
        release: ReleaseFacts) -> None:
    gate = gates(release)["change_approved"]
    assert (gate.passed, gate.reason) == (False, "no change request is linked to the release")


def test_a_change_still_awaiting_authorisation_fails_naming_it(release: ReleaseFacts) -> None:
    changes = change_records(READY)
    gate = gates(release, changes=changes)["change_approved"]
    assert not gate.passed
    assert gate.reason == (f"no approved or scheduled change request: {changes[0].number} is "
                           "awaiting authorization (Authorize), awaiting approval")


def test_the_seeded_change_in_implementation_passes() -> None:
    changes = change_records(DEPLOYING)
    gate = gates(release_facts(DEPLOYING), changes=changes)["change_approved"]
    assert gate.passed
    assert gate.reason == f"{changes[0].number} is being implemented (Implement), approved"


@pytest.mark.parametrize(("state", "approval"), [
    (ChangeState.SCHEDULED, ApprovalState.APPROVED),
    (ChangeState.SCHEDULED, ApprovalState.NOT_REQUESTED),
    (ChangeState.IMPLEMENT, ApprovalState.APPROVED),
    (ChangeState.AUTHORIZE, ApprovalState.APPROVED),
    (ChangeState.NEW, ApprovalState.APPROVED),
], ids=lambda v: v.name)
def test_a_scheduled_or_approved_change_passes(release: ReleaseFacts, state: ChangeState,
                                               approval: ApprovalState) -> None:
    assert gates(release, changes=[change_in(state, approval)])["change_approved"].passed


@pytest.mark.parametrize("state", [ChangeState.REVIEW, ChangeState.CLOSED,
                                   ChangeState.CANCELED, ChangeState.REJECTED,
                                   ChangeState.ON_HOLD], ids=lambda v: v.name)
def test_a_finished_held_or_refused_change_does_not_authorise_even_if_once_approved(
        release: ReleaseFacts, state: ChangeState) -> None:
    gate = gates(release, changes=[change_in(state, ApprovalState.APPROVED)])["change_approved"]
    assert not gate.passed
    words = {ChangeState.REVIEW: "in review", ChangeState.CLOSED: "closed",
             ChangeState.CANCELED: "cancelled", ChangeState.REJECTED: "rejected",
             ChangeState.ON_HOLD: "on hold"}
    assert f"is {words[state]} (" in gate.reason  # in words, the ITSM's own in brackets


def test_one_authorising_change_among_several_is_enough(release: ReleaseFacts) -> None:
    changes = [change_in(ChangeState.CANCELED, ApprovalState.NOT_REQUESTED),
               change_in(ChangeState.SCHEDULED, ApprovalState.APPROVED)]
    assert gates(release, changes=changes)["change_approved"].passed


@pytest.mark.parametrize("margin", [timedelta(0), timedelta(hours=1)], ids=["same", "wider"])
def test_an_approved_change_authorises_a_release_inside_its_window(
        release: ReleaseFacts, margin: timedelta) -> None:
    assert release.window_start and release.window_end
    change = dataclasses.replace(change_in(ChangeState.SCHEDULED, ApprovalState.APPROVED),
                                 planned_start=release.window_start - margin,
                                 planned_end=release.window_end + margin)
    assert gates(release, changes=[change])["change_approved"].passed


@pytest.mark.parametrize("shift", [timedelta(days=4), timedelta(hours=-1), timedelta(hours=1)],
                         ids=["moved a few days", "starts before", "ends after"])
def test_a_release_moved_past_its_approved_changes_window_fails_naming_both_windows(
        release: ReleaseFacts, shift: timedelta) -> None:
    # An approval is for a window: deploying outside it deploys when nobody approved.
    assert release.window_start and release.window_end
    change = change_in(ChangeState.SCHEDULED, ApprovalState.APPROVED)
    moved = dataclasses.replace(release, window_start=release.window_start + shift,
                                window_end=release.window_end + shift)
    gate = gates(moved, changes=[change])["change_approved"]
    assert not gate.passed
    assert gate.reason.startswith(f"{change.number} is approved for 2026-11-16 05:00 UTC to "
                                  f"2026-11-16 09:00 UTC (4h), which does not hold the "
                                  f"release's window ")
    assert "move the change's window" in gate.reason


def test_an_unscheduled_release_or_change_is_not_held_to_a_window(
        release: ReleaseFacts) -> None:
    change = change_in(ChangeState.SCHEDULED, ApprovalState.APPROVED)
    unplanned = dataclasses.replace(change, planned_start=None, planned_end=None)
    unscheduled = dataclasses.replace(release, window_start=None, window_end=None)
    assert gates(release, changes=[unplanned])["change_approved"].passed
    assert gates(unscheduled, changes=[change])["change_approved"].passed


def test_unreadable_change_requests_fail_the_gate_even_if_one_was_approved(
        release: ReleaseFacts) -> None:
    gate = gates(release, changes=[change_in(ChangeState.SCHEDULED, ApprovalState.APPROVED)],
                 changes_known=False)["change_approved"]
    assert not gate.passed
    assert "could not be read" in gate.reason


def test_a_pre_approved_standard_change_needs_no_change_request(release: ReleaseFacts) -> None:
    gate = gates(release, changes_known=False, change_type=ChangeType.STANDARD,
                 pre_approved_standard=True)["change_approved"]
    assert (gate.passed, gate.reason) == (True,
                                          "pre-approved standard change: no approval needed")


@pytest.mark.parametrize(("change_type", "pre_approved"), [
    (ChangeType.STANDARD, False), (ChangeType.NORMAL, True), (ChangeType.EMERGENCY, True)])
def test_only_a_standard_type_that_is_pre_approved_skips_the_change(
        release: ReleaseFacts, change_type: ChangeType, pre_approved: bool) -> None:
    assert not gates(release, change_type=change_type,
                     pre_approved_standard=pre_approved)["change_approved"].passed


# --------------------------------------------------------------------------- blackout


@pytest.mark.parametrize(("tiers", "applications", "covered"), [
    ((), (), True),
    (("PRODUCTION",), (), True),
    (("production",), ("pay",), True),
    (("STAGING",), (), False),
    ((), ("PAY",), True),
    ((), ("CHK",), False),
    (("PRODUCTION",), ("CHK",), False),
    (("STAGING", "PRODUCTION"), ("CHK", "PAY"), True),
], ids=["everything", "its-tier", "its-tier-and-app", "other-tier", "its-app", "other-app",
        "its-tier-other-app", "lists-including-both"])
def test_a_blackout_applies_when_its_tiers_and_its_applications_cover_the_release(
        release: ReleaseFacts, tiers: tuple[str, ...], applications: tuple[str, ...],
        covered: bool) -> None:
    window = blackout(release, tiers=tiers, applications=applications)
    assert bool(blackouts_overlapping(release, release.window_start, release.window_end,
                                      [window])) is covered
    assert gates(release, blackouts=[window])["blackout"].passed is not covered


@pytest.mark.parametrize(("shift", "hours", "hit"), [
    (timedelta(hours=-2), 2, False),  # ends as the release starts
    (timedelta(hours=-2), 2.5, True),
    (timedelta(hours=3), 5, True),
    (timedelta(hours=4), 1, False),  # starts as the release ends
    (timedelta(hours=-1), 8, True),  # spans the whole window
], ids=["ends-at-start", "overlaps-start", "overlaps-end", "starts-at-end", "spans"])
def test_blackout_time_overlap_is_half_open(release: ReleaseFacts, shift: timedelta,
                                            hours: float, hit: bool) -> None:
    window = blackout(release, shift=shift, hours=hours)
    assert bool(blackouts_overlapping(release, release.window_start, release.window_end,
                                      [window])) is hit


def test_the_blackout_gate_names_the_window_its_scope_and_reason(release: ReleaseFacts) -> None:
    window = blackout(release, tiers=("PRODUCTION",))
    gate = gates(release, blackouts=[window])["blackout"]
    assert not gate.passed
    assert gate.reason == ("the release window overlaps blackout window Peak trading "
                           "(2026-11-16 05:00 UTC to 2026-11-16 06:00 UTC, PRODUCTION, "
                           "every application): Black Friday sales")


def test_the_blackout_gate_passes_and_says_which_window_it_checked(
        release: ReleaseFacts) -> None:
    gate = gates(release, blackouts=[blackout(release, shift=timedelta(days=1))])["blackout"]
    assert gate.passed
    assert gate.reason == ("no blackout window covers 2026-11-16 05:00 UTC to "
                           "2026-11-16 09:00 UTC (4h) for these applications and tiers")


def test_a_release_without_a_window_fails_the_blackout_gate(release: ReleaseFacts) -> None:
    unscheduled = dataclasses.replace(release, window_start=None, window_end=None)
    gate = gates(unscheduled)["blackout"]
    assert (gate.passed, gate.reason) == (
        False, "the release has no window, so blackout windows cannot be checked")


def test_a_change_planned_in_a_blackout_warns_before_it_is_sent(release: ReleaseFacts) -> None:
    window = blackout(release, shift=timedelta(days=2), applications=("PAY",))
    planned: datetime = window.start + timedelta(minutes=30)
    assert blackout_warnings(release, release.window_start, release.window_end, [window]) == []
    warnings = blackout_warnings(release, planned, planned + timedelta(hours=1), [window])
    assert warnings == ["the planned window falls in blackout window Peak trading "
                        "(2026-11-18 05:00 UTC to 2026-11-18 06:00 UTC, every tier, PAY): "
                        "Black Friday sales"]


# --------------------------------------------------------------------------- blockers


def issue(key: str, priority: str, status: WorkStatus, label: str) -> TrackerIssue:
    return TrackerIssue(source="jira", key=key, title=key, url="", kind="Bug", status=status,
                        status_label=label, assignee=None,
                        updated_at=datetime(2026, 11, 1), issue_type="Bug", priority=priority)


def test_open_highest_priority_items_fail_the_blocker_gate_naming_them() -> None:
    items = all_items(IN_PROGRESS)
    expected = [i for i in tracker_issues(IN_PROGRESS)
                if i.priority == "Highest" and i.status is not WorkStatus.DONE]
    assert expected  # the seeded release really has some
    gate = gates(release_facts(IN_PROGRESS), items=items)["blockers"]
    assert not gate.passed
    noun = "open blocker" if len(expected) == 1 else "open blockers"
    assert gate.reason == f"{len(expected)} {noun}: " + ", ".join(
        f"{i.key} (Highest, {i.status_label})" for i in expected)


def test_a_release_without_open_blockers_passes(release: ReleaseFacts) -> None:
    items = all_items(READY)
    gate = gates(release, items=items)["blockers"]
    assert (gate.passed, gate.reason) == (True,
                                          f"no open blockers among {len(items)} work items")


def test_unreadable_work_items_fail_the_blocker_gate(release: ReleaseFacts) -> None:
    gate = gates(release, items=[], items_known=False)["blockers"]
    assert not gate.passed
    assert "could not be read" in gate.reason


ITEMS = [issue("B-1", "Highest", WorkStatus.TODO, "To Do"),
         issue("B-2", "High", WorkStatus.IN_PROGRESS, "In Progress"),
         issue("B-3", "Low", WorkStatus.IN_PROGRESS, "Blocked"),
         issue("B-4", "Critical", WorkStatus.DONE, "Done"),
         issue("B-5", "critical", WorkStatus.IN_PROGRESS, "In Review")]


@pytest.mark.parametrize(("rule", "keys"), [
    (BlockerRule(), ["B-1", "B-5"]),
    (BlockerRule(priorities=frozenset({"high", "highest"})), ["B-1", "B-2"]),
    (BlockerRule(statuses=frozenset({WorkStatus.IN_PROGRESS})), ["B-5"]),
    (BlockerRule(labels=frozenset({"blocked"})), ["B-1", "B-3", "B-5"]),
    (BlockerRule(statuses=frozenset({WorkStatus.TODO, WorkStatus.IN_PROGRESS,
                                     WorkStatus.DONE})), ["B-1", "B-4", "B-5"]),
], ids=["default", "priorities", "statuses", "status-labels", "done-counts-too"])
def test_which_items_block_is_configurable(rule: BlockerRule, keys: list[str]) -> None:
    assert [i.key for i in rule.blockers(ITEMS)] == keys
    assert gates(release_facts(READY), items=list(ITEMS),
                 rule=rule)["blockers"].passed is False


def test_readiness_counts_the_same_blockers_as_the_gate() -> None:
    rule = BlockerRule(labels=frozenset({"blocked"}))
    summary = summarize([("jira", ITEMS, False, True)], [], rule=rule)
    assert [i.key for i in summary.blockers] == ["B-1", "B-3", "B-5"]
    assert [i.key for i in summarize([("jira", ITEMS, False, True)], []).blockers] == [
        "B-1", "B-5"]
