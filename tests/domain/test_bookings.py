"""Booking decisions: what each status allows, and a rejection says why."""

from __future__ import annotations

import pytest

from api.domain.bookings import MOVES, check_booking_move
from api.domain.enums import BookingStatus
from api.domain.releases import RuleViolation

B = BookingStatus


@pytest.mark.parametrize(("current", "target"), [
    (B.REQUESTED, B.APPROVED), (B.REQUESTED, B.REJECTED), (B.REQUESTED, B.CANCELLED),
    (B.APPROVED, B.CANCELLED)])
def test_a_requested_booking_is_decided_and_an_approved_one_can_still_be_cancelled(
        current: BookingStatus, target: BookingStatus) -> None:
    check_booking_move(current, target, reason="agreed")


@pytest.mark.parametrize(("current", "target"), [
    (current, target) for current in B for target in B
    if target not in MOVES[current] and target is not B.REQUESTED])
def test_every_other_decision_is_refused_in_words(current: BookingStatus,
                                                 target: BookingStatus) -> None:
    with pytest.raises(RuleViolation, match=f"that is {current.name.lower()}"):
        check_booking_move(current, target, reason="agreed")


def test_nothing_goes_back_to_requested_and_final_states_stay_final() -> None:
    assert all(B.REQUESTED not in targets for targets in MOVES.values())
    assert MOVES[B.REJECTED] == MOVES[B.CANCELLED] == frozenset()


def test_a_rejection_without_a_reason_is_refused() -> None:
    with pytest.raises(RuleViolation, match="say why") as refused:
        check_booking_move(B.REQUESTED, B.REJECTED, reason="   ")
    assert refused.value.field == "reason"
