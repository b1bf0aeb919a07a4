"""Deployment plans: dependencies never loop, an activity runs only after what it needs,
and the plan's steps become the change request's implementation and backout plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.domain.compose import compose_change
from api.domain.enums import ActivityStatus
from api.domain.facts import AppFacts, ReleaseFacts
from api.domain.plans import (
    ActivityFacts,
    Move,
    RunbookStep,
    backout_plan,
    check_dependencies,
    check_move,
    implementation_plan,
    ordered,
)
from api.domain.releases import RuleViolation

S = ActivityStatus


def plan(*statuses: ActivityStatus, deps: dict[int, tuple[int, ...]] | None = None
         ) -> list[ActivityFacts]:
    deps = deps or {}
    return [ActivityFacts(i, f"step {i}", status, deps.get(i, ()))
            for i, status in enumerate(statuses, start=1)]


def test_dependencies_within_the_plan_and_without_loops_are_accepted() -> None:
    check_dependencies(plan(S.NOT_STARTED, S.NOT_STARTED, S.NOT_STARTED,
                            deps={2: (1,), 3: (1, 2)}))


@pytest.mark.parametrize(("deps", "words"), [
    ({1: (1,)}, "cannot depend on itself"),
    ({1: (9,)}, "not in this plan"),
    ({1: (3,), 2: (1,), 3: (2,)}, "would loop"),
])
def test_a_dependency_on_itself_outside_the_plan_or_in_a_loop_is_refused(
        deps: dict[int, tuple[int, ...]], words: str) -> None:
    with pytest.raises(RuleViolation, match=words) as refused:
        check_dependencies(plan(S.NOT_STARTED, S.NOT_STARTED, S.NOT_STARTED, deps=deps))
    assert refused.value.field == "dependsOn"


def test_a_loop_is_named_step_by_step() -> None:
    with pytest.raises(RuleViolation) as refused:
        check_dependencies(plan(S.NOT_STARTED, S.NOT_STARTED, deps={1: (2,), 2: (1,)}))
    assert '"step 1" -> "step 2" -> "step 1"' in str(refused.value)


def test_an_activity_cannot_start_before_what_it_depends_on_is_done_or_skipped() -> None:
    steps = plan(S.IN_PROGRESS, S.NOT_STARTED, deps={2: (1,)})
    with pytest.raises(RuleViolation, match=r'before "step 1" \(in progress\) is done'):
        check_move(steps[1], Move.START, steps)
    done = plan(S.DONE, S.NOT_STARTED, deps={2: (1,)})
    assert check_move(done[1], Move.START, done) is S.IN_PROGRESS
    skipped = plan(S.SKIPPED, S.NOT_STARTED, deps={2: (1,)})
    assert check_move(skipped[1], Move.START, skipped) is S.IN_PROGRESS


@pytest.mark.parametrize(("status", "move", "to"), [
    (S.NOT_STARTED, Move.START, S.IN_PROGRESS),
    (S.IN_PROGRESS, Move.COMPLETE, S.DONE),
    (S.IN_PROGRESS, Move.FAIL, S.FAILED),
    (S.FAILED, Move.START, S.IN_PROGRESS),
    (S.NOT_STARTED, Move.SKIP, S.SKIPPED),
    (S.FAILED, Move.SKIP, S.SKIPPED),
])
def test_the_moves_of_a_live_run(status: ActivityStatus, move: Move, to: ActivityStatus
                                 ) -> None:
    steps = plan(status)
    assert check_move(steps[0], move, steps, note="why") is to


@pytest.mark.parametrize(("status", "move"), [
    (S.NOT_STARTED, Move.COMPLETE), (S.DONE, Move.START), (S.DONE, Move.SKIP),
    (S.IN_PROGRESS, Move.SKIP), (S.SKIPPED, Move.FAIL), (S.IN_PROGRESS, Move.START),
])
def test_moves_out_of_order_are_refused_saying_what_the_activity_is(
        status: ActivityStatus, move: Move) -> None:
    steps = plan(status)
    with pytest.raises(RuleViolation, match=f"it is {status.name.replace('_', ' ').lower()}"):
        check_move(steps[0], move, steps, note="why")


def test_failing_or_skipping_needs_a_reason() -> None:
    steps = plan(S.IN_PROGRESS, S.NOT_STARTED)
    with pytest.raises(RuleViolation, match="say why") as refused:
        check_move(steps[0], Move.FAIL, steps, note="  ")
    assert refused.value.field == "note"
    with pytest.raises(RuleViolation, match="say why"):
        check_move(steps[1], Move.SKIP, steps)


def test_a_new_order_names_every_activity_once() -> None:
    steps = plan(S.NOT_STARTED, S.NOT_STARTED, S.NOT_STARTED)
    assert ordered(steps, [3, 1, 2]) == [3, 1, 2]
    for bad in ([1, 2], [1, 2, 2], [1, 2, 3, 4]):
        with pytest.raises(RuleViolation, match="exactly once"):
            ordered(steps, bad)


STEPS = (
    RunbookStep("Back up", "Take a backup", "", "production",
                datetime(2027, 3, 1, 20, 0, tzinfo=UTC), 30),
    RunbookStep("Deploy", "Run the pipeline", "Redeploy the previous version", "production"),
    RunbookStep("Migrate", "Apply the scripts", "Run the down-migrations"),
)


def test_the_backout_plan_undoes_the_last_step_first_and_skips_steps_without_one() -> None:
    assert backout_plan(STEPS) == ("1. Migrate: Run the down-migrations\n"
                                   "2. Deploy [production]: Redeploy the previous version")
    assert implementation_plan(STEPS).splitlines()[0] == (
        "1. Back up [production] (2027-03-01 20:00 to 20:30 UTC): Take a backup")


def test_the_composed_change_carries_the_plan_and_its_backout() -> None:
    release = ReleaseFacts(key="PAY-1", name="Payments 1", type="PROJECT", status="PLANNED",
                           window_start=None, window_end=None,
                           applications=(AppFacts("PAY", "Payments", ("pay-db",)),),
                           runbook=STEPS)
    change = compose_change(release, [])
    assert change.backout_plan == backout_plan(STEPS)
    assert "Implementation plan\n1. Back up [production]" in change.description
    without = compose_change(ReleaseFacts(key="PAY-2", name="Payments 2", type="PROJECT",
                                          status="PLANNED", window_start=None, window_end=None),
                             [])
    assert "Implementation plan" not in without.description
    assert without.backout_plan  # the configured default
