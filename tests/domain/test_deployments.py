"""What a deployment report does to a linked change and its release: rules without I/O."""

from __future__ import annotations

import pytest

from api.domain.deployments import (
    Action,
    change_step,
    concerns_production,
    deployment_note,
    needs_change_record,
    release_step,
)
from api.domain.enums import ReleaseStatus
from connectors.base import (
    ApprovalState,
    ChangeRecord,
    ChangeState,
    ChangeType,
    DeploymentState,
)
from connectors.webhooks import DeploymentEvent


def change(state: ChangeState, approval: ApprovalState = ApprovalState.APPROVED
           ) -> ChangeRecord:
    return ChangeRecord(source="itsm", number="C1", upstream_id="1", title="t", url="u",
                        state=state, state_label=state.name.title(), type=ChangeType.NORMAL,
                        approval=approval)


def event(state: DeploymentState, environment: str = "production") -> DeploymentEvent:
    return DeploymentEvent(reporter="CI", repository="acme/shop", ref="v1.2.0",
                           environment=environment, state=state, state_label="done",
                           deployment_id="7", detail="rolled out")


@pytest.mark.parametrize(("state", "current", "target"), [
    (DeploymentState.IN_PROGRESS, ChangeState.SCHEDULED, ChangeState.IMPLEMENT),
    (DeploymentState.SUCCESS, ChangeState.SCHEDULED, ChangeState.REVIEW),
    (DeploymentState.SUCCESS, ChangeState.IMPLEMENT, ChangeState.REVIEW),
])
def test_an_authorized_change_moves_on_along_the_implementation_steps(
        state: DeploymentState, current: ChangeState, target: ChangeState) -> None:
    step = change_step(state, change(current))
    assert (step.action, step.target) == (Action.MOVE, target)


def test_a_deployment_report_never_approves_a_change() -> None:
    for approval in (ApprovalState.NOT_REQUESTED, ApprovalState.REQUESTED):
        step = change_step(DeploymentState.SUCCESS, change(ChangeState.NEW, approval))
        assert step.action is Action.REFUSE
        assert "not authorized" in step.outcome


def test_a_change_at_or_past_the_target_is_left_alone() -> None:
    step = change_step(DeploymentState.IN_PROGRESS, change(ChangeState.REVIEW))
    assert (step.action, step.outcome) == (Action.NOTHING, "already REVIEW")


def test_a_failure_leaves_a_note_without_reading_the_change() -> None:
    assert not needs_change_record(DeploymentState.FAILURE)
    assert change_step(DeploymentState.FAILURE, None).action is Action.NOTE


def test_pending_and_inactive_reports_change_nothing() -> None:
    for state in (DeploymentState.PENDING, DeploymentState.INACTIVE):
        assert change_step(state, None).action is Action.NOTHING
        assert release_step(state) is None


def test_a_missing_change_is_refused_as_not_found() -> None:
    step = change_step(DeploymentState.SUCCESS, None)
    assert step.action is Action.REFUSE and step.not_found


def test_only_a_success_moves_the_release_and_only_from_deploying() -> None:
    assert release_step(DeploymentState.SUCCESS) == (ReleaseStatus.DEPLOYING,
                                                     ReleaseStatus.DEPLOYED)
    assert release_step(DeploymentState.IN_PROGRESS) is None


def test_only_the_production_environment_counts() -> None:
    assert concerns_production(event(DeploymentState.SUCCESS), "production")
    assert not concerns_production(event(DeploymentState.SUCCESS, "staging"), "production")


def test_the_note_says_who_reported_what() -> None:
    assert deployment_note(event(DeploymentState.SUCCESS)) == (
        "CI reports deployment 7 of acme/shop v1.2.0 to production: done: rolled out")
