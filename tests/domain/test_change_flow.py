"""The ITSM-neutral change state machine: every canonical move, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from api.domain.change_flow import check_change_transition, check_hub_move, hub_moves, is_open
from api.domain.releases import RuleViolation
from connectors.base import ApprovalState as A
from connectors.base import ChangeState as C

# The specification, written out by hand: what one step may do from each state.
ALLOWED: dict[C, set[C]] = {
    C.NEW: {C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.ON_HOLD, C.CANCELED},
    C.ASSESS: {C.AUTHORIZE, C.NEW, C.REJECTED, C.ON_HOLD, C.CANCELED},
    C.AUTHORIZE: {C.SCHEDULED, C.NEW, C.REJECTED, C.ON_HOLD, C.CANCELED},
    C.SCHEDULED: {C.IMPLEMENT, C.ON_HOLD, C.CANCELED},
    C.IMPLEMENT: {C.REVIEW, C.ON_HOLD, C.CANCELED},
    C.REVIEW: {C.CLOSED, C.ON_HOLD, C.CANCELED},
    C.ON_HOLD: {C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CANCELED},
    C.REJECTED: {C.NEW, C.CANCELED},
    C.CLOSED: set(),
    C.CANCELED: set(),
}
PAIRS = [(a, b) for a, b in itertools.product(C, C) if a is not b]


@pytest.mark.parametrize(("current", "target"),
                         [p for p in PAIRS if p[1] in ALLOWED[p[0]]],
                         ids=lambda s: s.name)
def test_an_allowed_move_passes(current: C, target: C) -> None:
    check_change_transition(current, target)


@pytest.mark.parametrize(("current", "target"),
                         [p for p in PAIRS if p[1] not in ALLOWED[p[0]]],
                         ids=lambda s: s.name)
def test_a_move_no_itsm_allows_is_refused_naming_both_states_and_the_to_field(
        current: C, target: C) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_change_transition(current, target)
    assert refused.value.field == "to"
    assert f"from {current.name} to {target.name}" in str(refused.value)


@pytest.mark.parametrize("state", list(C), ids=lambda s: s.name)
def test_moving_to_the_same_state_is_refused(state: C) -> None:
    with pytest.raises(RuleViolation, match=f"already {state.name}"):
        check_change_transition(state, state)


@pytest.mark.parametrize("state", [C.CLOSED, C.CANCELED], ids=lambda s: s.name)
def test_a_finished_change_says_it_has_no_moves_left(state: C) -> None:
    with pytest.raises(RuleViolation, match=r"none \(final\)"):
        check_change_transition(state, C.NEW)


def test_a_refusal_lists_the_moves_that_are_allowed() -> None:
    with pytest.raises(RuleViolation,
                       match="allowed from SCHEDULED: CANCELED, IMPLEMENT, ON_HOLD"):
        check_change_transition(C.SCHEDULED, C.CLOSED)


def test_open_changes_are_those_still_in_play() -> None:
    assert {s for s in C if is_open(s)} == {
        C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.ON_HOLD}


# --- the hub never approves ----------------------------------------------------------------

GRANTED_BY_APPROVAL = {C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED}
NOT_APPROVED = [A.NOT_REQUESTED, A.REQUESTED, A.REJECTED]


@pytest.mark.parametrize(("current", "approval", "target"), [
    (current, approval, target) for current, approval, target
    in itertools.product(C, NOT_APPROVED, sorted(GRANTED_BY_APPROVAL, key=lambda s: s.name))
    if target is not current], ids=lambda s: s.name)
def test_without_approval_the_hub_never_moves_a_change_where_approval_takes_it(
        current: C, approval: A, target: C) -> None:
    with pytest.raises(RuleViolation, match="does not approve") as refused:
        check_hub_move(current, approval, target)
    assert refused.value.field == "input.state"
    assert target not in hub_moves(current, approval)


@pytest.mark.parametrize(("current", "target"), [
    (C.NEW, C.ASSESS), (C.ASSESS, C.AUTHORIZE), (C.NEW, C.AUTHORIZE), (C.AUTHORIZE, C.NEW),
    (C.ASSESS, C.CANCELED), (C.AUTHORIZE, C.ON_HOLD), (C.REJECTED, C.NEW),
])
def test_moves_that_grant_nothing_are_the_hubs_to_make(current: C, target: C) -> None:
    check_hub_move(current, A.NOT_REQUESTED, target)


@pytest.mark.parametrize(("current", "target"), [
    (C.ASSESS, C.AUTHORIZE), (C.NEW, C.ASSESS), (C.NEW, C.AUTHORIZE)])
def test_while_approvers_are_asked_the_hub_does_not_advance_the_change(
        current: C, target: C) -> None:
    with pytest.raises(RuleViolation, match="approvers are being asked"):
        check_hub_move(current, A.REQUESTED, target)
    check_hub_move(current, A.REQUESTED, C.CANCELED)


@pytest.mark.parametrize(("current", "target"), [
    (C.AUTHORIZE, C.SCHEDULED), (C.SCHEDULED, C.IMPLEMENT), (C.IMPLEMENT, C.REVIEW),
    (C.REVIEW, C.CLOSED), (C.AUTHORIZE, C.CLOSED)])
def test_once_the_itsm_approved_it_the_hub_may_implement(current: C, target: C) -> None:
    check_hub_move(current, A.APPROVED, target)


def test_a_refusal_names_the_moves_the_hub_may_make() -> None:
    with pytest.raises(RuleViolation,
                       match="Allowed from AUTHORIZE now: CANCELED, NEW, ON_HOLD, REJECTED"):
        check_hub_move(C.AUTHORIZE, A.REQUESTED, C.SCHEDULED)
