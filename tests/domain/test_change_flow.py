"""The ITSM-neutral change state machine: every canonical move, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from api.domain.change_flow import check_change_transition, is_open
from api.domain.releases import RuleViolation
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
