"""The release status machine as clients are served it, and the window a raised change fixes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.domain.compose import ChangeOverrides, once_raised
from api.domain.enums import ReleaseStatus
from api.domain.releases import RuleViolation, available_transitions, check_transition
from connectors.base import ApprovalState, ChangeRecord, ChangeState, ChangeType, RiskLevel


@pytest.mark.parametrize("current", list(ReleaseStatus))
def test_available_transitions_agree_with_the_check_for_every_pair(
        current: ReleaseStatus) -> None:
    options = available_transitions(current)
    assert [o.to for o in options] == list(ReleaseStatus)
    for option in options:
        try:
            check_transition(current, option.to)
        except RuleViolation as exc:
            assert (option.allowed, option.reason) == (False, str(exc))
        else:
            assert (option.allowed, option.reason) == (True, None)
        assert option.gated is (option.to is ReleaseStatus.DEPLOYING)


def test_a_final_status_allows_nothing() -> None:
    for final in (ReleaseStatus.DEPLOYED, ReleaseStatus.CANCELLED):
        assert not any(o.allowed for o in available_transitions(final))


def _change(state: ChangeState, start: datetime, risk: RiskLevel) -> ChangeRecord:
    return ChangeRecord(source="itsm", number=f"CHG-{state.name}", upstream_id="1", title="t",
                        url="https://itsm.example/1", state=state, state_label=state.name,
                        type=ChangeType.NORMAL, approval=ApprovalState.REQUESTED, risk=risk,
                        planned_start=start, planned_end=start.replace(hour=start.hour + 2))


def test_once_raised_the_open_change_fixes_risk_and_window() -> None:
    closed = _change(ChangeState.CLOSED, datetime(2030, 1, 1, 8, tzinfo=UTC), RiskLevel.LOW)
    open_ = _change(ChangeState.SCHEDULED, datetime(2030, 2, 1, 8, tzinfo=UTC), RiskLevel.HIGH)
    assert once_raised([closed, open_]) == ChangeOverrides(
        risk=RiskLevel.HIGH, planned_start=open_.planned_start, planned_end=open_.planned_end)


def test_with_no_open_change_nothing_is_fixed() -> None:
    closed = _change(ChangeState.CANCELED, datetime(2030, 1, 1, 8, tzinfo=UTC), RiskLevel.LOW)
    assert once_raised([closed]) == ChangeOverrides()
